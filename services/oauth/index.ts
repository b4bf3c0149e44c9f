import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { compactVerify, createLocalJWKSet, decodeJwt, SignJWT } from 'jose';
import { hashPassword, needsRehash, verifyPassword, UNUSABLE_HASH } from '../../registry/control/password.js';
import { ConflictError, type Store } from '../../registry/control/store/types.js';
import { TOKEN_ALGORITHM, TOKEN_ISSUER, type AccessTokenClaims } from '../../registry/view/token-contract.js';
import type { SigningKey, TenantRef, User } from '../../registry/view/types.js';
import { groupsIn } from '../../registry/view/user-acl.js';
import { auditId } from '../kit/audit-id.js';
import { fail, ok, ServiceError } from '../kit/envelope.js';
import { errors } from '../kit/errors.js';
import type { SoajsContext } from '../kit/inject.js';
import { baseOptions, startService, type RunningService, type ServiceBase, type ServiceRequest } from '../kit/server.js';
import { LoginThrottle, type ThrottleSettings } from './login-throttle.js';
import { str } from './params.js';
import { activeSigningKey, type ActiveKey } from './signing-keys.js';
import { ACCESS_TOKEN_TYPE } from './subject-token.js';
import { auditTenantChoice, chooseTenant, type ChosenTenant } from './tenant-choice.js';
import { TOKEN_EXCHANGE, tokenExchange, type IssueLimits } from './token-exchange.js';

export interface OauthOptions extends ServiceBase {
  store: Store;
  env: string;
  accessTokenSeconds: number;
  refreshTokenSeconds: number;
  signingKeyFile?: string;
  /** How often expired refresh tokens and revocations are swept, ms. */
  sweepIntervalMs?: number;
  /** Password guessing is slowed per username and per client address. */
  throttle: ThrottleSettings;
}


const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
/** SOAJS's opaque tokens (40 hex), imported as legacy tokens and honoured until they expire. */
const SOAJS_TOKEN = /^[0-9a-f]{40}$/;

function tenantOf(req: ServiceRequest): SoajsContext['tenant'] {
  // extKeyRequired: the kit has already refused calls without the gateway's context.
  return req.soajs!.tenant;
}

