import { createHash } from 'node:crypto';
import { createLocalJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import type { Store } from '../../registry/control/store/types.js';
import { TOKEN_ALGORITHM, TOKEN_ISSUER } from '../../registry/view/token-contract.js';
import { errors } from '../kit/errors.js';

/** RFC 8693 §3 token type identifiers. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const REFRESH_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:refresh_token';
export type SubjectType = typeof ACCESS_TOKEN_TYPE | typeof REFRESH_TOKEN_TYPE;

/** What a subject token vouches for. */
export interface Subject {
  readonly type: SubjectType;
  readonly userId: string;
  /** The tenant the token is bound to. */
  readonly tenantId: string;
  /** When the subject token stops working, ms: what is issued in exchange never outlives it. */
  readonly expiresAt: number;
  /** A refresh subject's stored document: used up by the exchange, as by the refresh grant. */
  readonly stored?: { readonly kind: 'refreshToken' | 'legacyToken'; readonly id: string; readonly version: number };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
/** SOAJS's opaque tokens (40 hex), imported and honoured until they expire. */
const SOAJS_TOKEN = /^[0-9a-f]{40}$/;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * The subject token as the gateway would judge it (gateway/auth.ts), from the store rather than a
 * snapshot: our signature by a key still in the registry, our issuer, this env, not expired, not
 * revoked one by one (`jti:`) nor by a logout of every token of the user (`user:`). Refresh tokens
 * are looked up by hash, as the refresh grant does. Any doubt refuses.
 */
export async function verifySubject(store: Store, token: string, type: SubjectType, env: string, now: number): Promise<Subject> {
  if (type === REFRESH_TOKEN_TYPE) return refreshSubject(store, token, now);
  if (SOAJS_TOKEN.test(token)) {
    const doc = (await store.get('legacyToken', sha256(token)))?.doc;
    if (doc === undefined || doc.type !== 'access' || doc.env.toLowerCase() !== env) throw errors.invalidSubjectToken('not a valid access token');
    if (doc.expiresAt <= now) throw errors.invalidSubjectToken('it has expired');
    // A SOAJS token has no issue time: any logout of all the user's tokens covers it (as at the gateway).
    if ((await store.get('revocation', `user:${doc.userId}`))?.doc.before !== undefined) throw errors.invalidSubjectToken('it is revoked');
    return { type, userId: doc.userId, tenantId: doc.tenantId, expiresAt: doc.expiresAt };
  }
  if (token.length > 4096 || !JWT_SHAPE.test(token)) throw errors.invalidSubjectToken('not a valid access token');
  let payload: Record<string, unknown>;
  try {
    const jwks = createLocalJWKSet({ keys: (await store.list('signingKey')).map((k) => k.doc.publicJwk) });
    ({ payload } = await jwtVerify(token, jwks, { algorithms: [TOKEN_ALGORITHM], issuer: TOKEN_ISSUER, currentDate: new Date(now) }));
  } catch (err) {
    throw errors.invalidSubjectToken(err instanceof joseErrors.JWTExpired ? 'it has expired' : 'not a valid access token');
  }
  const { sub, tid, env: tokenEnv, jti, ims, exp } = payload;
  if (typeof sub !== 'string' || typeof tid !== 'string' || typeof jti !== 'string' || typeof ims !== 'number' || typeof exp !== 'number' || tokenEnv !== env) {
    throw errors.invalidSubjectToken('not a valid access token');
  }
  const [one, all] = await Promise.all([store.get('revocation', `jti:${jti}`), store.get('revocation', `user:${sub}`)]);
  if (one !== null || (all?.doc.before !== undefined && ims < all.doc.before)) throw errors.invalidSubjectToken('it is revoked');
  return { type, userId: sub, tenantId: tid, expiresAt: exp * 1000 };
}

async function refreshSubject(store: Store, token: string, now: number): Promise<Subject> {
  const kind = SOAJS_TOKEN.test(token) ? 'legacyToken' : 'refreshToken';
  const found = await store.get(kind, sha256(token));
  const doc = found?.doc;
  if (found === null || doc === undefined || ('type' in doc && doc.type !== 'refresh')) throw errors.invalidSubjectToken('not a valid refresh token');
  if (doc.expiresAt <= now) throw errors.invalidSubjectToken('it has expired');
  return { type: REFRESH_TOKEN_TYPE, userId: doc.userId, tenantId: doc.tenantId, expiresAt: doc.expiresAt, stored: { kind, id: doc.id, version: found.version } };
}
