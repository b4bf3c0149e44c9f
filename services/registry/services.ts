import type { Store } from '../../registry/store/types.js';
import type { Service } from '../../registry/types.js';
import { ok } from '../kit/envelope.js';
import type { Route } from '../kit/server.js';
import { audit } from './audit.js';
import { compact, createDoc, deleteDoc, readDoc, updateDoc } from './documents.js';
import { applyMergePatch } from './merge-patch.js';
import { byString, docReply, page, patchRoute, route } from './request.js';
import { bodies, checkBody, sameId, type ServiceBody } from './schemas.js';

function serviceOf(name: string, body: ServiceBody): Service {
  return compact({
    name,
    group: body.group,
    port: body.port,
    maintenancePort: body.maintenancePort,
    requestTimeout: body.requestTimeout,
    versions: body.versions,
    hosts: body.hosts,
  });
}

/** /services: the services the gateway routes to (running instances register their hosts themselves). */
export function serviceRoutes(store: Store): Route[] {
  return [
    route('GET', '/services', async (call) => {
      const all = (await store.list('service')).map((v) => v.doc).sort(byString((s) => s.name));
      return ok(page(call.req, all));
    }),

    route('GET', '/services/:name', async (call) => {
      const found = await readDoc(store, 'service', call.req.params['name']!);
      return docReply(found.doc, found.version);
    }),

    route(
      'POST',
      '/services',
      async (call) => {
        const body = checkBody(bodies.serviceCreate, call.req.body);
        const w = await createDoc(store, 'service', body.name, serviceOf(body.name, body));
        await audit(store, call, 'create', { resource: 'service', resourceId: body.name, before: w.before, after: w.after });
        return docReply(w.doc, w.after!, 201);
      },
      true,
    ),

    route(
      'PUT',
      '/services/:name',
      async (call) => {
        const name = call.req.params['name']!;
        const body = checkBody(bodies.serviceReplace, call.req.body);
        sameId('name', body.name, name);
        const w = await updateDoc(store, 'service', name, call.ifMatch, () => serviceOf(name, body));
        await audit(store, call, 'replace', { resource: 'service', resourceId: name, before: w.before, after: w.after });
        return docReply(w.doc, w.after!);
      },
      true,
    ),

    patchRoute('/services/:name', async (call, patch) => {
      const name = call.req.params['name']!;
      const w = await updateDoc(store, 'service', name, call.ifMatch, (current) => {
        const body = checkBody(bodies.serviceReplace, applyMergePatch(current, patch));
        sameId('name', body.name, name);
        return serviceOf(name, body);
      });
      await audit(store, call, 'patch', { resource: 'service', resourceId: name, before: w.before, after: w.after });
      return docReply(w.doc, w.after!);
    }),

    route('DELETE', '/services/:name', async (call) => {
      const name = call.req.params['name']!;
      const w = await deleteDoc(store, 'service', name, call.ifMatch, () => undefined);
      await audit(store, call, 'delete', { resource: 'service', resourceId: name, before: w.before, after: null });
      return ok({ name, deleted: true });
    }),
  ];
}
