import type { Store } from '../../registry/store/types.js';
import { startService, type RunningService } from '../kit/server.js';
import { accountRoutes } from './account.js';
import { adminUserRoutes } from './admin-users.js';
import { groupRoutes } from './groups.js';

/**
 * The urac service: users, groups and tenant memberships over the registry store. Every route
 * works in the tenant of the key the client used (`soajs.tenant`); admin routes need a caller
 * (`soajs.urac`). Passwords are stored as scrypt hashes and never returned or logged.
 */
export function startUrac(opts: { port: number; host?: string; maintenancePort?: number; store: Store }): Promise<RunningService> {
  return startService({
    name: 'urac',
    port: opts.port,
    ...(opts.host !== undefined ? { host: opts.host } : {}),
    ...(opts.maintenancePort !== undefined ? { maintenancePort: opts.maintenancePort } : {}),
    extKeyRequired: true,
    routes: [...accountRoutes(opts.store), ...adminUserRoutes(opts.store), ...groupRoutes(opts.store)],
  });
}
