import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { Product, Service, Tenant } from '../../registry/view/types.js';
import { extKey, settle, startTestGateway } from '../helpers/gateway.js';
import { startEchoService } from '../helpers/servers.js';

/**
 * The key stage remembers the SHA-256 of keys that resolved, looked up by the key's last 24
 * characters. Keys that share that tail must never be taken for one another, whatever the order.
 */

const TAIL = randomBytes(12).toString('hex');
const KEY_A = randomBytes(40).toString('hex') + TAIL;
const KEY_B = randomBytes(40).toString('hex') + TAIL;
/** Same tail, never registered. */
const KEY_FORGED = randomBytes(40).toString('hex') + TAIL;
/** Same tail and length as A, one character off at the front. */
const KEY_NEAR = (KEY_A[0] === 'a' ? 'b' : 'a') + KEY_A.slice(1);

const services: Service[] = [{ name: 'svc', port: 4100, versions: { '1': { extKeyRequired: true, oauth: false } } }];
const products: Product[] = [
  { code: 'P', name: 'Product', packages: [{ code: 'P_BASIC', name: 'Basic', acl: { dev: { svc: { '1': {} } } } }] },
];
const app = (appId: string, iKey: string, plain: string) => ({
  appId,
  product: 'P',
  package: 'P_BASIC',
  keys: [{ key: iKey, config: { dev: { svc: { app: appId } } }, extKeys: [extKey(plain)] }],
});
const tenants: Tenant[] = [
  { id: 'tenantA', code: 'TENA', name: 'A', type: 'product', applications: [app('appA', randomBytes(16).toString('hex'), KEY_A)] },
  { id: 'tenantB', code: 'TENB', name: 'B', type: 'product', applications: [app('appB', randomBytes(16).toString('hex'), KEY_B)] },
];

const gw = await startTestGateway({ products, tenants, services });
t.teardown(() => gw.close());
const echo = await startEchoService();
t.teardown(() => echo.close());
await gw.store.registerHost({ service: 'svc', version: '1', host: '127.0.0.1', port: echo.port, maintenancePort: echo.maintenance.port });
await settle(gw);

async function tenantFor(key: string): Promise<{ status: number; tenant?: string; app?: string }> {
  const before = echo.seen.length;
  const res = await fetch(`${gw.url}/svc/x`, { headers: { key } });
  await res.arrayBuffer();
  const seen = echo.seen.length === before + 1 ? echo.seen[before] : undefined;
  const inject = seen?.inject as { tenant?: { id?: string }; application?: { appId?: string } } | undefined;
  return { status: res.status, tenant: inject?.tenant?.id, app: inject?.application?.appId };
}

t.test('keys sharing their last 24 characters each resolve to their own tenant, in any order', async (t) => {
  for (const [key, tenant, app] of [
    [KEY_A, 'tenantA', 'appA'],
    [KEY_B, 'tenantB', 'appB'],
    [KEY_A, 'tenantA', 'appA'],
    [KEY_A, 'tenantA', 'appA'],
    [KEY_B, 'tenantB', 'appB'],
  ] as const) {
    t.strictSame(await tenantFor(key), { status: 200, tenant, app });
  }
});

t.test('an unknown key with a known key\'s tail is refused (148), before and after the known one is used', async (t) => {
  for (const key of [KEY_FORGED, KEY_NEAR]) {
    await tenantFor(KEY_A);
    const r = await tenantFor(key);
    t.equal(r.status, 403);
    t.equal(r.tenant, undefined, 'nothing reached the upstream');
    t.strictSame(await tenantFor(KEY_A), { status: 200, tenant: 'tenantA', app: 'appA' }, 'the known key still resolves');
  }
});
