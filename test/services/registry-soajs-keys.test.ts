import t from 'tap';
import { decodeSoajsKey } from '../../registry/control/soajs-key.js';
import type { Product, Service, Tenant } from '../../registry/view/types.js';
import { startRegistry } from '../../services/registry/index.js';
import { request } from '../helpers/demo.js';
import { settle, startTestGateway } from '../helpers/gateway.js';
import { startEchoService } from '../helpers/servers.js';
import { signedInject } from '../helpers/inject.js';

const TID = '5c0e74ba9acc3c5a84a51259';
const IKEY = 'a139786a6e6d18e48b4987e83789430b';
const PASSWORD = 'soajs key lal massa';
const products: Product[] = [{ code: 'DSBRD', name: 'D', packages: [{ code: 'DSBRD_GUEST', name: 'g', acl: { dev: { svc: { '1': { access: false } } } } }] }];
const tenants: Tenant[] = [
  { id: TID, code: 'DBTN', name: 'Dashboard', type: 'product', applications: [{ appId: '30d2cb5fc04ce51e06000001', product: 'DSBRD', package: 'DSBRD_GUEST', keys: [{ key: IKEY, extKeys: [] }] }] },
];
const services: Service[] = [{ name: 'svc', port: 1, versions: { '1': { extKeyRequired: true, oauth: false } } }];
const INJECT = JSON.stringify({
  tenant: { id: 'owner', code: 'OWNER', name: 'Owner' },
  key: { config: {}, iKey: '3'.repeat(32), eKey: 'x' },
  application: { product: 'TSRA', package: 'TSRA_OWNER', appId: 'o' },
  urac: { _id: 'admin', username: 'admin', firstName: 'a', lastName: 'b', email: '', groups: ['owner'], tenant: { id: 'owner', code: 'OWNER' } },
});
const PATH = `/tenants/${TID}/applications/30d2cb5fc04ce51e06000001/keys/${IKEY}/extKeys`;

t.test('the registry issues SOAJS-format ext keys when the env password is configured', async (t) => {
  const gw = await startTestGateway({ products, tenants, services });
  t.teardown(() => gw.close());
  const echo = await startEchoService();
  t.teardown(() => echo.close());
  await gw.store.registerHost({ service: 'svc', version: '1', host: '127.0.0.1', port: echo.port, maintenancePort: echo.maintenance.port });
  const withPw = await startRegistry({ port: 0, store: gw.store, env: 'dev', soajsKeyPassword: PASSWORD, injectSecret: gw.secret, ownerTenant: 'OWNER' });
  t.teardown(() => withPw.close());
  const withoutPw = await startRegistry({ port: 0, store: gw.store, env: 'dev', injectSecret: gw.secret, ownerTenant: 'OWNER' });
  t.teardown(() => withoutPw.close());
  const post = (port: number, body: unknown) =>
    request(`http://127.0.0.1:${port}`, PATH, { method: 'POST', headers: { ...signedInject(gw.secret, INJECT), 'content-type': 'application/json' }, body: JSON.stringify(body) });

  const refused = await post(withoutPw.port, { format: 'soajs' });
  t.equal(refused.status, 400);
  t.match(JSON.stringify(refused.body), /body field \\"format\\".*soajs\.keyPassword/);

  const r = await post(withPw.port, { format: 'soajs', label: 'for the SOAJS console' });
  t.equal(r.status, 201);
  const extKey = (r.body as { data: { extKey: string } }).data.extKey;
  t.match(extKey, /^[0-9a-f]{192}$/);
  t.match(decodeSoajsKey(extKey, PASSWORD), { tenantId: TID, internalKey: IKEY, packageCode: 'DSBRD_GUEST' }, 'a SOAJS client can read it');
  await settle(gw);
  t.equal((await request(gw.url, '/svc/x', { headers: { key: extKey } })).status, 200, 'and the gateway accepts it');

  const plain = await post(withPw.port, {});
  t.match((plain.body as { data: { extKey: string } }).data.extKey, /^[0-9a-f]{128}$/, 'the default stays a random 512-bit key');
});
