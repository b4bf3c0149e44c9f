import { createPrivateKey, createPublicKey, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { ConflictError, type Store } from '../../registry/control/store/types.js';
import type { SigningKey } from '../../registry/view/types.js';

export interface ActiveKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  /** As stored: what is written back into a store that lost it (an accepted store reset). */
  readonly stored: SigningKey;
}

async function storedFromPem(pem: string): Promise<SigningKey> {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('oauth.signingKeyFile must hold an EC P-256 private key (PKCS#8 PEM)');
  }
  const publicJwk = createPublicKey(privateKey).export({ format: 'jwk' }) as Record<string, unknown>;
  const kid = (await calculateJwkThumbprint(publicJwk as JsonWebKey & { kty: string })).slice(0, 32).replace(/[^A-Za-z0-9_-]/g, '');
  return {
    kid,
    alg: 'ES256',
    publicJwk: { ...publicJwk, kid, alg: 'ES256', use: 'sig' },
    privateJwk: privateKey.export({ format: 'jwk' }) as Record<string, unknown>,
    createdAt: Date.now(),
  };
}

/** The id of the key generated on an empty store; later keys (rotation, configured) get their own. */
const FIRST_KID = 'tessera-1';

async function generated(kid = randomBytes(12).toString('hex')): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  return {
    kid,
    alg: 'ES256',
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
    privateJwk: { ...(await exportJWK(privateKey)) },
    createdAt: Date.now(),
  };
}

/**
 * The key that signs new access tokens: the configured one (added to the store so every gateway can
 * verify it), else the newest stored key, else a new one generated and stored. Keys stay in the
 * store, so tokens survive restarts and every gateway reads the same public keys.
 */
export async function activeSigningKey(store: Store, keyFile?: string): Promise<ActiveKey> {
  let wanted: SigningKey | null = keyFile ? await storedFromPem(readFileSync(keyFile, 'utf8')) : null;
  const existing = (await store.list('signingKey')).map((v) => v.doc);
  if (wanted !== null) {
    const found = existing.find((k) => k.kid === wanted!.kid);
    if (found === undefined) await store.put('signingKey', wanted, { ifVersion: 0 }).catch(ignoreConflict);
  } else {
    wanted = existing.sort((a, b) => b.createdAt - a.createdAt)[0] ?? null;
    if (wanted === null) {
      // Several processes may start on an empty store at once: the first key takes a fixed id, so
      // the store's compare-and-set lets exactly one be written and the others read it.
      const fresh = await generated(FIRST_KID);
      try {
        await store.put('signingKey', fresh, { ifVersion: 0 });
        wanted = fresh;
      } catch (err) {
        ignoreConflict(err);
        wanted = (await store.get('signingKey', FIRST_KID))!.doc;
      }
    }
  }
  return { kid: wanted.kid, privateKey: createPrivateKey({ key: wanted.privateJwk as JsonWebKey, format: 'jwk' }), stored: wanted };
}

function ignoreConflict(err: unknown): void {
  if (!(err instanceof ConflictError)) throw err;
}
