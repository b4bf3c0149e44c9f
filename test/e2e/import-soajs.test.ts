import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { importCommand } from '../../bin/import.js';
import { loadConfig } from '../../config/load.js';
import { TokenAuthenticator } from '../../gateway/auth.js';
import { createGateway } from '../../gateway/server.js';
import { DocCache, KeyCache, UserCache } from '../../registry/view/cache.js';
import { readSoajsExport } from '../../registry/control/import-soajs.js';
import { hashPassword } from '../../registry/control/password.js';
import { FileStore } from '../../registry/control/store/file.js';
import { RegistrySync } from '../../registry/view/sync.js';
import type { DocByKind, DocKind, Service, Tenant, User } from '../../registry/view/types.js';
import { getJson, soajsError } from '../helpers/demo.js';
import { startEchoService } from '../helpers/servers.js';
import { INJECT_SECRET_ID, sharedSecret } from '../../registry/control/secrets.js';

/**
 * The SOAJS controller's provision test data, imported with the library into a FileStore, served by
 * a gateway: what worked against SOAJS works against Tessera. Then `tessera import soajs` itself.
 */

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/soajs-provision', import.meta.url));
const DBTN_ID = '5c0e74ba9acc3c5a84a51259';
const DBTN_DEV_KEY =
  '3d90163cf9d6b3076ad26aa5ed58556348069258e5c6c941ee0f18448b570ad1c5c790e2d2a1989680c55f4904e2005ff5f8e71606e4aa641e67882f4210ebbc5460ff305dcb36e6ec2a2299cf0448ef60b9e38f41950ec251c1cf41f05f3ce9';
const ACCESS_TOKEN = 'cfb209a91b23896820f510aadbf1f4284b512123';
/** Any lower-case hex is an ext key to the gateway (it hashes, never decrypts). */
const EXPIRED_KEY = 'e0'.repeat(96);

