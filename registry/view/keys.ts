import { hash, randomBytes } from 'node:crypto';

/** Ext keys are hex; anything else is answered 148 without being hashed. */
const EXT_KEY = /^[0-9a-f]{32,1024}$/;

export function isWellFormedExtKey(key: string): boolean {
  return EXT_KEY.test(key);
}

/** The only form in which an ext key is stored or indexed. */
export function hashExtKey(key: string): string {
  // One-shot crypto.hash: no Hash object per request (about half the cost of createHash here).
  return hash('sha256', key, 'hex');
}

/** Last characters of a key, enough to tell keys apart in a listing, too few to use. */
export function keyHint(key: string): string {
  return key.slice(-6);
}

export function newInternalKey(): string {
  return randomBytes(16).toString('hex');
}
