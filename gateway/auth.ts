import { errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { createHash } from 'node:crypto';
import { LruCache, type CachedUser, type DocCache, type UserCache } from '../registry/view/cache.js';
import type { Snapshot } from '../registry/view/snapshot.js';
import { tenantHoldings, wholeVersions } from '../registry/view/tenant-holdings.js';
import { TOKEN_ALGORITHM, TOKEN_ISSUER } from '../registry/view/token-contract.js';
import { groupsIn, isOverride, userAclFor } from '../registry/view/user-acl.js';
import type { RequestContext } from './context.js';
import { ERRORS, type Denial } from './errors.js';
import type { Authenticated, Authenticator, TokenClaims } from './authenticator.js';
import type { GatewayUser } from './user.js';

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const SOAJS_TOKEN = /^[0-9a-f]{40}$/;

/** The last 32 characters: part of the signature for a JWT, unique enough to key a cache. */
function fingerprint(token: string): string {
  return token.length > 48 ? token.slice(-32) : token;
}

export interface AuthenticatorOptions {
  users: UserCache;
  /** Tokens imported from SOAJS (40 hex, opaque), accepted until they expire. */
  legacyTokens?: DocCache<'legacyToken'>;
  /** Verified tokens kept (each ~200 bytes). */
  maxTokens?: number;
  now?: () => number;
}

/**
 * Access tokens are verified once (ES256, `jose`) and kept in an LRU; every request then checks
 * expiry, revocation and tenant binding against the pinned snapshot, and takes the user from the
 * user cache: a warm request does no crypto and no I/O. Any failure denies.
 */
export class TokenAuthenticator implements Authenticator {
  readonly #users: UserCache;
  readonly #legacy: DocCache<'legacyToken'> | null;
  /** Keyed by `fingerprint(token)`: hashing a ~600-character JWT for every Map lookup cost more than verifying the cached answer. */
  readonly #verified: LruCache<string, TokenClaims>;
  readonly #rejected: LruCache<string, { token: string; denial: Denial }>;
  /** `${userId}:${userVersion}|${iKey}|${snapshotSerial}` → resolved user; versions and the build's serial make invalidation free. */
  readonly #resolved: LruCache<string, GatewayUser>;
  readonly #now: () => number;

  constructor(opts: AuthenticatorOptions) {
    this.#users = opts.users;
    this.#legacy = opts.legacyTokens ?? null;
    this.#verified = new LruCache(opts.maxTokens ?? 100_000);
    this.#rejected = new LruCache(10_000);
    this.#resolved = new LruCache(opts.maxTokens ?? 100_000);
    this.#now = opts.now ?? Date.now;
  }

  authenticate(token: string, ctx: RequestContext): Authenticated | Denial | Promise<Authenticated | Denial> {
    const fp = fingerprint(token);
    const claims = this.#verified.get(fp);
    if (claims !== undefined && claims.token === token) return this.#resolve(claims, ctx);
    const rejected = this.#rejected.get(fp);
    if (rejected !== undefined && rejected.token === token) return rejected.denial;
    if (this.#legacy !== null && SOAJS_TOKEN.test(token)) return this.#legacyToken(token, ctx);
    if (token.length > 4096 || !JWT_SHAPE.test(token)) return ERRORS.TOKEN_INVALID;
    return this.#verify(token, ctx.snapshot).then((r) => ('body' in r ? r : this.#resolve(r, ctx)));
  }

  /** Not kept in the verified-token cache: the legacy document's cache is evicted by a logout. */
  #legacyToken(token: string, ctx: RequestContext): Authenticated | Denial | Promise<Authenticated | Denial> {
    const id = createHash('sha256').update(token).digest('hex');
    const toClaims = (v: Awaited<ReturnType<DocCache<'legacyToken'>['lookup']>>): TokenClaims | Denial => {
      if (v === null || v.doc.type !== 'access') return ERRORS.TOKEN_INVALID;
      const d = v.doc;
      return { token, kid: null, sub: d.userId, tid: d.tenantId, env: d.env.toLowerCase(), jti: `legacy-${id.slice(0, 32)}`, ims: 0, expMs: d.expiresAt, passedIn: -1 };
    };
    let found: ReturnType<DocCache<'legacyToken'>['lookup']>;
    try {
      found = this.#legacy!.lookup(id);
    } catch {
      return ERRORS.REGISTRY_UNAVAILABLE;
    }
    if (found instanceof Promise) {
      return found.then(
        (v) => {
          const c = toClaims(v);
          return 'body' in c ? c : this.#resolve(c, ctx);
        },
        () => ERRORS.REGISTRY_UNAVAILABLE,
      );
    }
    const c = toClaims(found);
    return 'body' in c ? c : this.#resolve(c, ctx);
  }

  async #verify(token: string, snapshot: Snapshot): Promise<TokenClaims | Denial> {
    const getKey: JWTVerifyGetKey = (header) => {
      const key = header.kid === undefined ? undefined : snapshot.signingKeys.get(header.kid);
      if (key === undefined) throw new joseErrors.JWKSNoMatchingKey();
      return key;
    };
    try {
      const verified = await jwtVerify(token, getKey, { algorithms: [TOKEN_ALGORITHM], issuer: TOKEN_ISSUER, currentDate: new Date(this.#now()) });
      const { payload } = verified;
      const { sub, tid, env, jti, ims, exp } = payload as Record<string, unknown>;
      if (
        typeof sub !== 'string' ||
        typeof tid !== 'string' ||
        typeof env !== 'string' ||
        typeof jti !== 'string' ||
        typeof ims !== 'number' ||
        typeof exp !== 'number'
      ) {
        this.#rejected.set(fingerprint(token), { token, denial: ERRORS.TOKEN_INVALID });
        return ERRORS.TOKEN_INVALID;
      }
      const { protectedHeader } = verified;
      const claims: TokenClaims = { token, sub, tid, env, jti, ims, expMs: exp * 1000, kid: protectedHeader.kid ?? null, passedIn: -1 };
      this.#verified.set(fingerprint(token), claims);
      return claims;
    } catch (err) {
      const denial = err instanceof joseErrors.JWTExpired ? ERRORS.TOKEN_EXPIRED : ERRORS.TOKEN_INVALID;
      // An unknown kid may be a key this gateway's snapshot does not have yet (just created or
      // rotated): refuse now, but do not remember the refusal.
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) this.#rejected.set(fingerprint(token), { token, denial });
      return denial;
    }
  }

  #resolve(c: TokenClaims, ctx: RequestContext): Authenticated | Denial | Promise<Authenticated | Denial> {
    const snap = ctx.snapshot;
    if (c.expMs <= this.#now()) return ERRORS.TOKEN_EXPIRED;
    if (c.passedIn !== snap.serial) {
      if (c.env !== snap.env) return ERRORS.TOKEN_INVALID;
      if (c.kid !== null && !snap.signingKeys.has(c.kid)) return ERRORS.TOKEN_INVALID;
      if (snap.revokedTokens.has(c.jti)) return ERRORS.TOKEN_INVALID;
      const before = snap.revokedBefore.get(c.sub);
      if (before !== undefined && c.ims < before) return ERRORS.TOKEN_INVALID;
      c.passedIn = snap.serial;
    }
    if (ctx.key !== null && c.tid !== ctx.key.tenant.id) return ERRORS.USER_UNAUTHORIZED;
    let user: CachedUser | Promise<CachedUser>;
    try {
      user = this.#users.lookup(c.sub);
    } catch {
      return ERRORS.REGISTRY_UNAVAILABLE;
    }
    if (user instanceof Promise) {
      return user.then(
        (u) => this.#finish(u, c, ctx),
        () => ERRORS.REGISTRY_UNAVAILABLE,
      );
    }
    return this.#finish(user, c, ctx);
  }

  holds(claims: TokenClaims, userEntry: CachedUser): boolean {
    // Revocations, signing keys and env are the snapshot's: a caller reusing an answer compares snapshots itself.
    return claims.expMs > this.#now() && this.#users.peek(claims.sub) === userEntry;
  }

  #finish(entry: CachedUser, c: TokenClaims, ctx: RequestContext): Authenticated | Denial {
    const last = c.last;
    if (last !== undefined && last.entry === entry && last.key === ctx.key && last.serial === ctx.snapshot.serial) return last;
    const user = this.#finishSlow(entry, c, ctx);
    if ('body' in user) return user;
    // A legacy token's claims are rebuilt from its document on every use: nothing to hold on to.
    const found = { user, claims: c.kid === null ? null : c, entry, key: ctx.key, serial: ctx.snapshot.serial };
    c.last = found;
    return found;
  }

  #finishSlow(entry: CachedUser, c: TokenClaims, ctx: RequestContext): GatewayUser | Denial {
    if (entry === null) return ERRORS.USER_UNAUTHORIZED;
    const user = entry.doc;
    if (user.status !== 'active') return ERRORS.USER_UNAUTHORIZED;
    const key = ctx.key;
    const memo = `${user.id}:${entry.version}|${key?.iKey ?? c.tid}|${ctx.snapshot.serial}`;
    const cached = this.#resolved.get(memo);
    if (cached !== undefined) return cached;
    const groups = groupsIn(user, key?.tenant.id ?? c.tid);
    if (groups === null) return ERRORS.USER_UNAUTHORIZED;
    const acl = key === null ? null : userAclFor(user, groups, key, ctx.snapshot);
    const override = acl !== null && key !== null && isOverride(user, key);
    const resolved: GatewayUser = Object.freeze({
      id: user.id,
      username: user.username,
      firstName: user.firstName,
      lastName: user.lastName,
      email: user.email,
      groups: Object.freeze([...groups]),
      tenant: Object.freeze({ id: user.tenant.id, code: user.tenant.code }),
      profile: user.profile ?? null,
      acl,
      aclOverride: override,
      heldWhole: override ? wholeVersions(tenantHoldings(key!.tenant, ctx.snapshot), acl!) : null,
      config: (key === null ? undefined : user.config?.keys?.[key.iKey]?.config) ?? null,
      memo: new Map(),
    });
    this.#resolved.set(memo, resolved);
    return resolved;
  }
}
