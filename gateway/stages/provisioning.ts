import type { RequestContext } from '../context.js';
import { ERRORS, type Denial } from '../errors.js';
import type { Stage } from '../stage.js';

const GATE = { pending: ERRORS.PROVISIONING_PENDING, failed: ERRORS.PROVISIONING_FAILED, inactive: ERRORS.SERVICE_INACTIVE } as const;

/**
 * provisioning (every-request): a tenant reaches a service only once the service's activation in
 * it is active — pending (external provisioning not reported yet) 503/191 with Retry-After, failed
 * 503/194, deactivated 403/195. No activation recorded: the ACL decides alone (an existing
 * tenant's package grant counts as active). Every request, not the memo: a report lets the very
 * next request through, a deactivation stops it, whatever a connection kept. One map read on the
 * key's tenant entry, already at hand.
 */
export function createProvisioningStage(): Stage {
  return {
    name: 'provisioning',
    kind: 'every-request',
    run(ctx: RequestContext): Denial | null {
      const gated = ctx.key?.tenant.gated;
      if (gated == null || !ctx.keyed) return null;
      const state = gated.get(ctx.serviceName);
      return state === undefined ? null : GATE[state];
    },
  };
}
