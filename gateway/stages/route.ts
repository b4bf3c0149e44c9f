import { choose, chooseVersion } from '../acl-precedence.js';
import type { RequestContext } from '../context.js';
import { ERRORS, type Denial } from '../errors.js';
import type { Stage } from '../stage.js';

/**
 * route: the key-level ACL entry for the service and the version (acl-precedence.ts), the
 * version's flags; a service that needs a key gets none → 132.
 */
export function createRouteStage(): Stage {
  return {
    name: 'route',
    kind: 'decide',
    run(ctx: RequestContext): Denial | null {
      const service = ctx.service!;
      const key = ctx.key;
      if (key !== null) choose(ctx.decision, service.name, null, key.appAcl, ctx.pkg?.acl ?? null);
      const version = chooseVersion(ctx.serviceAcl, ctx.requestedVersion, service.latest);
      if (version === null) return ERRORS.SERVICE_NOT_IN_PACKAGE;
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
