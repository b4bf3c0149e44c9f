import { choose, chooseVersion } from '../acl-precedence.js';
import type { RequestContext } from '../context.js';
import { ERRORS, type Denial } from '../errors.js';
import type { Stage } from '../stage.js';
import { notHeld, tenantHoldings } from '../../registry/view/tenant-holdings.js';
import { applyServiceAcl } from './acl.js';

/**
 * user: a loaded user with a user-level ACL replaces the key-level ACL for every service
 * (acl-precedence.ts). Without a requested version the latest one in the user's ACL is used. What it grants is
 * bounded by what the key's tenant holds (registry/view/tenant-holdings.ts): 154 past a service or
 * version, 159 past an API.
 */
export function createUserStage(): Stage {
  return {
    name: 'user',
    kind: 'decide',
    run(ctx: RequestContext): Denial | null {
      const user = ctx.user;
      if (!ctx.keyed || user === null || user.acl === null) return null;
      choose(ctx.decision, ctx.serviceName, user.acl, null, null);
      const entry = ctx.serviceAcl;
      // A requested version was checked against the key level; the user level may list another latest.
      const version = ctx.requestedVersion === null ? chooseVersion(entry, null, ctx.version!)! : ctx.version!;
      if (version !== ctx.version) {
        const flags = ctx.service!.versions.get(version);
        if (flags === undefined) return ERRORS.SERVICE_UNREACHABLE;
        ctx.version = version;
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