/** The client's address as the gateway saw it (signed context), else the socket's. */
function clientIp(req: ServiceRequest): string {
  return req.soajs?.geo.ip || req.raw.socket.remoteAddress || 'unknown';
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The bundled oauth service (SOAJS's routes): password and refresh grants issuing ES256 access
 * tokens bound to the key's tenant (or, for a member of several, the one it names: `tenant`),
 * RFC 8693 token exchange to switch tenants (token-exchange.ts), opaque single-use refresh tokens
 * stored hashed, logout and revocation, and the JWKS every gateway verifies with.
 */
export async function startOauth(opts: OauthOptions): Promise<RunningService & { readonly kid: string; readonly signingKey: SigningKey }> {
  const { store } = opts;
  const key: ActiveKey = await activeSigningKey(store, opts.signingKeyFile);
  const now = opts.now ?? Date.now;
  const throttle = new LoginThrottle(store, opts.throttle, now);
  const exchange = tokenExchange({ store, env: opts.env, now, issue });

  async function tenantSecret(tenantId: string): Promise<string> {
    const t = await store.get('tenant', tenantId);
    const secret = t?.doc.oauth?.secret;
    if (!secret) throw errors.missingSecret();
    return secret;
  }

  /** `Authorization: Basic base64(tenantId:secret)` is optional; when sent it must be this tenant's. */
  async function checkClient(req: ServiceRequest, tenantId: string): Promise<void> {
    const header = req.headers.authorization;
    if (header === undefined) return;
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/.exec(header);
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const ok =
      colon > 0 && decoded.slice(0, colon) === tenantId && safeEqual(decoded.slice(colon + 1), await tenantSecret(tenantId));
    if (!ok) throw errors.invalidClient();
  }

  /**
   * An access token bound to `tenant`, and a refresh token for it unless `limits.refreshExpiresAt`
   * is null. Limits only shorten: what a token exchange issues never outlives its subject.
   */
  async function issue(user: User, tenant: TenantRef, iKey: string, limits: IssueLimits = {}) {
    const at = now();
    const exp = Math.floor(Math.min(limits.accessExpiresAt ?? Infinity, at + opts.accessTokenSeconds * 1000) / 1000);
    const claims: AccessTokenClaims = { tid: tenant.id, tcode: tenant.code, env: opts.env, ims: at };
    const accessToken = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, kid: key.kid, typ: 'JWT' })
      .setIssuer(TOKEN_ISSUER)
      .setSubject(user.id)
      .setJti(randomBytes(16).toString('hex'))
      .setIssuedAt(Math.floor(at / 1000))
      .setExpirationTime(exp)
      .sign(key.privateKey);
    const json: Record<string, unknown> = { token_type: 'bearer', access_token: accessToken, expires_in: exp - Math.floor(at / 1000) };
    if (limits.refreshExpiresAt !== null) {
      const refresh = randomBytes(32).toString('hex');
      const expiresAt = Math.min(limits.refreshExpiresAt ?? Infinity, at + opts.refreshTokenSeconds * 1000);
      await store.put('refreshToken', { id: sha256(refresh), userId: user.id, tenantId: tenant.id, iKey, expiresAt, createdAt: at }, { ifVersion: 0 });
      json['refresh_token'] = refresh;
    }
    if (limits.issuedTokenType === true) json['issued_token_type'] = ACCESS_TOKEN_TYPE;
    json['tenant'] = { id: tenant.id, code: tenant.code };
    return { status: 200, headers: { 'cache-control': 'no-store', pragma: 'no-cache' }, json };
  }

  async function passwordGrant(req: ServiceRequest) {
    const tenant = tenantOf(req);
    const username = str(req.body, 'username');
    const password = str(req.body, 'password');
    if (username === null || password === null) {
      throw errors.badRequest('Missing parameters. "username" and "password" are required');
    }
    const ip = clientIp(req);
    const refusal = await throttle.check(username, ip);
    if (refusal !== null) {
      const err = errors.loginThrottled(refusal.by === 'ip' ? 'from this address' : 'for this username', refusal.retryAfter);
      return { status: err.status, headers: { 'retry-after': String(refusal.retryAfter), 'cache-control': 'no-store' }, json: fail(err.code, err.message) };
    }
    const found = await store.findUserByUsername(username);
    // Always pay for one scrypt: the answer's timing must not say whether the user exists.
    const valid = await verifyPassword(password, found?.doc.passwordHash ?? UNUSABLE_HASH);
    const user = found?.doc;
    if (!valid || user === undefined || user.status !== 'active' || groupsIn(user, tenant.id) === null) {
      const counted = await throttle.failed(username, ip);
      if (counted.throttled) await auditThrottled(tenant, username, ip, counted.user.count, counted.ip.count);
      throw errors.badCredentials();
    }
    await throttle.succeeded(username);
    if (needsRehash(user.passwordHash)) {
      // Imported from SOAJS (bcrypt): now that the password is known, keep a scrypt hash instead.
      await store.put('user', { ...user, passwordHash: await hashPassword(password) }, { ifVersion: found!.version }).catch(() => undefined);
    }
    const named = str(req.body, 'tenant');
    // Naming the key's own tenant is the plain login: SOAJS's rule, the key's tenant is the login tenant.
    if (named === null || named === tenant.id || named === tenant.code) return issue(user, tenant, tenant.key.iKey);
    const audit = { action: 'login-tenant-choice', user, from: tenant, to: named, via: tenant, ip } as const;
    let chosen: ChosenTenant;
    try {
      chosen = await chooseTenant(store, user, named);
    } catch (err) {
      if (err instanceof ServiceError) await auditTenantChoice(store, { ...audit, refused: err }, now());
      throw err;
    }
    await auditTenantChoice(store, audit, now());
    return issue(user, chosen, tenant.key.iKey);
  }

  /** Each failure past the free ones is audited: bounded, since each must wait longer than the last. */
  async function auditThrottled(tenant: SoajsContext['tenant'], username: string, ip: string, userFailures: number, ipFailures: number) {
    const ts = now();
    await store.put('audit', {
      id: auditId(ts),
      ts,
      actor: { userId: '', username, tenantId: tenant.id, tenantCode: tenant.code },
      action: 'login-throttled',
      resource: 'login',
      resourceId: username.toLowerCase().slice(0, 256),
      before: null,
      after: null,
      details: { ip, userFailures, ipFailures },
    });
  }

  async function refreshGrant(req: ServiceRequest) {
    const tenant = tenantOf(req);
    const token = str(req.body, 'refresh_token');
    if (token === null) throw errors.badRequest('Missing parameters. "refresh_token" is required');
    // A refresh token issued by SOAJS before the move is honoured the same way, then replaced by a Tessera pair.
    const kind = SOAJS_TOKEN.test(token) ? 'legacyToken' : 'refreshToken';
    const invalid = errors.invalidRefreshToken;
    const stored = await store.get(kind, sha256(token));
    const doc = stored?.doc;
    if (
      stored === null ||
      doc === undefined ||
      ('type' in doc && doc.type !== 'refresh') ||
      doc.expiresAt <= now() ||
      doc.tenantId !== tenant.id
    ) {
      throw invalid();
    }
    try {
      // Single use: of two concurrent refreshes with one token, one deletes it and the other conflicts.
      if (!(await store.delete(kind, doc.id, { ifVersion: stored.version }))) throw invalid();
    } catch (err) {
      if (err instanceof ConflictError) throw invalid();
      throw err;
    }
    const user = (await store.get('user', doc.userId))?.doc;
    if (user === undefined || user.status !== 'active' || groupsIn(user, tenant.id) === null) throw invalid();
    return issue(user, tenant, tenant.key.iKey);
  }

  /** Verifies the signature (expired tokens may still be logged out); null when it is not ours. */
  async function ourToken(token: string): Promise<{ jti: string; exp: number } | null> {
    try {
      const jwks = createLocalJWKSet({ keys: (await store.list('signingKey')).map((k) => k.doc.publicJwk) });
      await compactVerify(token, jwks, { algorithms: [TOKEN_ALGORITHM] });
      const claims = decodeJwt(token);
      return typeof claims.jti === 'string' && typeof claims.exp === 'number' ? { jti: claims.jti, exp: claims.exp } : null;
    } catch {
      return null;
    }
  }

  async function sweep(): Promise<void> {
    const at = now();
    for (const kind of ['refreshToken', 'revocation', 'legacyToken'] as const) {
      for (const v of await store.list(kind)) {
        if (v.doc.expiresAt <= at) await store.delete(kind, v.doc.id, { ifVersion: v.version }).catch(() => undefined);
      }
    }
  }
  const sweeper = setInterval(() => void sweep().catch(() => undefined), opts.sweepIntervalMs ?? 60_000);
  sweeper.unref();

  const service = await startService({
    name: 'oauth',
    ...baseOptions(opts),
    writesTo: store,
    extKeyRequired: true,
    maxBodyBytes: 16 * 1024,
    routes: [
      {
        method: 'GET',
        path: '/authorization',
        async handler(req) {
          const tenant = tenantOf(req);
          return ok(`Basic ${Buffer.from(`${tenant.id}:${await tenantSecret(tenant.id)}`).toString('base64')}`);
        },
      },
      {
        method: 'POST',
        path: '/token',
        body: true,
        async handler(req) {
          await checkClient(req, tenantOf(req).id);
          const grant = str(req.body, 'grant_type') ?? 'password';
          if (grant === 'password') return passwordGrant(req);
          if (grant === 'refresh_token') return refreshGrant(req);
          if (grant === TOKEN_EXCHANGE) return exchange(req, tenantOf(req), clientIp(req));
          throw errors.unsupportedGrant(grant);
        },
      },
      {
        method: 'DELETE',
        path: '/accessToken/:token',
        async handler(req) {
          const token = req.params['token'] ?? '';
          if (SOAJS_TOKEN.test(token)) return ok((await store.delete('legacyToken', sha256(token))) ? 1 : 0);
          const claims = await ourToken(token);
          if (claims === null) return ok(0);
          await store.put('revocation', { id: `jti:${claims.jti}`, expiresAt: claims.exp * 1000 });
          return ok(1);
        },
      },
      {
        method: 'DELETE',
        path: '/refreshToken/:token',
        async handler(req) {
          const token = req.params['token'] ?? '';
          return ok((await store.delete(SOAJS_TOKEN.test(token) ? 'legacyToken' : 'refreshToken', sha256(token))) ? 1 : 0);
        },
      },
      {
        method: 'DELETE',
        path: '/tokens/user/:userId',
        async handler(req) {
          const caller = req.soajs?.urac;
          const userId = req.params['userId'] ?? '';
          if (!caller) throw errors.notLoggedIn();
          if (!/^[A-Za-z0-9_-]{1,64}$/.test(userId)) throw errors.badRequest('Invalid user id');
          if (caller._id !== userId) {
            // An owner acts for the tenant of the key it called with, and only on that tenant's members.
            const target = (await store.get('user', userId))?.doc;
            const tenantId = tenantOf(req).id;
            if (!caller.groups.includes('owner') || target === undefined || groupsIn(target, tenantId) === null) {
              throw errors.revokeForbidden();
            }
          }
          const at = now();
          await store.put('revocation', { id: `user:${userId}`, before: at, expiresAt: at + opts.accessTokenSeconds * 1000 });
          let count = 0;
          for (const kind of ['refreshToken', 'legacyToken'] as const) {
            for (const v of await store.list(kind)) {
              if (v.doc.userId === userId && (await store.delete(kind, v.doc.id).catch(() => false))) count++;
            }
          }
          return ok(count);
        },
      },
      {
        method: 'GET',
        path: '/jwks',
        async handler() {
          return { status: 200, json: { keys: (await store.list('signingKey')).map((k) => k.doc.publicJwk) } };
        },
      },
    ],
  });
  return {
    ...service,
    kid: key.kid,
    signingKey: key.stored,
    name: service.name,
    port: service.port,
    maintenancePort: service.maintenancePort,
    host: service.host,
    async close() {
      clearInterval(sweeper);
      await service.close();
    },
  };
}
