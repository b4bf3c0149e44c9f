import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { compileServiceAcl } from '../../registry/view/acl.js';
import { readSoajsExport, SoajsImportError, type ImportedDoc } from '../../registry/control/import-soajs.js';
import { hashExtKey, keyHint } from '../../registry/view/keys.js';
import { needsRehash } from '../../registry/control/password.js';
import { validateDocument } from '../../registry/control/schema.js';
import type { DocByKind, DocKind } from '../../registry/view/types.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/soajs-provision', import.meta.url));

/** The DBTN DEV ext key of tenants/dbtn.json (fixture README: `3d90163c…f3ce9`). */
const DBTN_DEV_KEY =
  '3d90163cf9d6b3076ad26aa5ed58556348069258e5c6c941ee0f18448b570ad1c5c790e2d2a1989680c55f4904e2005ff5f8e71606e4aa641e67882f4210ebbc5460ff305dcb36e6ec2a2299cf0448ef60b9e38f41950ec251c1cf41f05f3ce9';
const DBTN_ID = '5c0e74ba9acc3c5a84a51259';
const ACCESS_TOKEN = 'cfb209a91b23896820f510aadbf1f4284b512123';
const REFRESH_TOKEN = 'e1744ca81989274e052b9bb8f4f3b9f7a2400426';

function only<K extends DocKind>(docs: ImportedDoc[], kind: K): DocByKind[K][] {
  return docs.filter((d) => d.kind === kind).map((d) => d.doc as DocByKind[K]);
}

function find<K extends DocKind>(docs: ImportedDoc[], kind: K, pred: (d: DocByKind[K]) => boolean): DocByKind[K] {
  const d = only(docs, kind).find(pred);
  if (d === undefined) throw new Error(`no ${kind} matched`);
  return d;
}

/** A copy of the fixture in a temp dir, to add or break records in. */
function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-soajs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

