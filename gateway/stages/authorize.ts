import type { Access } from '../../registry/view/types.js';
import type { RequestContext } from '../context.js';
import { ERRORS, type Denial } from '../errors.js';
import type { Stage } from '../stage.js';

function inGroups(access: readonly string[], groups: readonly string[]): boolean {
  for (const g of groups) if (access.includes(g)) return true;
  return false;
}

/** SOAJS `_api.checkPermission`: restricted needs a listed API; a listed API's access is enforced. */
function checkPermission(ctx: RequestContext): Denial | null {
  const api = ctx.api;
  if (api === null) return ctx.acl!.restricted ? ERRORS.API_RESTRICTED : null;
  const access: Access = api.access;
  if (!access) return null;
  if (ctx.user === null) return ERRORS.API_LOGIN;
  if (Array.isArray(access) && !inGroups(access, ctx.user.groups)) return ERRORS.API_GROUP;
  return null;
}

/**
 * authorize: service check (154) then API check (157–161), in SOAJS's exact order
 * (soajs-reference §2.6 apiCheck).
 */
export function createAuthorizeStage(): Stage {
  return {
    name: 'authorize',
    kind: 'decide',
    run(ctx: RequestContext): Denial | null {
      if (!ctx.keyed) return null;
      const acl = ctx.acl;
      if (acl === null) return ERRORS.SERVICE_NOT_IN_PACKAGE;
      if (acl.access) {
        if (ctx.user !== null) {
          if (Array.isArray(acl.access) && !inGroups(acl.access, ctx.user.groups)) return ERRORS.SERVICE_GROUP;
        } else if (ctx.api === null || ctx.api.access) {
          return ERRORS.SERVICE_LOGIN;
        }
        return checkPermission(ctx);
      }
      if (ctx.api !== null || acl.restricted) return checkPermission(ctx);
      return null;
    },
  };
}