function tempDir(t: { teardown(fn: () => unknown): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The fixture plus a tenant whose only ext key expired yesterday (SOAJS `expDate`, ms). */
function exportWithExpiredKey(dir: string): void {
  cpSync(FIXTURE, dir, { recursive: true });
  const expired = {
    _id: '5c0e74ba9acc3c5a84a5eeee',
    type: 'product',
    code: 'EXPTN',
    name: 'Expired tenant',
    oauth: { secret: 'this is a secret', disabled: 0, type: 2, loginMode: 'urac' },
    applications: [
      {
        product: 'DSBRD',
        package: 'DSBRD_GUEST',
        appId: '5c0e74ba9acc3c5a84a5eeef',
        _TTL: 604800000,
        keys: [{ key: 'e'.repeat(32), extKeys: [{ extKey: EXPIRED_KEY, env: 'DEV', expDate: Date.now() - 86_400_000, device: null, geo: null }] }],
      },
    ],
  };
  writeFileSync(join(dir, 'tenants', 'expired.json'), JSON.stringify(expired, null, 2));
}

t.test('an imported SOAJS provision serves through the gateway', async (t) => {
  const echo = await startEchoService();
  t.teardown(() => echo.close());

  const exportDir = tempDir(t, 'tessera-soajs-export-');
  exportWithExpiredKey(exportDir);
  const { docs, report } = readSoajsExport(exportDir, { env: 'dev' });
  t.same(report.counts, { product: 1, service: 4, tenant: 2, group: 1, user: 1, legacyToken: 2 });

  const dataDir = tempDir(t, 'tessera-soajs-store-');
  const store = new FileStore(dataDir);
  await store.open();
  for (const d of docs) {
    let doc = d.doc as DocByKind[DocKind];
    // The fixture's urac host is 127.0.0.1:4001; the echo upstream stands in for it, for version 2
    // (the version the DSBRD packages' ACL and the hosts record name).
    if (d.kind === 'service' && d.doc.name === 'urac') {
      t.same(d.doc.hosts, { '2': ['127.0.0.1:4001'] });
      doc = { ...d.doc, port: echo.port, maintenancePort: echo.maintenance.port, hosts: { '2': [`127.0.0.1:${echo.port}`] } } satisfies Service;
    }
    t.equal(await store.put(d.kind, doc, { ifVersion: 0 }), 1, `${d.kind} from ${d.origin} written`);
  }

  const config = loadConfig({
    env: {},
    overrides: {
      env: 'dev',
      'gateway.host': '127.0.0.1',
      'gateway.port': 0,
      'gateway.maintenancePort': 0,
      store: `file:${dataDir}`,
      demo: false,
      'timeouts.healthCheckSeconds': 60,
    },
  });
  const sync = await new RegistrySync(store, { env: 'dev' }).start();
  const users = new UserCache(store, 1000);
  const legacyTokens = new DocCache(store, 'legacyToken', 1000);
  const keys = new KeyCache(store, 'dev', 1000);
  const gateway = createGateway(config, {
    holder: sync,
    keys,
    authenticator: new TokenAuthenticator({ users, legacyTokens }),
    injectSecret: await sharedSecret(store, INJECT_SECRET_ID),
  });
  const { port } = await gateway.listen();
  t.teardown(async () => {
    await gateway.close();
    users.close();
    legacyTokens.close();
    keys.close();
    sync.stop();
    await store.close();
  });
  const url = (path: string) => `http://127.0.0.1:${port}${path}`;

  t.test('the DBTN DEV ext key reaches urac\'s public /user (DSBRD_GUEST, urac v2)', async (t) => {
    echo.seen.length = 0;
    const r = await getJson(url('/urac/user?username=owner'), { key: DBTN_DEV_KEY });
    t.equal(r.status, 200);
    t.equal(r.headers.get('x-upstream'), 'echo');
    t.match(r.body, { result: true, data: { method: 'GET', url: '/user?username=owner' } });
    t.equal(echo.seen.length, 1);
    t.match(echo.seen[0]!.inject, { tenant: { id: DBTN_ID, code: 'DBTN' }, key: { eKey: DBTN_DEV_KEY }, application: { package: 'DSBRD_GUEST' } });
    const v2 = await getJson(url('/urac/v2/luser'), { key: DBTN_DEV_KEY });
    t.equal(v2.status, 200, 'the same with the version named');
  });

  t.test('/urac/v3/user: the DSBRD_GUEST ACL has urac version 2 only → 154', async (t) => {
    // As exported, the catalog has urac v2 only. SOAJS checks the ACL version (keyACL, 154) before
    // the registry version (mt, 133) and answers 154 here (soajs-reference §2.4 [observed]).
    const asExported = await getJson(url('/urac/v3/user'), { key: DBTN_DEV_KEY });
    t.equal(asExported.status, 401, 'SOAJS answers 154 (HTTP 401)');
    t.same(asExported.body, soajsError(154, 'Access denied: The service is not available in your current package.'), 'SOAJS body');

    // With urac v3 in the catalog too (a later SOAJS marketplace lists it), only the ACL can refuse it.
    const urac = (await store.get('service', 'urac'))!;
    await store.put('service', { ...urac.doc, versions: { ...urac.doc.versions, '3': { extKeyRequired: true, oauth: true, urac: true } } }, { ifVersion: urac.version });
    await sync.waitFor((await store.load()).version);
    const r = await getJson(url('/urac/v3/user'), { key: DBTN_DEV_KEY });
    t.equal(r.status, 401);
    t.same(r.body, soajsError(154, 'Access denied: The service is not available in your current package.'));
    t.equal((await getJson(url('/urac/user'), { key: DBTN_DEV_KEY })).status, 200, 'unversioned: the latest version the ACL lists (2)');
  });

  t.test('an expired ext key → 148 (HTTP 403)', async (t) => {
    const r = await getJson(url('/urac/user'), { key: EXPIRED_KEY });
    t.equal(r.status, 403);
    t.same(r.body, soajsError(148, 'Unable to load the key information'));
  });

  t.test('the DBTN STG ext key in dev → 144', async (t) => {
    const tenant = JSON.parse(readFileSync(join(FIXTURE, 'tenants', 'dbtn.json'), 'utf8')) as { applications: { keys: { extKeys: { extKey: string }[] }[] }[] };
    const stgKey = tenant.applications[0]!.keys[0]!.extKeys[1]!.extKey;
    const r = await getJson(url('/urac/user'), { key: stgKey });
    t.equal(r.status, 401);
    t.same(r.body, soajsError(144, 'The provided key cannot be used with this environment'));
  });

  t.test('the imported SOAJS access token logs the imported user in; its group\'s package (DSBRD_OWNER) applies', async (t) => {
    echo.seen.length = 0;
    const r = await getJson(url('/urac/muser/5c8d0c505653de3985aa0ffd'), { key: DBTN_DEV_KEY, access_token: ACCESS_TOKEN });
    t.equal(r.status, 200, '/muser/:id (group Member) comes from DSBRD_OWNER, granted by group owner');
    t.equal(echo.seen.length, 1);
    const guest = await getJson(url('/urac/muser/5c8d0c505653de3985aa0ffd'), { key: DBTN_DEV_KEY });
    t.equal(guest.status, 400, 'without it, DSBRD_GUEST has no /muser/:id and a token is demanded (SOAJS: oauthCheck first)');
    t.same(guest.body, soajsError(400, 'The access token was not found'));
    t.equal(echo.seen.length, 1, 'not proxied');
  });
});

t.test('tessera import soajs', async (t) => {
  const dir = tempDir(t, 'tessera-import-cmd-');
  const exportDir = join(dir, 'export');
  cpSync(FIXTURE, exportDir, { recursive: true });
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'tessera.yaml');
  // The seed directory does not exist: openStore seeds nothing.
  writeFileSync(configFile, `store: "file:${dataDir}"\nseed: "${join(dir, 'no-seed')}"\ndemo: false\nenv: dev\n`);

  const run = async (...args: string[]) => {
    let text = '';
    await importCommand(args, { out: (s) => (text += s), env: {} });
    return text;
  };
  const stored = async () => {
    const s = new FileStore(dataDir);
    await s.open();
    const out = {
      products: (await s.list('product')).length,
      tenants: (await s.list('tenant')).length,
      services: (await s.list('service')).length,
      users: (await s.list('user')).length,
      groups: (await s.list('group')).length,
      tokens: (await s.list('legacyToken')).length,
    };
    await s.close();
    return out;
  };

  t.test('usage and fatal input', async (t) => {
    await t.rejects(run('soajs', join(dir, 'missing'), '--config', configFile), { message: /^import: .*missing is not a directory/ });
    await t.rejects(run('soajs', exportDir, '--env', 'prod', '--config', configFile), {
      message: /^import: no environment record for "prod" in .*environment \(found: dev, stg\)$/,
    });
    await t.rejects(run('mongo', exportDir), { message: /^import: unknown source "mongo"/ });
    await t.rejects(run('soajs'), { message: /^import: name the export directory/ });
    await t.rejects(run('soajs', exportDir, '--force'), { message: /^import: unknown option --force/ });
    await t.rejects(run('soajs', exportDir, '--env'), { message: /^import: --env needs a value/ });
    t.notOk(existsSync(dataDir), 'no store was opened');
  });

  t.test('--dry-run prints the plan and writes nothing', async (t) => {
    const out = await run('soajs', exportDir, '--dry-run', '--config', configFile);
    t.match(out, /^plan \(dry run, nothing is written\): import SOAJS export .* \(env dev\) into file:/);
    t.match(out, /would create product DSBRD {2}\[products\/dsbrd\.json\]/);
    t.match(out, /would create tenant DBTN \(5c0e74ba9acc3c5a84a51259\)/);
    t.match(out, /would create service urac/);
    t.match(out, /would create user owner \(5c8d0c505653de3985aa0ffd\)/);
    t.match(out, /would create group 5c0e74ba9acc3c5a84a51259:owner/);
    t.match(out, /would create legacyToken access [0-9a-f]{12}… \(user 5c8d0c505653de3985aa0ffd\)/);
    t.match(out, /warnings \(8\):\n {2}products\/dsbrd\.json: package DSBRD_OWNER/);
    t.match(out, /dry run: would create 10, update 0; unchanged 0, conflicts 0, 2 source record\(s\) skipped \(see warnings\)\n$/);
    t.notOk(out.includes(DBTN_DEV_KEY) || out.includes(ACCESS_TOKEN), 'no secret printed');
    t.same(await stored(), { products: 0, tenants: 0, services: 0, users: 0, groups: 0, tokens: 0 });
  });

  t.test('import, then again: unchanged', async (t) => {
    const out = await run('soajs', exportDir, '--config', configFile);
    t.match(out, /^plan: import SOAJS export/);
    t.match(out, /\n {2}create tenant DBTN/);
    t.match(out, /imported: created 10, updated 0, unchanged 0, conflicts 0, failed 0, 2 source record\(s\) skipped/);
    t.same(await stored(), { products: 1, tenants: 1, services: 4, users: 1, groups: 1, tokens: 2 });
    const again = await run('soajs', exportDir, '--config', configFile);
    t.match(again, /\n {2}unchanged product DSBRD\n/);
    t.match(again, /imported: created 0, updated 0, unchanged 10, conflicts 0, failed 0/);
  });

  t.test('a changed export updates the changed fields; a password set in Tessera is kept', async (t) => {
    // The user logged in to Tessera since (the oauth service re-hashed the SOAJS bcrypt hash).
    const s = new FileStore(dataDir);
    await s.open();
    const owner = (await s.get('user', '5c8d0c505653de3985aa0ffd'))!;
    const scrypt = await hashPassword('changed in tessera');
    await s.put('user', { ...owner.doc, passwordHash: scrypt } satisfies User, { ifVersion: owner.version });
    await s.close();

    const tenantFile = join(exportDir, 'tenants', 'dbtn.json');
    const tenant = JSON.parse(readFileSync(tenantFile, 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- fixture JSON
    tenant['name'] = 'Console Tenant (renamed)';
    tenant['applications'][0].keys[0].extKeys[0].expDate = 4102444800000;
    writeFileSync(tenantFile, JSON.stringify(tenant));

    const plan = await run('soajs', exportDir, '--dry-run', '--config', configFile);
    t.match(plan, /would update tenant DBTN \(5c0e74ba9acc3c5a84a51259\): name, applications\[0\]\.keys\[0\]\.extKeys\[0\]\.expDate {2}\[tenants\/dbtn\.json\]/);
    t.match(plan, /unchanged user owner/);
    t.match(plan, /dry run: would create 0, update 1; unchanged 9/);
    const out = await run('soajs', exportDir, '--config', configFile);
    t.match(out, /imported: created 0, updated 1, unchanged 9, conflicts 0, failed 0/);

    const check = new FileStore(dataDir);
    await check.open();
    const dbtn = (await check.get('tenant', DBTN_ID))!;
    t.equal(dbtn.version, 2);
    t.equal((dbtn.doc as Tenant).name, 'Console Tenant (renamed)');
    t.equal((dbtn.doc as Tenant).applications[0]!.keys[0]!.extKeys[0]!.expDate, 4102444800000);
    t.equal((await check.get('user', '5c8d0c505653de3985aa0ffd'))!.doc.passwordHash, scrypt);
    await check.close();
  });

  t.test('a username taken by another user is a conflict: not written, non-zero exit', async (t) => {
    const s = new FileStore(dataDir);
    await s.open();
    const owner = (await s.get('user', '5c8d0c505653de3985aa0ffd'))!;
    await s.delete('user', owner.doc.id);
    await s.put('user', { ...owner.doc, id: 'someoneelse' }, { ifVersion: 0 });
    await s.close();
    let text = '';
    await t.rejects(importCommand(['soajs', exportDir, '--config', configFile], { out: (x) => (text += x), env: {} }), {
      message: 'import: 1 document(s) were not written (see the conflicts/failures above)',
    });
    t.match(text, /conflict user owner \(5c8d0c505653de3985aa0ffd\): username "owner" belongs to user someoneelse — not written/);
    t.match(text, /imported: created 0, updated 0, unchanged 9, conflicts 1, failed 0/);
  });
});
