import { createPrivateKey, createPublicKey, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { ConflictError, type Store } from '../../registry/store/types.js';
import type { SigningKey } from '../../registry/types.js';

export interface ActiveKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
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

async function generated(): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomBytes(12).toString('hex');
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
      const fresh = await generated();
      try {
        await store.put('signingKey', fresh, { ifVersion: 0 });
        wanted = fresh;
      } catch (err) {
        ignoreConflict(err);
        // Another process generated one at the same time: use the newest.
        wanted = (await store.list('signingKey')).map((v) => v.doc).sort((a, b) => b.createdAt - a.createdAt)[0]!;
      }
    }
  }
  return { kid: wanted.kid, privateKey: createPrivateKey({ key: wanted.privateJwk as JsonWebKey, format: 'jwk' }) };
}

function ignoreConflict(err: unknown): void {
  if (!(err instanceof ConflictError)) throw err;
}
