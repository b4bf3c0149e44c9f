import type { Store } from '../../registry/control/store/types.js';
import type { HostRegistration, Service } from '../../registry/view/types.js';
import { normalizeVersion } from '../../registry/view/version.js';
import { ok } from '../kit/envelope.js';
import { errors } from '../kit/errors.js';
import type { Route } from '../kit/server.js';
import { compact, readDoc } from './documents.js';
import { applyMergePatch } from './merge-patch.js';
import { route } from './request.js';
import { resourceRoutes } from './resource.js';
import { bodies, checkBody, sameId, type ServiceBody } from './schemas.js';

function serviceOf(name: string, body: ServiceBody): Service {
  return compact({
    name,
    group: body.group,
    port: body.port,
    maintenancePort: body.maintenancePort,
    requestTimeout: body.requestTimeout,
    maxBodyBytes: body.maxBodyBytes,
    provisioning: body.provisioning,
    versions: body.versions,
    hosts: body.hosts,
  });
}

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)$/;

/** `{version, host, port, maintenancePort?, ttlSeconds?}` of a host registration, checked by hand (four fields). */
function hostBody(body: Record<string, unknown>, service: Service, now: number): HostRegistration {
  const bad = (field: string, why: string) => errors.badRequest(`body field "${field}" ${why}`);
  const version = normalizeVersion(String(body['version'] ?? ''));
  if (version === null || !Object.keys(service.versions).some((v) => normalizeVersion(v) === version)) {
    throw bad('version', `must be one of the service's versions (${Object.keys(service.versions).join(', ')})`);
  }
  const host = body['host'];
  if (typeof host !== 'string' || !HOST.test(host)) throw bad('host', 'must be a host name or IP address ([v6] in brackets)');
  const port = body['port'];
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw bad('port', 'must be an integer from 1 to 65535');
  const mp = body['maintenancePort'];
  if (mp !== undefined && (typeof mp !== 'number' || !Number.isInteger(mp) || mp < 1 || mp > 65535)) {
    throw bad('maintenancePort', 'must be an integer from 1 to 65535');
  }
  const ttl = body['ttlSeconds'] ?? 30;
  if (typeof ttl !== 'number' || ttl < 1 || ttl > 86400) throw bad('ttlSeconds', 'must be a number of seconds from 1 to 86400');
  for (const k of Object.keys(body)) {
    if (!['version', 'host', 'port', 'maintenancePort', 'ttlSeconds'].includes(k)) throw bad(k, 'is not a known field');
  }
  return { service: service.name, version, host, port, ...(mp !== undefined ? { maintenancePort: mp as number } : {}), expiresAt: now + ttl * 1000 };
}

/** /services: the services the gateway routes to (running instances register their hosts themselves). */
export function serviceRoutes(store: Store, now: () => number = Date.now): Route[] {
  return [
    // Heartbeat: a running instance (re)registers its host; it leaves the routing table when it
    // stops renewing (ttlSeconds, default 30) and the gateway routes only to hosts whose
    // /heartbeat answers. Not audited: it repeats every few seconds and changes no document.
    route(
      'POST',
      '/services/:name/hosts',
      async (call) => {
        const found = await readDoc(store, 'service', call.req.params['name']!);
        const reg = hostBody(call.req.body, found.doc, now());
        await store.registerHost(reg);
        return ok(reg);
      },
      true,
    ),

    route(
      'DELETE',
      '/services/:name/hosts/:version/:host/:port',
      async (call) => {
        const found = await readDoc(store, 'service', call.req.params['name']!);
        const reg = hostBody(
          { version: call.req.params['version'], host: call.req.params['host'], port: Number(call.req.params['port']) },
          found.doc,
          now(),
        );
        await store.unregisterHost(reg);
        return ok(true);
      },
    ),
    ...resourceRoutes(store, {
      kind: 'service',
      collection: '/services',
      param: 'name',
      sortKey: (svc) => svc.name,
      create(call) {
        const body = checkBody(bodies.serviceCreate, call.req.body);
        return { id: body.name, doc: serviceOf(body.name, body) };
      },
      replaceBody(call, name) {
        const body = checkBody(bodies.serviceReplace, call.req.body);
        sameId('name', body.name, name);
        return body;
      },
      replace: (body, _current, name) => serviceOf(name, body),
      patch(current, patch, name) {
        const body = checkBody(bodies.serviceReplace, applyMergePatch(current, patch));
        sameId('name', body.name, name);
        return serviceOf(name, body);
      },
    }),
  ];
}
