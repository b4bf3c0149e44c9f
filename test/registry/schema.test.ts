import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { validateDocument, ValidationError } from '../../registry/control/schema.js';
import { readSeed, SeedError, type SeedDoc } from '../../registry/control/seed.js';
import type { DocKind, Product, Service, Tenant } from '../../registry/view/types.js';

const DEMO = fileURLToPath(new URL('../../../config/demo', import.meta.url));

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);
const IKEY_1 = '0123456789abcdef0123456789abcdef';
const IKEY_2 = 'fedcba9876543210fedcba9876543210';

function product(): Product {
  return {
    code: 'EXAMP',
    name: 'Example product',
    packages: [
      {
        code: 'EXAMP_BASIC',
        name: 'Basic',
        acl: { dev: { oauth: { '1': { access: false, get: { apis: { '/authorization': { access: false } } } } } } },
      },
      {
        code: 'EXAMP_3ZE08',
        name: 'example03',
        acl: {
          dev: {
            example03: { '1': { access: false } },
            urac: { '3': { access: false, apisPermission: 'restricted', get: { apis: { '/user/:id': { access: ['owner'] } } } } },
          },
          prod: { legacy: { access: true, apis: { '/x': {} } } },
        },
      },
    ],
  };
}

function tenant(): Tenant {
  return {
    id: '5e2c431c9cd7c25097e12b9e',
    code: 'EXAMP',
    name: 'Tenant example',
    type: 'product',
    oauth: { secret: 'this is a secret', loginMode: 'urac' },
    applications: [
      {
        appId: '5e2c431c9cd7c23aace12b9f',
        product: 'EXAMP',
        package: 'EXAMP_BASIC',
        keys: [
          {
            key: IKEY_1,
            config: { dev: { example03: { tenantName: 'Tenant example' } } },
            extKeys: [
              {
                keyHash: HASH_A,
                hint: 'abcdef',
                env: 'dev',
                expDate: null,
                geo: { allow: ['10.0.0.0/8'] },
                device: { allow: [{ family: 'Chrome', major: { min: '100' } }] },
                label: 'basic',
              },
            ],
          },
        ],
      },
    ],
  };
}

function service(): Service {
  return {
    name: 'example03',
    group: 'Examples',
    port: 4023,
    requestTimeout: 30,
    versions: { '1': { extKeyRequired: true, oauth: true, urac: false } },
    hosts: { '1': ['127.0.0.1:4023'] },
  };
}

