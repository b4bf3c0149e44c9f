import { effectiveFor, matchApi, versionAcl, type CompiledServiceAcl } from '../../registry/view/acl.js';
import type { RequestContext } from '../context.js';
import { ERRORS, type Denial } from '../errors.js';
import { HEADERS } from '../headers.js';
import type { Stage } from '../stage.js';
import { queryParam } from '../query.js';

/**
 * Sets the effective ACL (service, version, method) and the matched API, and whether the API is
 * public (soajs-reference §2.6 "oauthCheck"):
 *  - service `access` truthy: public only when the API is listed with a falsy access;
 *  - otherwise public when the API is unlisted or listed with a falsy access;
 *  - restricted and listed with a falsy access: public.
 */
export function applyServiceAcl(ctx: RequestContext, entry: CompiledServiceAcl | null): void {
  const v = entry === null ? null : versionAcl(entry, ctx.version);
  if (v === null) {
    ctx.acl = null;
    ctx.api = null;
    ctx.isPublic = false;
    return;
  }
  const acl = effectiveFor(v, ctx.req.method ?? 'GET');
  const api = matchApi(acl, ctx.aclPath);
  ctx.acl = acl;
  ctx.api = api;
  ctx.isPublic = acl.access ? api !== null && !api.access : api === null || !api.access;
  if (acl.restricted && api !== null && !api.access) ctx.isPublic = true;
}

/** True when the request carries a token in any of the places the token stage reads. */
export function hasTokenHint(ctx: RequestContext): boolean {
  const h = ctx.headers;
  return (
    h.accessToken !== undefined ||
    (h.authorization?.startsWith('Bearer ') ?? false) ||
    queryParam(ctx.query, HEADERS.ACCESS_TOKEN) !== undefined
  );
}

/**
 * acl: key-level ACL (application override → package) for keyed services. Deliberate difference:
 * with no ACL for the service at key level and no token, 154 answers at once — SOAJS would first
 * demand a token (400) that could only ever be followed by 154 unless a user-level ACL grants it.
 */
export function createAclStage(): Stage {
  return {
    name: 'acl',
    kind: 'decide',
    run(ctx: RequestContext): Denial | null {
      if (!ctx.keyed) return null;
      if (ctx.pkg === null) return ERRORS.PACKAGE_UNKNOWN;
      applyServiceAcl(ctx, ctx.serviceAcl);
      if (ctx.acl === null && !hasTokenHint(ctx)) return ERRORS.SERVICE_NOT_IN_PACKAGE;
      return null;
    },
  };
}
