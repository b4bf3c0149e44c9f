import type { Authenticated, Authenticator } from '../authenticator.js';
import type { RequestContext, TokenSource } from '../context.js';
import { ERRORS, type Denial } from '../errors.js';
import { HEADERS } from '../headers.js';
import type { Stage } from '../stage.js';
import { queryParam } from '../query.js';

/**
 * Turns a presented access token into the user it was issued to, as seen from the key's tenant:
 * a verified, cached answer (never a store round trip once warm), or a denial (401 invalid/expired,
 * 146 not a member, 503 when the user cannot be loaded).
 */
/** `Bearer <token>`: the token, or null when the header is something else. */
function bearer(header: string): string | null {
  if (header.length < 8 || !header.startsWith('Bearer ')) return null;
  const token = header.slice(7).trim();
  return token === '' || token.includes(' ') ? null : token;
}

/**
 * token: exactly one of `?access_token=`, header `access_token`, `Authorization: Bearer` (SOAJS
 * oauth2-server rules). Demanded when the service has oauth on and the API is not public (every
 * API of a service without key); validated whenever sent, even on a public API, so the user loads.
 * Without an authenticator every token is invalid: the gateway never lets an unverified one pass.
 */
export function createTokenStage(auth: Authenticator | null): Stage {
  return {
    name: 'token',
    kind: 'decide',
    run(ctx: RequestContext): Denial | null | Promise<Denial | null> {
      if (ctx.flags!.oauth === false) return null;
      if (ctx.keyed && ctx.key!.tenant.doc.oauth?.disabled === true) return null;
      const needed = !ctx.keyed || !ctx.isPublic;

      let count = 0;
      let token: string | null = null;
      let source: TokenSource | null = null;
      let malformed = false;
      const fromQuery = queryParam(ctx.query, HEADERS.ACCESS_TOKEN);
      if (fromQuery !== undefined) {
        count++;
        token = fromQuery;
        source = 'query';
      }
      const fromHeader = ctx.headers.accessToken;
      if (fromHeader !== undefined) {
        count++;
        token = fromHeader;
        source = 'header';
      }
      const authorization = ctx.headers.authorization;
      if (authorization !== undefined) {
        const b = bearer(authorization);
        if (b !== null) {
          count++;
          token = b;
          source = 'bearer';
        } else if (needed) {
          // A non-Bearer Authorization (e.g. Basic on /oauth/token) is ignored on public APIs.
          count++;
          malformed = true;
        }
      }
      if (count === 0) return needed ? ERRORS.TOKEN_NOT_FOUND : null;
      if (count > 1) return ERRORS.TOKEN_MULTIPLE;
      if (malformed) return ERRORS.TOKEN_MALFORMED_HEADER;
      if (token === null || token === '' || auth === null) return ERRORS.TOKEN_INVALID;
      ctx.token = token;
      ctx.tokenSource = source;
      const result = auth.authenticate(token, ctx);
      return result instanceof Promise ? result.then((r) => settle(ctx, r)) : settle(ctx, result);
    },
  };
}

function settle(ctx: RequestContext, result: Authenticated | Denial): Denial | null {
  if ('body' in result) return result;
  ctx.user = result.user;
  ctx.tokenClaims = result.claims;
  ctx.userEntry = result.entry;
  return null;
}
