import { randomBytes } from 'node:crypto';
import { tenantEvents } from '../../registry/control/events.js';
import type { Store } from '../../registry/control/store/types.js';
import type { Application } from '../../registry/view/types.js';
import { ok } from '../kit/envelope.js';
import type { Route } from '../kit/server.js';
import { audit } from './audit.js';
import { compact, readDoc, updateDoc } from './documents.js';
import { errors } from './errors.js';
import { applyMergePatch } from './merge-patch.js';
import { docReply, patchRoute, route } from './request.js';
import { bodies, checkBody, sameId, type ApplicationBody } from './schemas.js';
import { appIndex, appRebase, checkPackage, withApp } from './tenant-parts.js';
import { applicationView } from './views.js';

function applicationOf(appId: string, body: ApplicationBody, keys: Application['keys']): Application {
  return compact({ appId, product: body.product, package: body.package, description: body.description, acl: body.acl, keys });
}

/** /tenants/:id/applications: a tenant's subscriptions to packages. Keys have their own routes. */
export function applicationRoutes(store: Store): Route[] {
  return [
    route('GET', '/tenants/:id/applications', async (call) => {
      const found = await readDoc(store, 'tenant', call.req.params['id']!);
      return docReply(found.doc.applications.map(applicationView), found.version);
    }),

    route('GET', '/tenants/:id/applications/:appId', async (call) => {
      const found = await readDoc(store, 'tenant', call.req.params['id']!);
      return docReply(applicationView(found.doc.applications[appIndex(found.doc, call.req.params['appId']!)]!), found.version);
    }),

    route(
      'POST',
      '/tenants/:id/applications',
      async (call) => {
        const id = call.req.params['id']!;
        const body = checkBody(bodies.application, call.req.body);
        let at = -1;
        const w = await updateDoc(
          store,
          'tenant',
          id,
          call.ifMatch,
          async (tenant) => {
            await checkPackage(store, body.product, body.package);
            let appId = randomBytes(12).toString('hex');
            for (let n = 0; n < 5 && tenant.applications.some((a) => a.appId === appId); n++) appId = randomBytes(12).toString('hex');
            at = tenant.applications.length;
            return { ...tenant, applications: [...tenant.applications, applicationOf(appId, body, [])] };
          },
          () => appRebase(at),
          tenantEvents,
        );
        const app = w.doc.applications[at]!;
        await audit(store, call, 'create', { resource: 'application', resourceId: app.appId, before: w.before, after: w.after, details: { tenant: id } });
        return docReply(applicationView(app), w.after!, 201);
      },
      true,
    ),

    patchRoute('/tenants/:id/applications/:appId', async (call, patch) => {
      const id = call.req.params['id']!;
      const appId = call.req.params['appId']!;
      if (Object.hasOwn(patch, 'keys')) {
        throw errors.badRequest('body field "keys" cannot be written here; use /tenants/:id/applications/:appId/keys');
      }
      let at = -1;
      const w = await updateDoc(
        store,
        'tenant',
        id,
        call.ifMatch,
        async (tenant) => {
          at = appIndex(tenant, appId);
          const { keys, appId: _, ...current } = tenant.applications[at]!;
          const merged = applyMergePatch(current, patch) as Record<string, unknown>;
          sameId('appId', typeof merged['appId'] === 'string' ? merged['appId'] : undefined, appId);
          delete merged['appId'];
          const body = checkBody(bodies.application, merged);
          await checkPackage(store, body.product, body.package);
          return withApp(tenant, at, applicationOf(appId, body, keys));
        },
        () => appRebase(at),
        tenantEvents,
      );
      await audit(store, call, 'patch', { resource: 'application', resourceId: appId, before: w.before, after: w.after, details: { tenant: id } });
      return docReply(applicationView(w.doc.applications[at]!), w.after!);
    }),

    route('DELETE', '/tenants/:id/applications/:appId', async (call) => {
      const id = call.req.params['id']!;
      const appId = call.req.params['appId']!;
      const w = await updateDoc(
        store,
        'tenant',
        id,
        call.ifMatch,
        (tenant) => {
          appIndex(tenant, appId);
          return { ...tenant, applications: tenant.applications.filter((a) => a.appId !== appId) };
        },
        null,
        tenantEvents,
      );
      await audit(store, call, 'delete', { resource: 'application', resourceId: appId, before: w.before, after: w.after, details: { tenant: id } });
      return { status: 200, headers: { etag: `"${w.after!}"` }, json: ok({ appId, deleted: true }) };
    }),
  ];
}