function write(dir: string, rel: string, value: unknown): void {
  mkdirSync(join(dir, rel, '..'), { recursive: true });
  writeFileSync(join(dir, rel), typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- fixture JSON
const fixtureJson = (rel: string) => JSON.parse(readFileSync(join(FIXTURE, rel), 'utf8')) as Record<string, any>;

t.test('the controller provision fixture converts completely', async (t) => {
  const { docs, report } = readSoajsExport(FIXTURE, { env: 'dev' });
  t.same(report.counts, { product: 1, service: 4, tenant: 1, group: 1, user: 1, legacyToken: 2 });
  t.equal(report.skipped, 2, 'the two endpoints');
  t.same(report.warnings.sort(), [
    'customRegistry/: 1 record(s): custom registry entries (gateway maintenance mode, ip2ban, whitelist, lastSeen, roaming, urac) are not imported',
    'marketplace/pt.json: marketplace pt: type "endpoint" is not imported — Tessera routes services to hosts; endpoints (upstream URLs) and daemons have no equivalent',
    'marketplace/pt2.json: marketplace pt2: type "endpoint" is not imported — Tessera routes services to hosts; endpoints (upstream URLs) and daemons have no equivalent',
    'products/dsbrd.json: package DSBRD_OWNER: dev.dashboard v1: post group "Private Tenant ACL" is not in the product scope (ignored, as SOAJS does)',
    'products/dsbrd.json: package DSBRD_OWNER: dev.oauth v1: delete group "Tokenization" appears 2 times in the product scope; only the first is used (as SOAJS does)',
    'products/dsbrd.json: package DSBRD_OWNER: dev.oauth v1: method "post" is not in the product scope (ignored, as SOAJS does)',
    'products/dsbrd.json: package DSBRD_OWNER: dev.urac v2: get group "Login" is not in the product scope (ignored, as SOAJS does)',
    'resources/: 1 record(s): resources (database clusters) are not imported',
  ]);
  for (const d of docs) t.doesNotThrow(() => validateDocument(d.kind, d.doc), `${d.kind} from ${d.origin} is valid`);
  t.same(
    docs.map((d) => d.kind),
    ['product', 'service', 'service', 'service', 'service', 'tenant', 'group', 'user', 'legacyToken', 'legacyToken'],
    'products and services before the tenants, users and tokens that name them',
  );
});

t.test('products: the scope + group form compiles as SOAJS getACL does', async (t) => {
  const { docs } = readSoajsExport(FIXTURE, { env: 'dev' });
  const p = find(docs, 'product', (x) => x.code === 'DSBRD');
  t.equal(p.name, 'Console UI Product');
  t.same(p.packages.map((x) => x.code), ['DSBRD_GUEST', 'DSBRD_OWNER']);
  for (const pkg of p.packages) {
    t.same(Object.keys(pkg.acl), ['dev'], `${pkg.code}: only the envs the package lists`);
    for (const [service, entry] of Object.entries(pkg.acl['dev']!)) {
      t.doesNotThrow(() => compileServiceAcl(entry), `${pkg.code} ${service} compiles`);
    }
  }
  const guest = p.packages[0]!.acl['dev']!;
  t.same(guest, {
    urac: { '2': { access: true, apisPermission: 'restricted', get: { apis: { '/user': { access: false }, '/luser': { access: false } } } } },
  });
  const owner = p.packages[1]!.acl['dev']!;
  t.same(owner['urac'], {
    '2': {
      access: true,
      apisPermission: 'restricted',
      get: { apis: { '/user': { access: false }, '/luser': { access: false }, '/muser/:id': { access: true } } },
    },
  }, 'groups Guest + Member merged; Login (not in the scope) ignored');
  t.same(owner['oauth'], {
    '1': { access: false, get: { apis: { '/token': { access: false } } }, delete: { apis: { '/accessToken/:token': { access: true } } } },
  }, 'post (absent from the scope) ignored; of two "Tokenization" groups only the first is taken');
  t.same(owner['payment'], { '1': { access: true } }, 'no method listed, none in the scope: access only');
  t.same(owner['dashboard'], { '1': { access: true, post: {} } }, 'a listed method whose groups are unknown is an empty section');
  t.same(Object.keys((owner['httpmethods'] as Record<string, object>)['1']!).sort(), ['access', 'delete', 'get', 'head', 'options', 'patch', 'post', 'put']);
});

t.test('products: every scope rule, the granular form and env handling', async (t) => {
  const dir = scratch(t);
  const scope = {
    acl: {
      DEV: {
        svc: {
          '1': {
            access: true,
            packagesPermission: 'restricted',
            get: [
              { group: 'A', apis: { '/a': { access: false, l: 'label dropped' } } },
              { group: 'B', apis: { '/b': {} }, apisRegExp: [{ regExp: '^/b/[0-9]+$', access: true }] },
            ],
            post: [{ group: 'A', apis: { '/a': { access: ['admin'] } } }],
          },
          '1x1': { access: false, get: [{ group: 'A', apis: { '/v11': {} } }] },
        },
        legacy: { access: true, get: [{ group: 'A', apis: { '/l': {} } }] },
      },
      stg: { svc: { '1': { access: false, get: [{ group: 'A', apis: { '/s': {} } }] } } },
    },
  };
  write(dir, 'products/x.json', {
    code: 'XPROD',
    name: 'X',
    scope,
    packages: [
      // methods listed + packagesPermission → restricted
      { code: 'XPROD_LISTED', name: 'Listed', acl: { dev: { svc: [{ version: '1', get: ['B'] }] } } },
      // no method → every method and group of the scope, not restricted
      { code: 'XPROD_ALL', name: 'All', acl: { DEV: { svc: [{ version: '1' }] }, stg: { svc: [{ version: '1' }] } } },
      // "1.1" finds the scope's "1x1"; unversioned entry against an unversioned scope
      { code: 'XPROD_V11', name: 'V11', acl: { dev: { svc: [{ version: '1.1', get: ['A'] }], legacy: [{ get: ['A'] }] } } },
      // unknown env / service / version: nothing granted
      { code: 'XPROD_NONE', name: 'None', acl: { prod: { svc: [{ version: '1' }] }, dev: { nosvc: [{ version: '1' }], svc: [{ version: '9' }] } } },
      // granular: used as is
      { code: 'XPROD_GRAN', name: 'Gran', aclType: 'granular', acl: { DEV: { svc: { '1': { access: false, get: { apis: { '/g': {} } } } } } } },
      { code: 'XPROD_BYENV', name: 'ByEnv', aclTypeByEnv: { dev: 'granular' }, acl: { dev: { svc: { '3': {} } }, stg: { svc: [{ version: '1' }] } } },
    ],
  });
  write(dir, 'products/noscope.json', {
    code: 'NOSC',
    name: 'No scope',
    packages: [{ code: 'NOSC_A', name: 'A', acl: { urac: { '2': { access: false } } } }],
  });
  const { docs, report } = readSoajsExport(dir, { env: 'dev' });
  const x = find(docs, 'product', (p) => p.code === 'XPROD');
  const pkg = (code: string) => x.packages.find((p) => p.code === code)!.acl;
  t.same(pkg('XPROD_LISTED'), {
    dev: {
      svc: {
        '1': {
          access: true,
          apisPermission: 'restricted',
          get: { apis: { '/b': {} }, apisRegExp: [{ regExp: '^/b/[0-9]+$', access: true }] },
        },
      },
    },
  });
  t.same(pkg('XPROD_ALL'), {
    dev: {
      svc: {
        '1': {
          access: true,
          get: { apis: { '/a': { access: false }, '/b': {} }, apisRegExp: [{ regExp: '^/b/[0-9]+$', access: true }] },
          post: { apis: { '/a': { access: ['admin'] } } },
        },
      },
    },
    stg: { svc: { '1': { access: false, get: { apis: { '/s': {} } } } } },
  }, 'env keys lower-cased; packagesPermission does not restrict when no method is listed');
  t.same(pkg('XPROD_V11'), {
    dev: { svc: { '1.1': { access: false, get: { apis: { '/v11': {} } } } }, legacy: { access: true, get: { apis: { '/l': {} } } } },
  });
  t.same(pkg('XPROD_NONE'), { dev: {} }, 'nothing granted; prod (not in the scope) left out');
  t.same(pkg('XPROD_GRAN'), { dev: { svc: { '1': { access: false, get: { apis: { '/g': {} } } } } } });
  t.same(pkg('XPROD_BYENV'), { dev: { svc: { '3': {} } }, stg: { svc: { '1': { access: false, get: { apis: { '/s': {} } } } } } });
  for (const p of x.packages) {
    for (const acl of Object.values(p.acl)) for (const e of Object.values(acl)) t.doesNotThrow(() => compileServiceAcl(e));
  }
  t.same(find(docs, 'product', (p) => p.code === 'NOSC').packages[0]!.acl, { dev: { urac: { '2': { access: false } } } }, 'no scope, no env keys: under the import env');
  t.ok(report.warnings.some((w) => w.startsWith('products/x.json: package XPROD_NONE: env "prod" is not in the product scope')));
  t.ok(report.warnings.some((w) => w.includes('XPROD_NONE: dev.nosvc is not in the product scope')));
  t.ok(report.warnings.some((w) => w.includes('XPROD_NONE: dev.svc v9: version is not in the product scope')));
  t.ok(report.warnings.some((w) => w.includes('products/noscope.json: package NOSC_A: ACL is not keyed by environment')));
});

t.test('tenants: ext keys hashed, env codes kept, oauth, applications', async (t) => {
  const fixture = fixtureJson('tenants/dbtn.json');
  t.equal(fixture['applications'][0].keys[0].extKeys[0].extKey, DBTN_DEV_KEY, 'the README key is the fixture DEV key');
  const { docs } = readSoajsExport(FIXTURE, { env: 'dev' });
  const dbtn = find(docs, 'tenant', (x) => x.code === 'DBTN');
  t.equal(dbtn.id, DBTN_ID);
  t.equal(dbtn.type, 'product');
  t.equal(dbtn.main, undefined);
  t.same(dbtn.oauth, { secret: 'this is a secret', disabled: false, loginMode: 'urac' });
  const app = dbtn.applications[0]!;
  t.match(app, { appId: '5c0e74ba9acc3c5a84a5125a', product: 'DSBRD', package: 'DSBRD_GUEST' });
  t.equal(app.acl, undefined);
  const key = app.keys[0]!;
  t.equal(key.key, 'a139786a6e6d18e48b4987e83789430b');
  t.same(Object.keys(key.config ?? {}), ['dev']);
  t.same((key.config!['dev'] as Record<string, unknown>)['oauth'], { loginMode: 'urac' });
  const [devKey, stgKey] = key.extKeys;
  t.equal(devKey!.keyHash, hashExtKey(DBTN_DEV_KEY));
  t.equal(devKey!.hint, keyHint(DBTN_DEV_KEY));
  t.equal(devKey!.env, 'DEV', 'env code as given (the gateway lower-cases)');
  t.equal(devKey!.expDate, null);
  t.equal(stgKey!.env, 'STG');
  t.equal(stgKey!.keyHash, hashExtKey(fixture['applications'][0].keys[0].extKeys[1].extKey));
  const text = JSON.stringify(dbtn);
  t.notOk(text.includes(DBTN_DEV_KEY.slice(0, 40)), 'no plaintext ext key in the document');
  t.notOk(text.includes('dashboardAccess') || text.includes('_TTL'), 'SOAJS-only fields dropped');
});

t.test('tenants: sub-tenants, application ACLs, expiry dates', async (t) => {
  const dir = scratch(t);
  const ext = (n: number) => n.toString(16).padStart(2, '0').repeat(96);
  write(dir, 'tenants/sub.json', [
    {
      _id: { $oid: '5c0e74ba9acc3c5a84a5aaaa' },
      code: 'SUBT',
      name: 'Sub tenant',
      type: 'client',
      tenant: { id: DBTN_ID, code: 'DBTN' },
      oauth: { secret: 's', disabled: 1, type: 2, loginMode: 'oauth' },
      applications: [
        {
          product: 'DSBRD',
          package: 'DSBRD_OWNER',
          appId: 'app1',
          acl: { urac: { '2': { access: false } } },
          keys: [
            {
              key: 'b'.repeat(32),
              extKeys: [
                { extKey: ext(1), env: 'dev', expDate: 1700000000000 },
                { extKey: ext(2), env: 'DEV', expDate: '2030-01-01T00:00:00.000Z' },
                { extKey: ext(3), env: 'DEV', expDate: { $date: '2031-01-01T00:00:00.000Z' }, geo: { allow: ['10.0.0.0/8'] }, label: 'l' },
                { extKey: ext(4) },
              ],
            },
          ],
        },
        {
          product: 'DSBRD',
          package: 'DSBRD_GUEST',
          appId: 'app2',
          acl: { DEV: { urac: { '2': { access: true } } }, STG: { oauth: { '1': {} } } },
          keys: [{ key: 'c'.repeat(32), extKeys: [] }],
        },
      ],
    },
  ]);
  const { docs, report } = readSoajsExport(dir, { env: 'dev' });
  const sub = find(docs, 'tenant', (x) => x.code === 'SUBT');
  t.equal(sub.id, '5c0e74ba9acc3c5a84a5aaaa', 'extended-JSON $oid read');
  t.equal(sub.type, 'client');
  t.same(sub.main, { id: DBTN_ID, code: 'DBTN' });
  t.same(sub.oauth, { secret: 's', disabled: true, loginMode: 'oauth' });
  t.same(sub.applications[0]!.acl, { dev: { urac: { '2': { access: false } } } }, 'legacy non-env-keyed ACL under the import env');
  t.same(sub.applications[1]!.acl, { dev: { urac: { '2': { access: true } } }, stg: { oauth: { '1': {} } } }, 'env-keyed ACL lower-cased');
  const keys = sub.applications[0]!.keys[0]!.extKeys;
  t.same(
    keys.map((k) => [k.env, k.expDate]),
    [
      ['dev', 1700000000000],
      ['DEV', '2030-01-01T00:00:00.000Z'],
      ['DEV', Date.parse('2031-01-01T00:00:00.000Z')],
      ['dev', null],
    ],
    'expDate numbers and ISO strings kept, {$date} to ms; a key without env gets the import env',
  );
  t.same(keys[2]!.geo, { allow: ['10.0.0.0/8'] });
  t.equal(keys[2]!.label, 'l');
  t.ok(report.warnings.some((w) => w.includes('tenants/sub.json[0]: tenant SUBT: applications[0].acl: ACL is not keyed by environment')));
  t.ok(report.warnings.some((w) => w.includes('field "applications[0].keys[0].extKeys[3].env" is not set')));
});

t.test('services: marketplace + hosts of the import env', async (t) => {
  const { docs } = readSoajsExport(FIXTURE, { env: 'dev' });
  const urac = find(docs, 'service', (s) => s.name === 'urac');
  t.same(urac, {
    name: 'urac',
    group: 'SOAJS Core Services',
    port: 4001,
    maintenancePort: 4001 + 1001,
    requestTimeout: 30,
    versions: {
      '2': {
        extKeyRequired: true,
        oauth: true,
        urac: false,
        urac_Profile: false,
        urac_ACL: false,
        urac_Config: false,
        urac_GroupConfig: false,
        tenant_Profile: false,
        provision_ACL: false,
      },
    },
    hosts: { '2': ['127.0.0.1:4001'] },
  }, 'maintenance type "maintenance": port + the env\'s maintenanceInc (1001)');
  const oauth = find(docs, 'service', (s) => s.name === 'oauth');
  t.equal(oauth.port, 4004, 'the hosts record overrides the catalog port 4002, as in SOAJS');
  t.equal(oauth.maintenancePort, 5005);
  t.same(oauth.hosts, { '1': ['127.0.0.1:4004'] });
  t.notOk(only(docs, 'service').some((s) => s.name === 'pt' || s.name === 'pt2'), 'endpoints are not services');

  const stg = readSoajsExport(FIXTURE, { env: 'STG' });
  t.equal(find(stg.docs, 'service', (s) => s.name === 'urac').hosts, undefined, 'no hosts record for stg');
  t.equal(find(stg.docs, 'service', (s) => s.name === 'oauth').port, 4002, 'catalog port without a hosts record');

  const dir = scratch(t);
  write(dir, 'marketplace/more.json', [
    {
      type: 'service',
      name: 'inherit',
      configuration: { port: 4100 },
      versions: [{ version: '1', extKeyRequired: true, maintenance: { port: { type: 'inherit' }, readiness: '/hb' } }],
    },
    {
      type: 'service',
      name: 'custom',
      configuration: { port: 4101, requestTimeout: 0 },
      versions: [
        { version: '1.1', maintenance: { port: { type: 'custom', value: 6000 } }, customByEnv: { DEV: { extKeyRequired: true, oauth: false } } },
        { version: '2' },
      ],
    },
    { type: 'service', name: 'bare', configuration: { port: 4102 }, versions: [{ version: '1' }] },
    { type: 'service', name: 'controller', configuration: { port: 4000 }, versions: [{ version: '1' }] },
    { type: 'mdaemon', name: 'daemon1', configuration: { port: 4103 }, versions: [{ version: '1' }] },
  ]);
  write(dir, 'hosts/more.json', [
    { env: 'DEV', name: 'custom', ip: '10.0.0.1', version: '1.1', port: 4101 },
    { env: 'dev', name: 'custom', ip: '10.0.0.2', version: '1.1', port: 4101 },
    { env: 'dev', name: 'custom', ip: 'fd00::1', version: '2', port: 4101 },
    { env: 'prod', name: 'custom', ip: '10.9.9.9', version: '1.1', port: 4101 },
    { env: 'dev', name: 'ghost', ip: '10.0.0.3', version: '1', port: 1 },
  ]);
  const more = readSoajsExport(dir, { env: 'dev' });
  t.same(find(more.docs, 'service', (s) => s.name === 'inherit'), {
    name: 'inherit',
    port: 4100,
    maintenancePort: 4100,
    versions: { '1': { extKeyRequired: true, oauth: true } },
  }, 'oauth true when absent; inherit → the service port');
  t.same(find(more.docs, 'service', (s) => s.name === 'custom'), {
    name: 'custom',
    port: 4101,
    maintenancePort: 6000,
    versions: { '1.1': { extKeyRequired: true, oauth: false }, '2': { extKeyRequired: false, oauth: true } },
    hosts: { '1.1': ['10.0.0.1:4101', '10.0.0.2:4101'], '2': ['[fd00::1]:4101'] },
  }, 'custom maintenance port; customByEnv of the import env; requestTimeout 0 left out; other envs\' hosts ignored');
  t.equal(find(more.docs, 'service', (s) => s.name === 'bare').maintenancePort, 4102 + 1001, 'no maintenance declared: port + maintenanceInc');
  t.notOk(only(more.docs, 'service').some((s) => s.name === 'controller' || s.name === 'daemon1'));
  t.ok(more.report.warnings.some((w) => w.startsWith('marketplace/more.json[4]: marketplace daemon1: type "mdaemon" is not imported')));
  t.ok(more.report.warnings.includes('hosts/more.json[4]: host: service "ghost" is not in the marketplace — skipped'));
});

t.test('URAC users and groups', async (t) => {
  const { docs } = readSoajsExport(FIXTURE, { env: 'dev' });
  const [user] = only(docs, 'user');
  const source = fixtureJson('urac/users/owner.json');
  t.same(user, {
    id: '5c8d0c505653de3985aa0ffd',
    username: 'owner',
    passwordHash: source['password'],
    firstName: "owner3'sèį",
    lastName: 'owner',
    email: 'me@localhost.com',
    status: 'active',
    groups: ['owner'],
    tenant: { id: DBTN_ID, code: 'DBTN' },
    profile: {},
    config: {
      allowedTenants: [
        { tenant: { id: 'THYME_tID', code: 'THYME_CODE' }, groups: ['waiter'] },
        { tenant: { id: 'ELVIRA_tID', code: 'ELVIRA_CODE' }, groups: ['manager'] },
      ],
    },
    ts: 1552747600152,
  });
  t.ok(user!.passwordHash.startsWith('$2a$12$'), 'bcrypt hash kept');
  t.ok(needsRehash(user!.passwordHash), 'the oauth service re-hashes it at the next login');
  t.same(only(docs, 'group'), [
    {
      id: `${DBTN_ID}:owner`,
      code: 'owner',
      name: 'Owner Group',
      description: 'this is the owner group that owns the dashboard',
      tenant: { id: DBTN_ID, code: 'DBTN' },
      config: { allowedPackages: { DSBRD: ['DSBRD_OWNER'] } },
    },
  ]);

  const dir = scratch(t);
  const hash = fixtureJson('urac/users/owner.json')['password'] as string;
  write(dir, 'urac/users/x-more.json', [
    { _id: 'u2', username: 'OWNER', password: hash, firstName: 'x', lastName: 'y', email: 'a@b.c', status: 'active', groups: [], tenant: { id: DBTN_ID, code: 'DBTN' } },
    { _id: 'u3', username: 'joiner', password: hash, status: 'pendingJoin', groups: ['g'], tenant: { id: DBTN_ID, code: 'DBTN', pin: { code: '1', allowed: true } }, config: { keys: { ['a'.repeat(32)]: { config: { urac: { x: 1 } } } }, packages: { P_A: { acl: { urac: { access: true } } } } } },
    { _id: 'u4', username: 'social', groups: [], status: 'active', tenant: { id: DBTN_ID, code: 'DBTN' }, socialId: { github: {} } },
  ]);
  const more = readSoajsExport(dir, { env: 'dev' });
  t.same(only(more.docs, 'user').map((u) => u.id), ['5c8d0c505653de3985aa0ffd', 'u3']);
  const joiner = find(more.docs, 'user', (u) => u.id === 'u3');
  t.equal(joiner.status, 'pending');
  t.same(joiner.tenant, { id: DBTN_ID, code: 'DBTN' });
  t.same(joiner.config, { keys: { ['a'.repeat(32)]: { config: { urac: { x: 1 } } } }, packages: { P_A: { acl: { urac: { access: true } } } } });
  t.equal(joiner.firstName, '');
  t.ok(more.report.warnings.includes(
    'urac/users/x-more.json[0]: user: field "username" "OWNER" is already used by user 5c8d0c505653de3985aa0ffd — skipped (usernames are unique across tenants)',
  ), 'usernames are unique regardless of case');
  t.ok(more.report.warnings.includes(
    'urac/users/x-more.json[2]: user social: field "password" is missing — skipped (Tessera logs users in by password only)',
  ));
});

t.test('oauth tokens become legacy tokens', async (t) => {
  const { docs } = readSoajsExport(FIXTURE, { env: 'dev' });
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  t.same(only(docs, 'legacyToken'), [
    { id: sha(ACCESS_TOKEN), type: 'access', userId: '5c8d0c505653de3985aa0ffd', tenantId: DBTN_ID, env: 'dev', expiresAt: Date.parse('2099-01-01T00:00:00.000Z') },
    { id: sha(REFRESH_TOKEN), type: 'refresh', userId: '5c8d0c505653de3985aa0ffd', tenantId: DBTN_ID, env: 'dev', expiresAt: Date.parse('2099-01-01T00:00:00.000Z') },
  ]);
  t.notOk(JSON.stringify(docs).includes(ACCESS_TOKEN), 'the token itself is not kept');
  const later = readSoajsExport(FIXTURE, { env: 'dev', now: Date.parse('2099-06-01T00:00:00.000Z') });
  t.equal(later.report.counts.legacyToken, 0, 'expired tokens are not imported');
  t.ok(later.report.warnings.includes('oauth/token/access_token.json: token: expired at 2099-01-01T00:00:00.000Z — skipped'));
});

t.test('bad input becomes warnings naming the file and the field', async (t) => {
  const dir = scratch(t);
  const tenant = fixtureJson('tenants/dbtn.json');
  write(dir, 'tenants/x-bad-key.json', {
    ...tenant,
    _id: 'badtenant1',
    code: 'BAD1',
    applications: [{ ...tenant['applications'][0], keys: [{ key: 'not-hex', extKeys: [] }] }],
  });
  write(dir, 'tenants/x-bad-extkey.json', {
    ...tenant,
    _id: 'badtenant2',
    code: 'BAD2',
    applications: [{ ...tenant['applications'][0], keys: [{ key: 'd'.repeat(32), extKeys: [{ extKey: 'XYZ', env: 'DEV' }, { extKey: DBTN_DEV_KEY, env: 'DEV' }] }] }],
  });
  write(dir, 'tenants/broken.json', '{ "code": ');
  write(dir, 'products/bad.json', [
    { code: 'BADP', name: 'Bad', packages: [{ code: 'OTHER_X', name: 'x', acl: {} }] },
    { code: 'BADQ', name: 'Bad', packages: [{ code: 'BADQ_X', name: 'x', acl: { dev: { svc: { '1': { access: 'yes' } } } } }] },
  ]);
  write(dir, 'marketplace/bad.json', { type: 'service', name: 'badsvc', configuration: { port: 'eighty' }, versions: [{ version: '1' }] });
  write(dir, 'urac/users/bad.json', { _id: 'ub', username: 'baduser', password: '$2a$10$abcdefghijklmnopqrstuv', status: 'deleted', groups: [], tenant: { id: DBTN_ID, code: 'DBTN' } });
  write(dir, 'urac/groups/bad.json', [{ code: 'nogroup', name: 'No tenant' }, { code: 'bad code!', name: 'x', tenant: { id: DBTN_ID, code: 'DBTN' } }]);
  write(dir, 'oauth/token/bad.json', [
    { type: 'authCode', token: 'x', clientId: DBTN_ID, user: { _id: 'u' }, env: 'dev', expires: '2099-01-01T00:00:00.000Z' },
    { type: 'accessToken', token: 'y', clientId: DBTN_ID, user: { _id: 'u' }, env: 'dev', expires: 'never' },
    { type: 'accessToken', token: 'z', clientId: DBTN_ID, env: 'dev', expires: '2099-01-01T00:00:00.000Z' },
  ]);
  write(dir, 'hosts/bad.json', { env: 'dev', name: 'urac', version: '2', port: 4001 });

  let result: ReturnType<typeof readSoajsExport> | undefined;
  t.doesNotThrow(() => (result = readSoajsExport(dir, { env: 'dev' })));
  const { docs, report } = result!;
  const has = (prefix: string, ...parts: string[]) =>
    t.ok(report.warnings.some((w) => w.startsWith(prefix) && parts.every((p) => w.includes(p))), `${prefix} … ${parts.join(' … ')}`);
  has('tenants/x-bad-key.json: tenant: field "applications[0].keys[0].key"', 'skipped');
  has('tenants/x-bad-extkey.json: tenant BAD2: field "applications[0].keys[0].extKeys[0].extKey" is not a lower-case hex ext key');
  has('tenants/x-bad-extkey.json: tenant BAD2: field "applications[0].keys[0].extKeys[1].extKey" is also held by tenant 5c0e74ba9acc3c5a84a51259');
  has('tenants/broken.json: not valid JSON');
  has('products/bad.json[0]: product: field "packages[0].code" must start with "BADP_"');
  has('products/bad.json[1]: product: field "packages[0].acl.dev.svc.1.access"');
  has('marketplace/bad.json: service: field "port"');
  has('urac/users/bad.json: user: field "status"', '"active", "inactive", "pending"');
  has('urac/groups/bad.json[0]: group nogroup: field "tenant" is missing');
  has('urac/groups/bad.json[1]: group: field "code"');
  has('oauth/token/bad.json[0]: token: field "type" is "authCode"');
  has('oauth/token/bad.json[1]: token: field "expires" is not a date');
  has('oauth/token/bad.json[2]: legacyToken: field "userId"');
  has('hosts/bad.json: host: field "ip" is missing');

  // The good records still convert; BAD2 keeps its tenant, minus the two unusable ext keys.
  t.same(report.counts, { product: 1, service: 4, tenant: 2, group: 1, user: 1, legacyToken: 2 });
  t.same(find(docs, 'tenant', (x) => x.code === 'BAD2').applications[0]!.keys[0]!.extKeys, []);
  t.equal(report.skipped, 2 + 1 + 2 + 1 + 2 + 1 + 1 + 2 + 3 + 1, 'endpoints, ext keys, broken JSON, products, service, user, groups, tokens, host');
});

t.test('fatal input: no directory, no environment record', async (t) => {
  t.throws(() => readSoajsExport(join(FIXTURE, 'nope'), { env: 'dev' }), SoajsImportError);
  t.throws(() => readSoajsExport(join(FIXTURE, 'nope'), { env: 'dev' }), { message: /^import: .*nope is not a directory$/ });
  t.throws(() => readSoajsExport(FIXTURE, { env: 'prod' }), {
    name: 'SoajsImportError',
    message: /^import: no environment record for "prod" in .*environment \(found: dev, stg\)$/,
  });
  t.equal(readSoajsExport(FIXTURE, { env: 'DEV' }).report.counts.tenant, 1, '--env is case-insensitive');
});
