import type { Store } from '../../registry/control/store/types.js';
import { platformOnly } from './platform.js';
import { baseOptions, startService, type RunningService, type ServiceBase } from '../kit/server.js';
import { activationRoutes } from './activations.js';
import { applicationRoutes } from './applications.js';
import { auditRoutes } from './audit.js';
import { eventRoutes } from './events.js';
import { keyRoutes } from './keys.js';
import { packageRoutes } from './packages.js';
import { productRoutes } from './products.js';
import { serviceRoutes } from './services.js';
import { tenantRoutes } from './tenants.js';

export interface RegistryOptions extends ServiceBase {
  store: Store;
  /** Environment of this deployment: the default `env` of new ext keys. */
  env: string;
  /** The env's SOAJS key password: enables `format: "soajs"` ext keys. */
  soajsKeyPassword?: string;
  /** Code of the platform's tenant: the only one whose owner/viewer groups may call this API. */
  ownerTenant: string;
}

/**
 * The registry admin service: products and packages, tenants, applications, keys and ext keys,
 * services, the audit log and the events outbox, over the registry store. Behind the gateway (the package ACL says
 * who may read and write); every route also needs a logged-in caller. Documents answer with
 * `ETag: "<version>"`, writes honour `If-Match`, every write is audited, and ext keys and oauth
 * secrets are never sent back after creation.
 */
export function startRegistry(opts: RegistryOptions): Promise<RunningService> {
  const { store } = opts;
  return startService({
    name: 'registry',
    ...baseOptions(opts),
    writesTo: opts.store,
    extKeyRequired: true,
    routes: platformOnly(opts.ownerTenant, [
      ...productRoutes(store),
      ...packageRoutes(store),
      ...tenantRoutes(store),
      ...applicationRoutes(store),
      ...keyRoutes(store, opts.env, opts.soajsKeyPassword),
      ...serviceRoutes(store, opts.now),
      ...activationRoutes(store, opts.env, opts.now),
      ...auditRoutes(store),
      ...eventRoutes(store),
    ]),
  });
}
