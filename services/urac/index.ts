import type { Store } from '../../registry/control/store/types.js';
import { baseOptions, startService, type RunningService, type ServiceBase } from '../kit/server.js';
import { accountRoutes } from './account.js';
import { adminUserRoutes } from './admin-users.js';
import { groupRoutes } from './groups.js';

/**
 * The urac service: users, groups and tenant memberships over the registry store. Every route
 * works in the tenant of the key the client used (`soajs.tenant`); admin routes need a caller
 * (`soajs.urac`). Passwords are stored as scrypt hashes and never returned or logged.
 */
export function startUrac(opts: ServiceBase & { store: Store }): Promise<RunningService> {
  return startService({
    name: 'urac',
    ...baseOptions(opts),
    writesTo: opts.store,
    extKeyRequired: true,
    routes: [...accountRoutes(opts.store), ...adminUserRoutes(opts.store), ...groupRoutes(opts.store)],
  });
}
