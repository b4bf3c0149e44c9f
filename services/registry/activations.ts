import type { Store, Versioned } from '../../registry/control/store/types.js';
import type { Activation, ActivationState, Product, Tenant } from '../../registry/view/types.js';
import { ok } from '../kit/envelope.js';
import type { Route } from '../kit/server.js';
import { audit } from './audit.js';
import { describeDoc, readDoc, validated } from './documents.js';
import { readModifyWrite } from '../kit/read-modify-write.js';
import { tenantEvents } from '../../registry/control/events.js';
import { errors } from './errors.js';
import { docReply, queryInt, queryText, route, type Call } from './request.js';
import { bodies, checkBody } from './schemas.js';

/** One row of a tenant's activations, or of a service's tenants. */
export interface ActivationView {
  service: string;
  tenant: { id: string; code: string; name: string };
  state: ActivationState;
  /** No activation was recorded: the tenant's package (or application ACL) grants the service. */
  implied: boolean;
  message?: string;
  createdAt?: number;
  updatedAt?: number;
}

/** Services a tenant's applications are granted in `env` (package ACL, or the application's own). */
export function grantedServices(tenant: Tenant, products: ReadonlyMap<string, Product>, env: string): Set<string> {
  const out = new Set<string>();
  for (const app of tenant.applications) {
    const pkg = products.get(app.product)?.packages.find((p) => p.code === app.package);
    for (const s of Object.keys(app.acl?.[env] ?? pkg?.acl[env] ?? {})) out.add(s);
  }
  return out;
}

/** A tenant's own activation of `service` — never one inherited from Object.prototype (a service may be named `constructor`). */
function activationOf(tenant: Tenant, service: string): Activation | undefined {
  const all = tenant.activations;
  return all !== undefined && Object.hasOwn(all, service) ? all[service] : undefined;
}

function viewOf(tenant: Tenant, service: string, a: Activation | undefined): ActivationView {
  const t = { id: tenant.id, code: tenant.code, name: tenant.name };
  if (a === undefined) return { service, tenant: t, state: 'active', implied: true };
  return { service, tenant: t, state: a.state, implied: false, ...(a.message !== undefined ? { message: a.message } : {}), createdAt: a.createdAt, updatedAt: a.updatedAt };
}

async function productsByCode(store: Store): Promise<Map<string, Product>> {
  return new Map((await store.list('product')).map((p) => [p.doc.code, p.doc]));
}

/** Every activation of `tenant`: recorded ones, then the implied ones, by service name. */
function activationsOf(tenant: Tenant, granted: ReadonlySet<string>): ActivationView[] {
  const names = new Set([...Object.keys(tenant.activations ?? {}), ...granted]);
  return [...names].sort().map((s) => viewOf(tenant, s, activationOf(tenant, s)));
}

const STATES: ReadonlySet<string> = new Set(['pending', 'active', 'failed', 'inactive']);

/**
 * Activations of services in tenants (issue 17 §1, §4, §5). A service with `provisioning:
 * external` is `pending` in a tenant until it reports; the gateway's provisioning stage keeps the
 * tenant's requests from it until then. Deactivating keeps the record (`inactive`): the service
 * can tell a tenant that left from one it never knew.
 */