/** The ValidationError thrown for `doc`; fails the test (by throwing) when there is none. */
function rejection(kind: DocKind, doc: unknown): ValidationError {
  try {
    validateDocument(kind, doc);
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error(`${kind} document was accepted`);
}

/** The error thrown by fn, or a test failure. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('did not throw');
}

t.test('valid demo-like documents pass and are returned as is', async (t) => {
  const p = product();
  const tn = tenant();
  const s = service();
  t.equal(validateDocument('product', p), p);
  t.equal(validateDocument('tenant', tn), tn);
  t.equal(validateDocument('service', s), s);
  t.same(p, product(), 'validation does not alter the document');
  t.same(tn, tenant());
  t.same(s, service());
});

t.test('bad fields are named by their dotted path', async (t) => {
  const badKey = tenant();
  badKey.applications[0]!.keys[0]!.key = 'NOT-HEX';
  const e1 = rejection('tenant', badKey);
  t.equal(e1.name, 'ValidationError');
  t.equal(e1.field, 'applications[0].keys[0].key');
  t.match(e1.message, /^tenant: field "applications\[0\]\.keys\[0\]\.key" must match pattern/);

  const badHash = tenant();
  badHash.applications[0]!.keys[0]!.extKeys[0]!.keyHash = 'abc';
  t.equal(rejection('tenant', badHash).field, 'applications[0].keys[0].extKeys[0].keyHash');

  const badDate = tenant();
  badDate.applications[0]!.keys[0]!.extKeys[0]!.expDate = 'next tuesday';
  t.equal(rejection('tenant', badDate).field, 'applications[0].keys[0].extKeys[0].expDate');

  const badType = tenant() as unknown as { type: string };
  badType.type = 'reseller';
  const e2 = rejection('tenant', badType);
  t.equal(e2.field, 'type');
  t.match(e2.message, /"product", "client"/, 'enum errors list the allowed values');

  const missing = tenant() as Partial<Tenant>;
  delete missing.applications;
  t.equal(rejection('tenant', missing).field, 'applications');

  const badPort = service();
  badPort.port = 70000;
  t.equal(rejection('service', badPort).field, 'port');

  const badName = service();
  badName.name = 'Example03';
  t.equal(rejection('service', badName).field, 'name');

  t.equal(rejection('product', null).field, '(root)');
});

t.test('service version fields: numeric object keys as fieldPath renders them', async (t) => {
  // Version keys are object keys: "1" and "1.1" both stay dotted (`versions.1`, `versions.1.1`).
  const noFlag = service() as unknown as { versions: Record<string, unknown> };
  noFlag.versions = { '1': {} };
  const e1 = rejection('service', noFlag);
  t.equal(e1.field, 'versions.1.extKeyRequired');
  t.match(e1.message, /must have required property 'extKeyRequired'/);

  const badFlag = service() as unknown as { versions: Record<string, unknown> };
  badFlag.versions = { '1.1': { extKeyRequired: 'yes' } };
  const e2 = rejection('service', badFlag);
  t.equal(e2.field, 'versions.1.1.extKeyRequired');
  t.match(e2.message, /must be boolean/);

  const extra = service() as unknown as { versions: Record<string, unknown> };
  extra.versions = { '2': { extKeyRequired: true, bogus: true } };
  t.equal(rejection('service', extra).field, 'versions.2.bogus');

  const noVersion = service() as unknown as { versions: Record<string, unknown> };
  noVersion.versions = {};
  t.equal(rejection('service', noVersion).field, 'versions');
});

t.test('an invalid property name is named with the name itself', async (t) => {
  const badVersion = service() as unknown as { versions: Record<string, unknown> };
  badVersion.versions = { v1: { extKeyRequired: true } };
  const e1 = rejection('service', badVersion);
  t.equal(e1.field, 'versions.v1', 'names the bad key, not only its parent');
  t.match(e1.message, /is not a valid name/);

  const badEnv = product() as unknown as { packages: { acl: Record<string, unknown> }[] };
  badEnv.packages[0]!.acl = { DEV: {} };
  const e2 = rejection('product', badEnv);
  t.equal(e2.field, 'packages[0].acl.DEV');
  t.match(e2.message, /is not a valid name/);
});

t.test('ACL errors name the package, env and service', async (t) => {
  const mixed = product();
  mixed.packages[1]!.acl['dev']!['example03'] = { '1': { access: false }, access: true } as never;
  const e1 = rejection('product', mixed);
  t.equal(e1.field, 'packages[1].acl.dev.example03');
  t.match(e1.message, /^product: field "packages\[1\]\.acl\.dev\.example03" mixes versioned entries/);

  const badRe = product();
  badRe.packages[0]!.acl['dev']!['oauth'] = { '1': { post: { apisRegExp: [{ regExp: '(' }] } } };
  const e2 = rejection('product', badRe);
  t.equal(e2.field, 'packages[0].acl.dev.oauth');
  t.match(e2.message, /invalid regular expression/);

  const badAccess = product();
  badAccess.packages[1]!.acl['dev']!['example03'] = { '1': { access: 'yes' as never } };
  const e3 = rejection('product', badAccess);
  t.equal(e3.field, 'packages[1].acl.dev.example03.1.access');
  t.match(e3.message, /must be boolean/);

  const badPath = product();
  badPath.packages[0]!.acl['dev']!['oauth'] = { '1': { get: { apis: { 'no-slash': {} } } } };
  t.equal(rejection('product', badPath).field, 'packages[0].acl.dev.oauth.1.get.apis.no-slash', 'the bad name itself');

  const appAcl = tenant();
  appAcl.applications[0]!.acl = { dev: { example03: { '1': {}, apis: {} } as never } };
  const e4 = rejection('tenant', appAcl);
  t.equal(e4.field, 'applications[0].acl.dev.example03');
  t.match(e4.message, /^tenant: /);
});

t.test('package codes start with the product code and are unique', async (t) => {
  const foreign = product();
  foreign.packages[1]!.code = 'OTHER_PCK';
  const e1 = rejection('product', foreign);
  t.equal(e1.field, 'packages[1].code');
  t.match(e1.message, /must start with "EXAMP_"/);

  const prefixOnly = product();
  prefixOnly.packages[0]!.code = 'EXAMPLE_PCK';
  t.equal(rejection('product', prefixOnly).field, 'packages[0].code', '"EXAMPLE_" is not "EXAMP_"');

  const dup = product();
  dup.packages[1]!.code = 'EXAMP_BASIC';
  const e2 = rejection('product', dup);
  t.equal(e2.field, 'packages[1].code');
  t.match(e2.message, /duplicate/);

  const noUnderscore = product();
  noUnderscore.packages[0]!.code = 'EXAMPBASIC';
  t.equal(rejection('product', noUnderscore).field, 'packages[0].code');
});

t.test('duplicate internal keys and ext key hashes are rejected', async (t) => {
  const base = tenant();
  const app0 = base.applications[0]!;

  const dupKey = structuredClone(base);
  dupKey.applications.push({ ...structuredClone(app0), appId: 'second', keys: [{ key: IKEY_1, extKeys: [] }] });
  const e1 = rejection('tenant', dupKey);
  t.equal(e1.field, 'applications[1].keys[0].key');
  t.match(e1.message, /duplicate/);

  const dupHash = structuredClone(base);
  dupHash.applications[0]!.keys.push({ key: IKEY_2, extKeys: [{ keyHash: HASH_B, env: 'dev' }, { keyHash: HASH_A, env: 'prod' }] });
  const e2 = rejection('tenant', dupHash);
  t.equal(e2.field, 'applications[0].keys[1].extKeys[1].keyHash');
  t.match(e2.message, /duplicate/);

  const distinct = structuredClone(base);
  distinct.applications[0]!.keys.push({ key: IKEY_2, extKeys: [{ keyHash: HASH_B, env: 'dev' }] });
  t.doesNotThrow(() => validateDocument('tenant', distinct), 'distinct keys pass');
});

t.test('geo CIDRs that cannot compile are rejected by validation', async (t) => {
  const allow = tenant();
  allow.applications[0]!.keys[0]!.extKeys[0]!.geo = { allow: ['10.0.0.0/33'] };
  const e1 = rejection('tenant', allow);
  t.equal(e1.field, 'applications[0].keys[0].extKeys[0].geo.allow');
  t.match(e1.message, /invalid prefix length/);

  const deny = tenant();
  deny.applications[0]!.keys[0]!.extKeys[0]!.geo = { allow: ['10.0.0.0/8'], deny: ['not-an-ip'] };
  t.equal(rejection('tenant', deny).field, 'applications[0].keys[0].extKeys[0].geo.deny');

  const ok = tenant();
  ok.applications[0]!.keys[0]!.extKeys[0]!.geo = { allow: ['2001:db8::/32', '192.0.2.1'], deny: [] };
  t.doesNotThrow(() => validateDocument('tenant', ok));
});

t.test('an application package must belong to its product', async (t) => {
  const wrong = tenant();
  wrong.applications[0]!.package = 'PROD1_PCK1';
  const e = rejection('tenant', wrong);
  t.equal(e.field, 'applications[0].package');
  t.match(e.message, /must be a package of product "EXAMP"/);

  const prefix = tenant();
  prefix.applications[0]!.product = 'EXA';
  t.equal(rejection('tenant', prefix).field, 'applications[0].package', '"EXAMP_BASIC" is no package of "EXA"');
});

t.test('unknown fields are rejected', async (t) => {
  const top = tenant() as unknown as Record<string, unknown>;
  top['bogus'] = 1;
  const e1 = rejection('tenant', top);
  t.equal(e1.field, 'bogus');
  t.match(e1.message, /is not a known field/);

  const plain = tenant();
  (plain.applications[0]!.keys[0]!.extKeys[0] as unknown as Record<string, unknown>)['extKey'] = 'ab'.repeat(32);
  t.equal(rejection('tenant', plain).field, 'applications[0].keys[0].extKeys[0].extKey', 'a stored doc holds no plaintext key');

  const pkg = product();
  (pkg.packages[0] as unknown as Record<string, unknown>)['locked'] = true;
  t.equal(rejection('product', pkg).field, 'packages[0].locked');

  const svc = service() as unknown as Record<string, unknown>;
  svc['interConnect'] = [];
  t.equal(rejection('service', svc).field, 'interConnect');

  const aclField = product();
  aclField.packages[0]!.acl['dev']!['oauth'] = { '1': { access: false, packagesPermission: true } as never };
  t.equal(rejection('product', aclField).field, 'packages[0].acl.dev.oauth.1.packagesPermission');
});

// ---------------------------------------------------------------- readSeed

function seedDir(t: { teardown(fn: () => void): void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-seed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const PLAIN = '4ea5db4c70b6168aeede6a8a56cb4624' + 'f0'.repeat(40);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const TENANTS_YAML = `
tenants:
  - id: t1
    code: TNT1
    name: Client One
    type: client
    applications:
      - appId: app1
        product: PROD1
        package: PROD1_PCK1
        keys:
          - key: ${IKEY_1}
            extKeys:
              - extKey: ${PLAIN}
                env: dev
                expDate: null
              - extKey: ${'c'.repeat(32)}
                hint: mine
                env: dev
x-notes:
  - x- sections hold YAML anchors and are skipped
`;

const PRODUCTS_YAML = `
products:
  - code: PROD1
    name: Product one
    packages:
      - code: PROD1_PCK1
        name: one
        acl: { dev: { example03: { "1": { access: false } } } }
services:
  - name: example03
    port: 4023
    versions: { "1": { extKeyRequired: true } }
`;

function tenantsOf(docs: SeedDoc[]): Tenant[] {
  return docs.filter((d) => d.kind === 'tenant').map((d) => d.doc as Tenant);
}

t.test('readSeed hashes plaintext ext keys; the plaintext appears nowhere', async (t) => {
  const dir = seedDir(t, { 'b-tenants.yaml': TENANTS_YAML, 'a-products.yml': PRODUCTS_YAML, 'notes.txt': 'tenants: nope' });
  const docs = readSeed(dir);
  t.same(
    docs.map((d) => [d.kind, d.origin]),
    [
      ['product', 'a-products.yml: products[0]'],
      ['service', 'a-products.yml: services[0]'],
      ['tenant', 'b-tenants.yaml: tenants[0]'],
    ],
    'yaml/yml files in name order, other files and sections skipped',
  );
  const [tn] = tenantsOf(docs);
  const ext = tn?.applications[0]?.keys[0]?.extKeys ?? [];
  t.equal(ext.length, 2);
  t.equal(ext[0]?.keyHash, sha256(PLAIN), 'keyHash = sha256 hex of the key');
  t.equal(ext[0]?.hint, PLAIN.slice(-6), 'hint: the last 6 characters');
  t.notOk(ext[0] && 'extKey' in ext[0], 'extKey removed');
  t.equal(ext[1]?.keyHash, sha256('c'.repeat(32)));
  t.equal(ext[1]?.hint, 'mine', 'an explicit hint is kept');
  const all = JSON.stringify(docs);
  t.notOk(all.includes(PLAIN), 'plaintext nowhere in the result');
  t.notOk(all.includes('c'.repeat(32)), 'second plaintext nowhere either');
  t.notOk(all.includes('"extKey"'));
});

t.test('readSeed errors name the file and the list index', async (t) => {
  const badTenant = `
tenants:
  - id: ok
    code: OK
    name: fine
    type: client
    applications: []
  - id: broken
    code: BRK
    name: Broken
    type: client
    applications:
      - appId: a
        product: PROD1
        package: PROD1_PCK1
        keys:
          - key: not-hex
            extKeys: []
`;
  const dir = seedDir(t, { 'a.yaml': PRODUCTS_YAML, 'z-tenants.yaml': badTenant });
  const e = thrown(() => readSeed(dir));
  t.ok(e instanceof SeedError, 'a SeedError');
  t.equal(e.name, 'SeedError');
  t.match(e.message, 'z-tenants.yaml: tenants[1]');
  t.match(e.message, 'applications[0].keys[0].key');

  const badKey = seedDir(t, {
    'k.yaml': TENANTS_YAML.replace(PLAIN, 'NOT-A-HEX-KEY'),
  });
  const e2 = thrown(() => readSeed(badKey));
  t.ok(e2 instanceof SeedError);
  t.match(e2.message, 'k.yaml: tenants[0]');
  t.match(e2.message, /extKey must be lower-case hex/);
  t.notOk(e2.message.includes(PLAIN));

  const syntax = seedDir(t, { 'ok.yaml': PRODUCTS_YAML, 'broken.yaml': 'products: [\n  - code: X\n' });
  const e3 = thrown(() => readSeed(syntax));
  t.ok(e3 instanceof SeedError);
  t.match(e3.message, join(syntax, 'broken.yaml'));

  const notList = seedDir(t, { 'n.yaml': 'services: { name: x }\n' });
  const e4 = thrown(() => readSeed(notList));
  t.ok(e4 instanceof SeedError);
  t.match(e4.message, /"services" must be a list/);

  const scalar = seedDir(t, { 's.yaml': 'just a string\n' });
  t.match(thrown(() => readSeed(scalar)).message, /must hold a mapping/);

  const missing = join(tmpdir(), `tessera-no-such-dir-${process.pid}-${Date.now()}`);
  const e5 = thrown(() => readSeed(missing));
  t.ok(e5 instanceof SeedError);
  t.match(e5.message, missing);

  t.same(readSeed(seedDir(t, { 'empty.yaml': '' })), [], 'an empty file is no error');
});

t.test('the real demo seed loads and contains the 6 packages and 4 tenants, keys hashed', async (t) => {
  const docs = readSeed(DEMO);
  const products = docs.filter((d) => d.kind === 'product').map((d) => d.doc as Product);
  const tenants = tenantsOf(docs);
  const services = docs.filter((d) => d.kind === 'service').map((d) => d.doc as Service);
  // The demo may grow (it does while other work lands); these are the documents the walkthrough relies on.
  const packages = products.flatMap((p) => p.packages.map((k) => k.code));
  for (const code of ['EXAMP_3ZE08', 'EXAMP_4H6CQ', 'EXAMP_BASIC', 'PROD1_PCK1', 'PROD1_PCK2', 'PROD1_PCK3']) {
    t.ok(packages.includes(code), `package ${code}`);
  }
  const codes = tenants.map((x) => x.code);
  for (const code of ['EXAMP', 'TNT1', 'TNT2', 'TNT3']) t.ok(codes.includes(code), `tenant ${code}`);
  t.ok(services.some((s) => s.name === 'example03'), 'service example03');
  t.equal(docs.filter((d) => d.kind === 'tenant').length, tenants.length);
  const ext = tenants.flatMap((x) => x.applications.flatMap((a) => a.keys.flatMap((k) => k.extKeys)));
  t.ok(ext.length >= 7, 'at least the 7 walkthrough keys');
  for (const e of ext) {
    t.match(e.keyHash, /^[0-9a-f]{64}$/);
    t.notOk('extKey' in e);
  }
  const tnt2 = tenants.find((x) => x.code === 'TNT2');
  const plainTnt2 =
    '2423205b6ccd825aaa3dbf7f248f807996c1f39f4e128801107a10ea55eac9686f23b883b778b1763876fe47f7cc651fea232f7aa9dae3dfd1978d4948a3f26b948ebc1b71a9d6cacf08852312866d757b22392d8d3c0e28ee47edb0e7478157';
  t.equal(tnt2?.applications[0]?.keys[0]?.extKeys[0]?.keyHash, sha256(plainTnt2));
  t.notOk(JSON.stringify(docs).includes(plainTnt2));
});
