import { deviceAllowed } from '../../registry/view/device.js';
import { ipIn } from '../../registry/view/net.js';
import type { RequestContext } from '../context.js';
import { ERRORS, type Denial } from '../errors.js';
import type { Stage } from '../stage.js';

/** security: the ext key's geo (155) and device (156) rules, for keyed services. */
export function createSecurityStage(): Stage {
  return {
    name: 'security',
    kind: 'decide',
    run(ctx: RequestContext): Denial | null {
      const key = ctx.key;
      if (!ctx.keyed || key === null) return null;
      if (key.geoDeny !== null && ipIn(key.geoDeny, ctx.clientIp)) return ERRORS.GEO_FORBIDDEN;
      if (key.geoAllow !== null && !ipIn(key.geoAllow, ctx.clientIp)) return ERRORS.GEO_FORBIDDEN;
      if (key.device !== null && !deviceAllowed(key.device, ctx.headers.userAgent ?? '')) {
        return ERRORS.DEVICE_FORBIDDEN;
      }
      return null;
    },
  };
}