export function activationRoutes(store: Store, env: string, now: () => number = Date.now): Route[] {
  async function serviceDoc(name: string) {
    return readDoc(store, 'service', name);
  }

  async function write(call: Call, tenantId: string, service: string, action: 'activate' | 'deactivate' | 'report-provisioning', next: (current: Activation | undefined, tenant: Tenant) => Activation | null) {
    const w = (await readModifyWrite(store, 'tenant', tenantId, {
      ifVersion: call.ifMatch,
      missing: () => errors.notFound(describeDoc('tenant', tenantId)),
      change: (found) => {
        const tenant = found!.doc;
        const a = next(activationOf(tenant, service), tenant);
        // Nothing to change (a report repeated, a deactivation of the inactive): no write, no event.
        return a === null ? undefined : { ...tenant, activations: { ...tenant.activations, [service]: a } };
      },
      validate: (doc) => validated('tenant', doc),
      // service.activated / deactivated / provisioning.finished|failed, with the write itself.
      events: tenantEvents,
    }))!;
    if (w.before !== w.after) await audit(store, call, action, { resource: 'activation', resourceId: `${tenantId}:${service}`, before: w.before, after: w.after, details: { tenant: tenantId, service } });
    return w;
  }

  return [
    route('GET', '/tenants/:id/activations', async (call) => {
      const found = await readDoc(store, 'tenant', call.req.params['id']!);
      return docReply(activationsOf(found.doc, grantedServices(found.doc, await productsByCode(store), env)), found.version);
    }),

    route(
      'POST',
      '/tenants/:id/activations',
      async (call) => {
        const { service } = checkBody(bodies.activation, call.req.body);
        const svc = await serviceDoc(service).catch(() => {
          throw errors.badRequest(`body field "service" names no registered service ("${service}")`);
        });
        const external = svc.doc.provisioning === 'external';
        const at = now();
        const w = await write(call, call.req.params['id']!, service, 'activate', (current) => {
          if (current !== undefined && current.state !== 'inactive') throw errors.exists(`An activation of service "${service}"`);
          return { state: external ? 'pending' : 'active', createdAt: current?.createdAt ?? at, updatedAt: at };
        });
        return docReply(viewOf(w.doc, service, activationOf(w.doc, service)), w.after!, 201);
      },
      true,
    ),

    route('DELETE', '/tenants/:id/activations/:service', async (call) => {
      const service = call.req.params['service']!;
      const products = await productsByCode(store);
      const w = await write(call, call.req.params['id']!, service, 'deactivate', (current, tenant) => {
        const at = now();
        // An implied activation (its package grants the service) is deactivated by recording it.
        if (current === undefined) {
          if (!grantedServices(tenant, products, env).has(service)) throw errors.notFound(`An activation of service "${service}"`);
          return { state: 'inactive', createdAt: at, updatedAt: at };
        }
        if (current.state === 'inactive') return null;
        return { state: 'inactive', createdAt: current.createdAt, updatedAt: at };
      });
      return docReply(viewOf(w.doc, service, activationOf(w.doc, service)), w.after!);
    }),

    // Reconciliation: every tenant where the service is active (or waits), recorded or implied,
    // paged by tenant id so a service that missed events converges.
    route('GET', '/services/:name/tenants', async (call) => {
      const service = (await serviceDoc(call.req.params['name']!)).doc.name;
      const state = queryText(call.req, 'state', (v) => STATES.has(v), 'pending, active, failed or inactive') ?? null;
      const after = call.req.query.get('after') ?? '';
      const limit = queryInt(call.req, 'limit', 100, 1, 1000);
      const products = await productsByCode(store);
      const tenants: Versioned<Tenant>[] = (await store.list('tenant')).sort((a, b) => (a.doc.id < b.doc.id ? -1 : a.doc.id > b.doc.id ? 1 : 0));
      const rows: ActivationView[] = [];
      let next: string | null = null;
      for (const { doc } of tenants) {
        if (doc.id <= after) continue;
        const recorded = activationOf(doc, service);
        if (recorded === undefined && !grantedServices(doc, products, env).has(service)) continue;
        const row = viewOf(doc, service, recorded);
        // Without a filter the inactive are left out: "where the service is active" (or on its way).
        if (state === null ? row.state === 'inactive' : row.state !== state) continue;
        if (rows.length === limit) {
          next = rows[rows.length - 1]!.tenant.id;
          break;
        }
        rows.push(row);
      }
      return ok({ tenants: rows, next });
    }),

    // The service reports on a tenant it provisioned: idempotent (the same report twice writes once).
    route(
      'PUT',
      '/services/:name/tenants/:tenantId/provisioning',
      async (call) => {
        const service = (await serviceDoc(call.req.params['name']!)).doc.name;
        const { status, message } = checkBody(bodies.provisioning, call.req.body);
        const state: ActivationState = status === 'finished' ? 'active' : 'failed';
        const w = await write(call, call.req.params['tenantId']!, service, 'report-provisioning', (current) => {
          if (current === undefined || current.state === 'inactive') throw errors.notFound(`An activation of service "${service}"`);
          if (current.state === state && current.message === message) return null;
          return { state, ...(message !== undefined ? { message } : {}), createdAt: current.createdAt, updatedAt: now() };
        });
        return docReply(viewOf(w.doc, service, activationOf(w.doc, service)), w.after!);
      },
      true,
    ),
  ];
}
