import t from 'tap';
import type { Product, Service, Tenant } from '../../registry/view/types.js';
import { startRegistry } from '../../services/registry/index.js';
import { request, soajsError } from '../helpers/demo.js';
import { extKey, settle, startTestGateway } from '../helpers/gateway.js';
import { startEchoService } from '../helpers/servers.js';
import { signedInject } from '../helpers/inject.js';

const KEY = 'cd'.repeat(48);
const products: Product[] = [{ code: 'HB', name: 'HB', packages: [{ code: 'HB_ALL', name: 'all', acl: { dev: { svc: { '1': { access: false } } } } }] }];
const tenants: Tenant[] = [
  { id: 'hbtenant0000000000000001', code: 'HB1', name: 'HB one', type: 'client', applications: [{ appId: 'a1', product: 'HB', package: 'HB_ALL', keys: [{ key: '2'.repeat(32), extKeys: [extKey(KEY)] }] }] },
];
const services: Service[] = [{ name: 'svc', port: 1, versions: { '1': { extKeyRequired: true, oauth: false } } }];

/** What the gateway injects for a logged-in owner: the registry service trusts it like any SOAJS service. */
const INJECT = JSON.stringify({
  tenant: { id: 'owner', code: 'OWNER', name: 'Owner' },
  key: { config: {}, iKey: '3'.repeat(32), eKey: 'x' },
  application: { product: 'TSRA', package: 'TSRA_OWNER', appId: 'o' },
  urac: { _id: 'admin', username: 'admin', firstName: 'a', lastName: 'b', email: '', groups: ['owner'], tenant: { id: 'owner', code: 'OWNER' } },
});

t.test('hosts register with a heartbeat and leave the routing table when they stop renewing', async (t) => {
  // The registry stamps registrations and the gateway lapses them by one clock, which the test moves.
  const clock = { offset: 0 };
  const now = () => Date.now() + clock.offset;
  const gw = await startTestGateway({ products, tenants, services, clock: now });
  t.teardown(() => gw.close());
  const registry = await startRegistry({ port: 0, store: gw.store, env: 'dev', injectSecret: gw.secret, ownerTenant: 'OWNER', now });
  t.teardown(() => registry.close());
  const echo = await startEchoService();
  t.teardown(() => echo.close());
  const admin = (method: string, path: string, body?: unknown) =>
    request(`http://127.0.0.1:${registry.port}`, path, {
      method,
      headers: { ...signedInject(gw.secret, INJECT), 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const call = () => request(gw.url, '/svc/x', { headers: { key: KEY } });

  t.same((await call()).body, soajsError(133, 'The service you are trying to reach is not reachable at this moment.'), 'no host yet');
  const beat = { version: '1', host: '127.0.0.1', port: echo.port, maintenancePort: echo.maintenance.port, ttlSeconds: 1 };
  const r = await admin('POST', '/services/svc/hosts', beat);
  t.equal(r.status, 200);
  await settle(gw);
  t.equal((await call()).status, 200, 'routed once registered');

  clock.offset += 1300;
  await gw.sync.expire(); // what the expiry timer does when the registration's time is up
  t.equal((await call()).status, 504, 'the registration lapsed without a heartbeat');

  t.equal((await admin('POST', '/services/svc/hosts', { ...beat, ttlSeconds: 30 })).status, 200);
  await settle(gw);
  t.equal((await call()).status, 200, 'back with the next heartbeat');

  t.equal((await admin('DELETE', `/services/svc/hosts/1/127.0.0.1/${echo.port}`)).status, 200);
  await settle(gw);
  t.equal((await call()).status, 504, 'unregistered');

  const bad = await admin('POST', '/services/svc/hosts', { ...beat, version: '9' });
  t.equal(bad.status, 400);
  t.match(JSON.stringify(bad.body), /body field \\"version\\"/);
  t.equal((await admin('POST', '/services/svc/hosts', { ...beat, host: 'a b' })).status, 400);
  t.equal((await admin('POST', '/services/nope/hosts', beat)).status, 404);
});
