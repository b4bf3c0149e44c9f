import { randomBytes } from 'node:crypto';
import { tenantEvents } from '../../registry/control/events.js';
import type { Store } from '../../registry/control/store/types.js';
import type { Tenant, TenantOauth } from '../../registry/view/types.js';
import type { Route } from '../kit/server.js';
import { compact } from './documents.js';
import { errors } from './errors.js';
import { applyMergePatch } from './merge-patch.js';
import { resourceRoutes } from './resource.js';
import { bodies, checkBody, sameId, TENANT_FIELDS, type TenantBody } from './schemas.js';
import { MASK, oauthView, tenantView } from './views.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Applications (and their keys) are written through /tenants/:id/applications, never here. */
function refuseApplications(body: unknown): void {
  if (isObject(body) && Object.hasOwn(body, 'applications')) {
    throw errors.badRequest('body field "applications" cannot be written here; use /tenants/:id/applications');
  }
  if (isObject(body) && Object.hasOwn(body, 'activations')) {
    throw errors.badRequest('body field "activations" cannot be written here; use /tenants/:id/activations');
  }
}

/**
 * The oauth settings to store. The secret is write-only: a body that leaves it out (or sends the
 * mask it was shown) keeps the stored one; only an explicit `null` in a merge patch removes it.
 */
function nextOauth(given: TenantOauth | undefined, stored: TenantOauth | undefined, removeSecret: boolean): TenantOauth | undefined {
  const { secret, ...rest } = given ?? {};
  if (secret !== undefined && secret !== MASK) return { ...rest, secret };
  if (!removeSecret && stored?.secret !== undefined) return { ...rest, secret: stored.secret };
  return given === undefined ? undefined : rest;
}

/** Applications and activations have their own routes: a write through /tenants keeps the stored ones. */
function tenantOf(id: string, code: string, body: TenantBody, oauth: TenantOauth | undefined, applications: Tenant['applications'], activations?: Tenant['activations']): Tenant {
  return compact({
    id,
    code,
    name: body.name,
    description: body.description,
    type: body.type,
    main: body.main,
    locked: body.locked,
    profile: body.profile,
    oauth,
    applications,
    activations,
  });
}

/** The fields a PATCH merges into: the tenant without applications, the secret left out. */
function patchBase(t: Tenant): Record<string, unknown> {
  const base: Record<string, unknown> = {};
  for (const f of TENANT_FIELDS) if (t[f] !== undefined) base[f] = f === 'oauth' ? oauthView(t.oauth) : t[f];
  if (isObject(base['oauth'])) delete base['oauth']['secret'];
  return base;
}

/** /tenants: tenant documents. Answers never carry ext key hashes or the oauth secret. */
export function tenantRoutes(store: Store): Route[] {
  return resourceRoutes(store, {
    kind: 'tenant',
    collection: '/tenants',
    param: 'id',
    sortKey: (t) => t.code,
    view: tenantView,
    events: tenantEvents,
    async create(call) {
      refuseApplications(call.req.body);
      const body = checkBody(bodies.tenantCreate, call.req.body);
      if (body.oauth?.secret === MASK) throw errors.badRequest(`body field "oauth.secret" must not be "${MASK}"`);
      const id = body.id ?? randomBytes(12).toString('hex');
      if ((await store.list('tenant')).some((t) => t.doc.code === body.code)) throw errors.exists(`A tenant with code "${body.code}"`);
      return { id, doc: tenantOf(id, body.code, body, body.oauth, []) };
    },
    replaceBody(call, id) {
      refuseApplications(call.req.body);
      const body = checkBody(bodies.tenantReplace, call.req.body);
      sameId('id', body.id, id);
      return body;
    },
    replace(body, current, id) {
      sameId('code', body.code, current.code);
      return tenantOf(id, current.code, body, nextOauth(body.oauth, current.oauth, false), current.applications, current.activations);
    },
    patchPrecheck: refuseApplications,
    patch(current, patch, id) {
      const removeSecret = patch['oauth'] === null || (isObject(patch['oauth']) && patch['oauth']['secret'] === null);
      const body = checkBody(bodies.tenantReplace, applyMergePatch(patchBase(current), patch));
      sameId('id', body.id, id);
      sameId('code', body.code, current.code);
      return tenantOf(id, current.code, body, nextOauth(body.oauth, current.oauth, removeSecret), current.applications, current.activations);
    },
  });
}
