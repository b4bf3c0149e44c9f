import type { RequestContext } from '../context.js';
import { ERRORS, type Denial } from '../errors.js';
import type { Stage } from '../stage.js';
import { notHeld, tenantHoldings } from '../../registry/tenant-holdings.js';
import { applyServiceAcl } from './acl.js';

/**
 * user: a loaded user with a user-level ACL replaces the key-level ACL for every service — a
 * service missing from it is 154 even when the package grants it (SOAJS, §2.4). Levels are never
 * merged. Without a requested version the latest one in the user's ACL is used. What it grants is
 * bounded by what the key's tenant holds (registry/tenant-holdings.ts): 154 past a service or
 * version, 159 past an API.
 */
export function createUserStage(): Stage {
  return {
    name: 'user',
    kind: 'decide',
    run(ctx: RequestContext): Denial | null {
      const user = ctx.user;
      if (!ctx.keyed || user === null || user.acl === null) return null;
      const entry = user.acl.get(ctx.serviceName) ?? null;
      ctx.serviceAcl = entry;
      ctx.aclLevel = 'user';
      if (ctx.requestedVersion === null && entry?.latest && entry.latest !== ctx.version) {
        const flags = ctx.service!.versions.get(entry.latest);
        if (flags === undefined) return ERRORS.SERVICE_UNREACHABLE;
        ctx.version = entry.latest;
        ctx.flags = flags;
      }
      applyServiceAcl(ctx, entry);
      if (ctx.acl === null || !user.aclOverride || user.heldWhole!.get(ctx.serviceName)?.has(ctx.version!)) return null;
      // The user-level ACL was written inside the tenant: it never reaches past what the tenant holds.
      const outside = notHeld(tenantHoldings(ctx.key!.tenant, ctx.snapshot), ctx.serviceName, ctx.version, ctx.req.method ?? 'GET', ctx.aclPath);
      if (outside === 'service') return ERRORS.SERVICE_NOT_IN_PACKAGE;
      if (outside === 'api') return ERRORS.API_RESTRICTED;
      return null;
    },
  };
}
