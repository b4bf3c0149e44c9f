import type { CachedUser } from '../registry/view/cache.js';
import type { RequestContext } from './context.js';
import type { Denial } from './errors.js';
import type { GatewayUser } from './user.js';

/** What the gateway keeps of a verified access token. */
export interface TokenClaims {
  /** The token itself: the cache is keyed by a fingerprint, a hit must match it exactly. */
  readonly token: string;
  /**
   * The last resolution of this token (a token is normally used with one key): reused while the
   * user document, the key entry and the snapshot are the very same objects.
   */
  last?: Authenticated & { readonly key: unknown; readonly serial: number };
  /** Serial of the snapshot whose env, signing keys and revocations this token last passed: they hold for all of it. */
  passedIn: number;
  /** User id. */
  readonly sub: string;
  /** Tenant id the token is bound to (the login key's, or one chosen at login or exchange): only that tenant's keys take it. */
  readonly tid: string;
  readonly env: string;
  readonly jti: string;
  /** Issued at, ms. */
  readonly ims: number;
  /** Expiry, ms. */
  readonly expMs: number;
  /** Signing key; a verified token dies with its key when the key leaves the registry. Null: a SOAJS token. */
  readonly kid: string | null;
}

/** A token that passed: the user it resolves to, and what a kept decision must recheck. */
export interface Authenticated {
  readonly user: GatewayUser;
  /** Null for a token nothing can revalidate (an imported SOAJS token): its decision is never kept. */
  readonly claims: TokenClaims | null;
  /** The user cache entry the user came from. */
  readonly entry: CachedUser;
}

/** Verifies access tokens for the token stage; reads the request, never writes it. */
export interface Authenticator {
  authenticate(token: string, ctx: RequestContext): Authenticated | Denial | Promise<Authenticated | Denial>;
  /**
   * Whether what `authenticate` found still holds within the same snapshot: the token has not
   * expired and the user's cache entry is the same. Without it, a request with a token is always
   * authenticated anew.
   */
  holds?(claims: TokenClaims, userEntry: CachedUser): boolean;
}
