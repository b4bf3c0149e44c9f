import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { Product, Service, Tenant } from '../../registry/view/types.js';
import { extKey, settle, startTestGateway } from '../helpers/gateway.js';
import { startEchoService } from '../helpers/servers.js';

/**
 * The gateway reuses a key's whole soajsinjectobj while the per-request fields it was built from
 * (User-Agent, client address) stay the same: every request must still get its own.
 */

const KEY = randomBytes(48).toString('hex');
const services: Service[] = [
  { name: 'svc', port: 4100, versions: { '1': { extKeyRequired: true, oauth: false } } },
  { name: 'other', port: 4100, versions: { '1': { extKeyRequired: true, oauth: false } } },
];
const products: Product[] = [
  { code: 'P', name: 'Product', packages: [{ code: 'P_BASIC', name: 'Basic', acl: { dev: { svc: { '1': {} }, other: { '1': {} } } } }] },
];
const tenants: Tenant[] = [
  {
    id: 'tenant1',
    code: 'TEN1',
    name: 'Tenant',
    type: 'product',
    applications: [
      {
        appId: 'app1',
        product: 'P',
        package: 'P_BASIC',
        keys: [{ key: randomBytes(16).toString('hex'), config: { dev: { svc: { n: 1 }, other: { n: 2 } } }, extKeys: [extKey(KEY)] }],
      },
    ],
  },
];

// The loopback is a trusted proxy here, so X-Forwarded-For sets the client address (geo.ip).
const gw = await startTestGateway({ products, tenants, services, config: { 'gateway.trustedProxies': ['127.0.0.1/32'] } });
t.teardown(() => gw.close());
const echo = await startEchoService();
t.teardown(() => echo.close());
for (const name of ['svc', 'other']) {
  await gw.store.registerHost({ service: name, version: '1', host: '127.0.0.1', port: echo.port, maintenancePort: echo.maintenance.port });
}
await settle(gw);

interface Injected {
  device?: string;
  geo?: { ip?: string };
  key?: { config?: Record<string, unknown> };
}

async function inject(path: string, headers: Record<string, string>): Promise<Injected | undefined> {
  const before = echo.seen.length;
  const res = await fetch(`${gw.url}${path}`, { headers: { key: KEY, ...headers } });
  await res.arrayBuffer();
  t.equal(res.status, 200, `${path} answered`);
  return (echo.seen.length === before + 1 ? echo.seen[before]?.inject : undefined) as Injected | undefined;
}

t.test('device follows each request\'s User-Agent, also when one comes back', async (t) => {
  for (const ua of ['agent-A/1', 'agent-A/1', 'agent-B/2', 'agent-A/1', 'agent-ü/3']) {
    t.equal((await inject('/svc/x', { 'user-agent': ua }))?.device, ua);
  }
});

t.test('geo.ip follows each request\'s client address', async (t) => {
  for (const ip of ['10.0.0.1', '10.0.0.1', '10.0.0.2', '10.0.0.1']) {
    const got = await inject('/svc/x', { 'user-agent': 'same', 'x-forwarded-for': ip });
    t.equal(got?.geo?.ip, ip);
    t.equal(got?.device, 'same');
  }
});

t.test('each service of the key gets its own config, whatever was sent before', async (t) => {
  for (const [path, n] of [['/svc/x', 1], ['/other/x', 2], ['/svc/x', 1], ['/other/x', 2]] as const) {
    const got = await inject(path, { 'user-agent': 'same', 'x-forwarded-for': '10.0.0.9' });
    t.strictSame(got?.key?.config, { [path.split('/')[1]!]: { n } });
  }
});
