import type { RequestContext } from '../context.js';
import { ERRORS, type Denial } from '../errors.js';
import type { Stage } from '../stage.js';

/**
 * route: the key-level ACL entry for the service (application override, else package), the version
 * (requested, else the latest the ACL lists, else the service's latest) and its flags; a service
 * that needs a key gets none → 132.
 */
export function createRouteStage(): Stage {
  return {
    name: 'route',
    kind: 'decide',
    run(ctx: RequestContext): Denial | null {
      const service = ctx.service!;
      const key = ctx.key;
      if (key !== null) {
        const app = key.appAcl?.get(service.name);
        if (app !== undefined) {
          ctx.serviceAcl = app;
          ctx.aclLevel = 'application';
        } else {
          const pkg = ctx.pkg?.acl?.get(service.name);
          if (pkg !== undefined) {
            ctx.serviceAcl = pkg;
            ctx.aclLevel = 'package';
          }
        }
      }
      // SOAJS's keyACL answers first: a requested version the key's versioned ACL lacks is 154,
      // whether or not the service has that version (then 133).
      const acl = ctx.serviceAcl;
      if (ctx.requestedVersion !== null && acl !== null && acl.versions !== null && !acl.versions.has(ctx.requestedVersion)) {
        return ERRORS.SERVICE_NOT_IN_PACKAGE;
      }
      const version = ctx.requestedVersion ?? acl?.latest ?? service.latest;
      const flags = service.versions.get(version);
      if (flags === undefined) return ERRORS.SERVICE_UNREACHABLE;
      ctx.version = version;
      ctx.flags = flags;
      ctx.keyed = flags.extKeyRequired;
      if (ctx.keyed && key === null) return ERRORS.KEY_REQUIRED;
      return null;
    },
  };
}
