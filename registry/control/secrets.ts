import { randomBytes } from 'node:crypto';
import { ConflictError, type Store } from './store/types.js';

/** The id of the secret that signs `soajsinjectobj` (registry/inject-signature.ts). */
export const INJECT_SECRET_ID = 'inject-hmac';

/**
 * A deployment secret shared through the store: the configured value when given (it must then be
 * the same in every process), else the stored one, else a new one written with compare-and-set so
 * that processes starting at once on an empty store all end up with the same value.
 */
export async function sharedSecret(store: Store, id: string, configured?: string): Promise<Buffer> {
  if (configured !== undefined) return Buffer.from(configured, 'utf8');
  const found = await store.get('secret', id);
  if (found !== null) return Buffer.from(found.doc.value, 'base64url');
  const fresh = { id, value: randomBytes(32).toString('base64url'), createdAt: Date.now() };
  try {
    await store.put('secret', fresh, { ifVersion: 0 });
    return Buffer.from(fresh.value, 'base64url');
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    return Buffer.from((await store.get('secret', id))!.doc.value, 'base64url');
  }
}

/**
 * Writes a secret this process holds back into a store that lost it (after an accepted store
 * reset), so that a process starting later reads the one every running process uses; one already
 * stored wins.
 */
export async function restoreSecret(store: Store, id: string, value: Buffer): Promise<void> {
  try {
    await store.put('secret', { id, value: value.toString('base64url'), createdAt: Date.now() }, { ifVersion: 0 });
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
  }
}
