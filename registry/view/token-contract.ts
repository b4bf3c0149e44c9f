/**
 * The access token, as the oauth service signs it and every gateway verifies it: one statement of
 * the contract for both sides. An ES256 JWT (header `kid` names a signing key in the registry).
 */
export const TOKEN_ISSUER = 'tessera';
export const TOKEN_ALGORITHM = 'ES256';

/** The claims beside the registered ones (`iss`, `sub` = user id, `jti`, `iat`, `exp`). */
export interface AccessTokenClaims {
  /**
   * The tenant the token is bound to: the key's at login, or the one chosen at login (`tenant`) or
   * by a token exchange (services/oauth/token-exchange.ts). It is used with that tenant's keys only (146).
   */
  readonly tid: string;
  /** Tenant code, for humans reading a token. */
  readonly tcode: string;
  /** The env the token was issued for (lower case). */
  readonly env: string;
  /** Issued at, ms (finer than `iat`: a logout-all must not catch a login in the same second). */
  readonly ims: number;
}
