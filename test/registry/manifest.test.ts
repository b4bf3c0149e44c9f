import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseManifest, registerManifest, aclForGroups } from '../../registry/control/manifest.js';
import { ValidationError } from '../../registry/control/schema.js';
import type { Product, Tenant } from '../../registry/view/types.js';
import { request, soajsError } from '../helpers/demo.js';
import { extKey, settle, startTestGateway } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/process.js';
import { startEchoService } from '../helpers/servers.js';

const MANIFEST = `
service: payments
port: 4100
versions:
  "1":
    extKeyRequired: true
    oauth: true
    apis:
      - { method: get, path: /orders, group: Orders }
      - { method: post, path: /orders, group: Orders, access: true }
      - { method: get, path: /orders/:id, group: Orders }
      - { method: delete, path: /orders/:id, group: Admin }
groups:
  Orders: { access: false }
  Admin: { access: [owner] }
`;

function rejection(text: string): ValidationError {
  try {
    parseManifest(text);
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected a ValidationError');
}

t.test('manifests are validated and errors name the field', async (t) => {
  const m = parseManifest(MANIFEST);
  t.equal(m.service, 'payments');
  t.equal(rejection(MANIFEST.replace('method: get, path: /orders,', 'method: fetch, path: /orders,')).field, 'versions.1.apis[0].method');
  t.match(rejection(MANIFEST.replace('group: Admin }', 'group: Nope }')).message, /versions\.1\.apis\[3\]\.group.*"Nope"/);
  t.equal(rejection(MANIFEST.replace('port: 4100', 'port: 99999')).field, 'port');
  t.match(rejection('service: [').message, /not valid YAML/);
  t.same(aclForGroups(m, '1', ['Orders']), {
    payments: {
      '1': {
        access: false,
        apisPermission: 'restricted',
        get: { apis: { '/orders': { access: false, group: 'Orders' }, '/orders/:id': { access: false, group: 'Orders' } } },
        post: { apis: { '/orders': { access: true, group: 'Orders' } } },
      },
    },
  });
});

t.test('a service registered from a manifest is reachable at once, with the picked groups enforced', async (t) => {
  const KEY = 'ab'.repeat(48);
  const products: Product[] = [{ code: 'SHOP', name: 'Shop', packages: [{ code: 'SHOP_BASIC', name: 'basic', acl: { dev: {} } }] }];
  const tenants: Tenant[] = [
    {
      id: 'shoptenant000000000000001',
      code: 'SHOP1',
      name: 'Shop one',
      type: 'client',
      applications: [{ appId: 'app1', product: 'SHOP', package: 'SHOP_BASIC', keys: [{ key: '1'.repeat(32), extKeys: [extKey(KEY)] }] }],
    },
  ];
  const gw = await startTestGateway({ products, tenants });
  t.teardown(() => gw.close());
  const echo = await startEchoService();
  t.teardown(() => echo.close());
  const call = (method: string, path: string) => request(gw.url, path, { method, headers: { key: KEY } });

  t.equal((await call('GET', '/payments/orders')).status, 404, 'unknown before registration');
  const started = Date.now();
  const r = await registerManifest(gw.store, parseManifest(MANIFEST), { env: 'dev', grants: { SHOP_BASIC: ['Orders'] } });
  t.equal(r.outcome, 'created');
  t.same(r.granted, ['SHOP_BASIC']);
  await gw.store.registerHost({ service: 'payments', version: '1', host: '127.0.0.1', port: echo.port, maintenancePort: echo.maintenance.port });
  await settle(gw);
  t.equal((await call('GET', '/payments/orders')).status, 200, 'reachable');
  t.equal((await call('GET', '/payments/orders/42')).status, 200, 'path params');
  t.ok(Date.now() - started < 1000, `within a second (${Date.now() - started} ms)`);
  t.same((await call('POST', '/payments/orders')).body, soajsError(400, 'The access token was not found'), 'the group\'s access:true API needs a login');
  t.same((await call('DELETE', '/payments/orders/42')).body, soajsError(159, 'System api access is restricted. api is not in provision.'), 'the Admin group was not picked');

  const again = await registerManifest(gw.store, parseManifest(MANIFEST), { env: 'dev' });
  t.equal(again.outcome, 'unchanged');
  t.same(again.diff, []);
  const changed = await registerManifest(gw.store, parseManifest(MANIFEST.replace('port: 4100', 'port: 4200\nrequestTimeout: 5')), { env: 'dev' });
  t.equal(changed.outcome, 'updated');
  t.same(changed.diff.sort(), ['port: 4100 -> 4200', 'requestTimeout: undefined -> 5']);
  t.equal(changed.version, 2);
});

t.test('tessera register: the CLI prints the plan, writes, and fails clearly', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-register-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'payments.yaml');
  writeFileSync(file, MANIFEST);
  const env = { PATH: process.env['PATH'] ?? '', TESSERA_STORE: `file:${join(dir, 'data')}`, TESSERA_SEED: join(dir, 'no-seed') };
  const run = (...args: string[]) => spawnSync(process.execPath, ['dist/bin/tessera.js', 'register', ...args], { cwd: REPO_ROOT, env, encoding: 'utf8' });
  const dry = run(file, '--dry-run');
  t.equal(dry.status, 0, dry.stderr);
  t.match(dry.stdout, /would be created: service payments/);
  const real = run(file);
  t.equal(real.status, 0, real.stderr);
  t.match(real.stdout, /^created: service payments \(version 1\)/);
  t.match(run(file).stdout, /unchanged: service payments/);
  writeFileSync(file, MANIFEST.replace('method: get, path: /orders,', 'method: fetch, path: /orders,'));
  const bad = run(file);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /field "versions\.1\.apis\[0\]\.method"/);
  t.equal(run().status, 1, 'no file named');
});
