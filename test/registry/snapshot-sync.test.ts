import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { versionAcl } from '../../registry/view/acl.js';
import { ipIn } from '../../registry/view/net.js';
import { ValidationError } from '../../registry/control/schema.js';
import { readSeed, type SeedDoc } from '../../registry/control/seed.js';
import { keyEntriesOf } from '../../registry/view/key-entries.js';
import { buildSnapshot, SnapshotBuildError, type Snapshot } from '../../registry/view/snapshot.js';
import { FileStore } from '../../registry/control/store/file.js';
import type { RegistryData } from '../../registry/control/store/types.js';
import { RegistrySync } from '../../registry/view/sync.js';
import type { Product, Service, Tenant } from '../../registry/view/types.js';

const DEMO = fileURLToPath(new URL('../../../config/demo', import.meta.url));
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Plaintext demo keys (config/demo/tenants.yaml). */
const TNT1_APP_A =
  '4232477ed993d167ec13ccf8836c29c400fef7eb3d175b1f2192b82ebef6fb2d129cdd25fe23c04f856157184e11f7f57b65759191908cb5c664df136c7ad16a56a5917fdeabfc97c92a1f199e457e31f2450a810769ff1b29269bcb3f01e3d2';
const TNT1_APP_B =
  '4232477ed993d167ec13ccf8836c29c4bfbe701cb0af991389cb3b3a06dcd2bbceb8895a67de8b3861eed616d441a673ae6d85a9d9a6491e1d4ea059e0ce4e969b26db39dfb74d9837adb632b75f77439bf072b1cd4876a0107a813dc1ea00d7';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-snap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function openStore(t: { teardown(fn: () => unknown): void }, seed: readonly SeedDoc[]): Promise<FileStore> {
  const store = new FileStore(tempDir(t), seed);
  await store.open();
  t.teardown(() => store.close());
  return store;
}

/** Registry data as a store returns it, with the given parts replaced (bypassing validation). */
async function registryData(t: { teardown(fn: () => unknown): void }, parts: Partial<RegistryData>): Promise<RegistryData> {
  const empty = await openStore(t, []);
  return { ...(await empty.load()), ...parts };
}

/** The demo seed, read once (seed users' passwords are hashed with scrypt: slow). */
let demoDocs: SeedDoc[] | null = null;
function demoSeed(): SeedDoc[] {
  demoDocs ??= readSeed(DEMO);
  return demoDocs;
}

/** Packages and tenants of the demo as the brief describes it; the demo may hold more. */
const DEMO_PACKAGES = ['EXAMP_3ZE08', 'EXAMP_4H6CQ', 'EXAMP_BASIC', 'PROD1_PCK1', 'PROD1_PCK2', 'PROD1_PCK3'];
const DEMO_TENANTS = ['EXAMP', 'TNT1', 'TNT2', 'TNT3'];

function demo(): { products: Product[]; tenants: Tenant[]; services: Service[] } {
  const docs = demoSeed();
  return {
    products: docs.filter((d) => d.kind === 'product').map((d) => d.doc as Product),
    tenants: docs.filter((d) => d.kind === 'tenant').map((d) => d.doc as Tenant),
    services: docs.filter((d) => d.kind === 'service').map((d) => d.doc as Service),
  };
}

function keyTenant(extKey: Partial<Tenant['applications'][number]['keys'][number]['extKeys'][number]>[], pkg = 'PROD1_PCK1'): Tenant {
  return {
    id: 'kt',
    code: 'KEYT',
    name: 'Key tenant',
    type: 'client',
    applications: [
      {
        appId: 'kapp',
        product: 'PROD1',
        package: pkg,
        keys: [
          {
            key: 'aaaabbbbccccddddeeeeffff00001111',
            extKeys: extKey.map((e, i) => ({ keyHash: String(i).repeat(64), env: 'dev', ...e })),
          },
        ],
      },
    ],
  };
}

t.test('buildSnapshot from the demo seed, env dev', async (t) => {
  const d = demo();
  const snap = buildSnapshot(await registryData(t, { version: 42, ...d }), 'dev');
  t.equal(snap.version, 42);
  t.equal(snap.env, 'dev');
  t.ok(Object.isFrozen(snap));

  t.equal(snap.packages.size, d.products.reduce((n, p) => n + p.packages.length, 0), 'every package indexed');
  for (const code of DEMO_PACKAGES) t.ok(snap.packages.has(code), `package ${code}`);
  const pck2 = snap.packages.get('PROD1_PCK2');
  t.equal(pck2?.product, 'PROD1');
  t.same([...(pck2?.acl?.keys() ?? [])].sort(), ['example03', 'oauth', 'urac']);
  t.same([...(snap.packages.get('PROD1_PCK1')?.acl?.keys() ?? [])].sort(), ['oauth', 'urac'], 'PCK1 has no example03');
  const urac = snap.packages.get('EXAMP_BASIC')?.acl?.get('urac');
  t.equal(urac?.latest, '3');
  t.equal(urac && versionAcl(urac, '3')?.base.restricted, true);
  t.same(Object.keys(pck2?.rawAclAllEnv ?? {}), ['dev']);
  t.same(Object.keys(pck2?.rawAcl ?? {}).sort(), ['example03', 'oauth', 'urac']);

  const ex = snap.services.get('example03');
  t.equal(ex?.port, 4023);
  t.equal(ex?.maintenancePort, 5023, 'maintenancePort defaults to port + 1000');
  t.equal(ex?.requestTimeout, 30000, 'seconds -> ms');
  t.equal(ex?.group, 'Examples');
  t.equal(ex?.latest, '1');
  t.equal(ex?.versions.get('1')?.extKeyRequired, true);
  t.equal(ex?.versions.get('1')?.urac, false);
  t.equal(ex?.hosts.size, 0);

  t.notOk('tenants' in snap, 'tenants are not in the snapshot');
  t.notOk('keys' in snap, 'ext keys are not in the snapshot');

  // Tenants live in the store; their ext keys are compiled per tenant by keyEntriesOf.
  const store = await openStore(t, demoSeed());
  const stored = (await store.list('tenant')).map((v) => v.doc);
  t.equal(stored.length, d.tenants.length, 'every demo tenant stored');
  const codes = stored.map((x) => x.code);
  for (const code of DEMO_TENANTS) t.ok(codes.includes(code), `tenant ${code}`);
  const tnt1Doc = d.tenants.find((x) => x.code === 'TNT1')!;
  const tnt1Keys = keyEntriesOf(tnt1Doc, 'dev');
  const tnt1 = [...tnt1Keys.values()][0]?.tenant;
  t.equal(tnt1?.code, 'TNT1');
  t.equal(tnt1?.type, 'client');
  t.equal(tnt1?.locked, false);
  t.equal(tnt1?.main, null);
  t.equal(tnt1?.doc, tnt1Doc, 'the tenant entry keeps its document');
  t.ok(Object.isFrozen(tnt1));
  t.ok([...tnt1Keys.values()].every((k) => k.tenant === tnt1), 'keys of one tenant share one tenant entry');

  const extKeys = d.tenants.flatMap((x) => x.applications.flatMap((a) => a.keys.flatMap((k) => k.extKeys)));
  t.ok(extKeys.length >= 7);
  const allKeys = new Map(d.tenants.flatMap((x) => [...keyEntriesOf(x, 'dev')]));
  t.equal(allKeys.size, extKeys.length, 'every ext key indexed');
  t.same([...allKeys.keys()].sort(), extKeys.map((e) => e.keyHash).sort(), 'indexed by hash');
  t.equal(allKeys.get(TNT1_APP_B), undefined, 'never indexed by plaintext');
  const b = tnt1Keys.get(sha256(TNT1_APP_B));
  t.equal(b?.tenant, tnt1, 'key points at the tenant entry');
  t.equal(b?.appId, '30d2cb5fc04ce51e06000002');
  t.equal(b?.product, 'PROD1');
  t.equal(b?.packageCode, 'PROD1_PCK1');
  t.equal(snap.packages.get(b!.packageCode), snap.packages.get('PROD1_PCK1'), 'the package is looked up in the snapshot');
  t.ok(snap.packages.get(b!.packageCode));
  t.same([...(b?.appAcl?.keys() ?? [])], ['example03'], 'application-level ACL compiled for dev');
  t.equal(b?.iKey, '12a2eb89dd9c570a9fdfd32a5cf24f12');
  t.equal(b?.env, 'dev');
  t.equal(b?.expires, Number.POSITIVE_INFINITY, 'expDate null -> never');
  t.equal(b?.geoAllow, null);
  t.equal(b?.geoDeny, null);
  t.equal(b?.device, null);
  t.same(b?.config, { example03: { tenantName: 'Client One' } });
  t.ok(Object.isFrozen(b?.config));

  const a = tnt1Keys.get(sha256(TNT1_APP_A));
  t.equal(a?.appId, '30d2cb5fc04ce51e06000001');
  t.equal(a?.appAcl, null, 'no application ACL');

  // The store finds a key's tenant by hash, in one call.
  const found = await store.findTenantByKeyHash(sha256(TNT1_APP_B));
  t.equal(found?.doc.code, 'TNT1');
  t.equal(found?.version, 1);
  t.same(found?.doc, tnt1Doc);
  t.equal(found && keyEntriesOf(found.doc, 'dev').get(sha256(TNT1_APP_B))?.appId, '30d2cb5fc04ce51e06000002');
  t.equal((await store.findTenantByKeyHash(sha256(TNT1_APP_A)))?.doc.id, tnt1Doc.id);
  t.equal(await store.findTenantByKeyHash(TNT1_APP_B), null, 'not found by plaintext');
  t.equal(await store.findTenantByKeyHash(sha256('no such key')), null, 'unknown hash: null');
});

t.test('a package without an ACL for the env has acl null', async (t) => {
  const d = demo();
  const snap = buildSnapshot(await registryData(t, { version: 1, ...d }), 'prod');
  t.equal(snap.packages.size, d.products.reduce((n, p) => n + p.packages.length, 0));
  t.ok(snap.packages.size >= 6);
  for (const [code, pkg] of snap.packages) {
    t.equal(pkg.acl, null, `${code}: acl null`);
    t.equal(pkg.rawAcl, null);
    t.ok(pkg.rawAclAllEnv['dev'], 'other envs kept');
  }
  const tnt1Doc = d.tenants.find((x) => x.code === 'TNT1')!;
  const b = keyEntriesOf(tnt1Doc, 'prod').get(sha256(TNT1_APP_B));
  t.equal(b?.appId, '30d2cb5fc04ce51e06000002', 'keys are compiled whatever the env');
  t.equal(b?.appAcl, null, 'application ACL has no prod either');
  t.same(b?.appRawAclAllEnv && Object.keys(b.appRawAclAllEnv), ['dev'], 'other envs of the application ACL kept');
  t.same(b?.config, {}, 'no key config for prod');
});

t.test('services: maintenance ports and hosts', async (t) => {
  const svc: Service = {
    name: 'svc',
    port: 4100,
    maintenancePort: 4999,
    versions: { '1': { extKeyRequired: false }, '1.10': { extKeyRequired: true }, '1.9': { extKeyRequired: false } },
    hosts: { '1': ['10.0.0.1', '10.0.0.2:4200', '[::1]:4300'] },
  };
  const snap = buildSnapshot(
    await registryData(t, {
      version: 3,
      services: [svc, { name: 'plain', port: 4500, versions: { '2': { extKeyRequired: false } } }],
      hosts: [
        { service: 'svc', version: '1.10', host: '10.0.0.9', port: 4101 },
        { service: 'svc', version: '1', host: '10.0.0.1', port: 4100 },
        { service: 'other', version: '1', host: '10.9.9.9', port: 1 },
      ],
    }),
    'dev',
  );
  const s = snap.services.get('svc');
  t.equal(s?.maintenancePort, 4999, 'explicit maintenancePort kept');
  t.equal(s?.latest, '1.10');
  t.equal(s?.requestTimeout, null);
  t.same(
    s?.hosts.get('1')?.map((u) => [u.origin, u.heartbeatUrl]),
    [
      ['http://10.0.0.1:4100', 'http://10.0.0.1:4999/heartbeat'],
      ['http://10.0.0.2:4200', 'http://10.0.0.2:5200/heartbeat'],
      ['http://[::1]:4300', 'http://[::1]:5300/heartbeat'],
    ],
    'static hosts; a registration of a listed host is not added twice',
  );
  t.same(
    s?.hosts.get('1.10')?.map((u) => [u.origin, u.heartbeatUrl]),
    [['http://10.0.0.9:4101', 'http://10.0.0.9:5101/heartbeat']],
  );
  t.equal(snap.services.get('plain')?.maintenancePort, 5500);
  t.equal(snap.services.has('other'), false, 'registrations of unknown services are ignored');
});

t.test('keys: env lower-cased, expiry parsed, missing package', async (t) => {
  const snap = buildSnapshot(await registryData(t, { version: 1, products: demo().products }), 'dev');
  const keys = keyEntriesOf(
    keyTenant([
      { env: 'DEV', expDate: null },
      { env: 'Dev', expDate: '2030-01-02T03:04:05.000Z' },
      { env: 'prod', expDate: 1893456000000 },
      { env: 'dev' },
    ]),
    'dev',
  );
  t.equal(keys.size, 4);
  t.equal(keys.get('0'.repeat(64))?.env, 'dev', 'DEV -> dev');
  t.equal(keys.get('1'.repeat(64))?.env, 'dev');
  t.equal(keys.get('2'.repeat(64))?.env, 'prod');
  t.equal(keys.get('0'.repeat(64))?.expires, Number.POSITIVE_INFINITY);
  t.equal(keys.get('1'.repeat(64))?.expires, Date.UTC(2030, 0, 2, 3, 4, 5), 'ISO expDate parsed');
  t.equal(keys.get('2'.repeat(64))?.expires, 1893456000000, 'ms kept');
  t.equal(keys.get('3'.repeat(64))?.expires, Number.POSITIVE_INFINITY, 'absent -> never');
  t.equal(keys.get('0'.repeat(64))?.packageCode, 'PROD1_PCK1');
  t.ok(snap.packages.get(keys.get('0'.repeat(64))!.packageCode), 'its package is in the snapshot');

  const gone = keyEntriesOf({ ...keyTenant([{ keyHash: 'f'.repeat(64) }], 'PROD1_GONE'), id: 'kt2', code: 'KT2' }, 'dev');
  t.equal(gone.get('f'.repeat(64))?.packageCode, 'PROD1_GONE', 'an application naming a missing package still compiles');
  t.equal(snap.packages.get(gone.get('f'.repeat(64))!.packageCode), undefined, 'its package is not in the snapshot');
  t.equal(gone.get('f'.repeat(64))?.tenant.code, 'KT2');
  t.equal(gone.get('f'.repeat(64))?.tenant.id, 'kt2');
});

t.test('geo CIDRs compile; a bad one is a SnapshotBuildError', async (t) => {
  const keys = keyEntriesOf(keyTenant([{ geo: { allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.1.0.0/16', '10.2.3.4'] } }, { geo: null }]), 'dev');
  const k = keys.get('0'.repeat(64));
  t.ok(k?.geoAllow && ipIn(k.geoAllow, '10.200.1.1'));
  t.ok(k?.geoAllow && ipIn(k.geoAllow, '2001:db8::5'));
  t.notOk(k?.geoAllow && ipIn(k.geoAllow, '11.0.0.1'));
  t.ok(k?.geoDeny && ipIn(k.geoDeny, '10.1.2.3'));
  t.ok(k?.geoDeny && ipIn(k.geoDeny, '10.2.3.4'));
  t.notOk(k?.geoDeny && ipIn(k.geoDeny, '10.2.3.5'));
  t.equal(keys.get('1'.repeat(64))?.geoAllow, null);
  t.equal(keys.get('1'.repeat(64))?.geoDeny, null);

  const bad = keyTenant([{ hint: 'abc123', geo: { allow: ['10.0.0.0/8'], deny: ['10.0.0.0/40'] } }]);
  t.throws(() => keyEntriesOf(bad, 'dev'), SnapshotBuildError);
  t.throws(() => keyEntriesOf(bad, 'dev'), { name: 'SnapshotBuildError', message: /tenant "KEYT" key …abc123: geo .*10\.0\.0\.0\/40/ });
  const notIp = keyTenant([{ geo: { allow: ['somewhere'] } }]);
  t.throws(() => keyEntriesOf(notIp, 'dev'), SnapshotBuildError);
});

// ---------------------------------------------------------------- RegistrySync

function syncSeed(): SeedDoc[] {
  return demoSeed();
}

/** Resolves after the event loop has gone round `n` times (lets any pending setImmediate rebuild run). */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

t.test('RegistrySync: start() builds the first snapshot', async (t) => {
  const store = await openStore(t, syncSeed());
  const sync = new RegistrySync(store, { env: 'dev' });
  t.throws(() => sync.current(), { message: /not started/ });
  t.equal(await sync.start(), sync);
  t.teardown(() => sync.stop());
  const snap = sync.current();
  t.equal(snap.version, (await store.load()).version);
  for (const code of DEMO_PACKAGES) t.ok(snap.packages.has(code), `package ${code}`);
  t.equal(snap.env, 'dev');
  const raced = await Promise.race([sync.waitFor(snap.version).then(() => 'resolved'), turns(1).then(() => 'pending')]);
  t.equal(raced, 'resolved', 'waitFor of the current version resolves at once');
  const later = await Promise.race([sync.waitFor(snap.version + 1).then(() => 'resolved'), turns(3).then(() => 'pending')]);
  t.equal(later, 'pending', 'waitFor of a future version waits');
});

t.test('RegistrySync: one put, one rebuild; a burst of puts, one rebuild ending at the last version', async (t) => {
  const store = await openStore(t, syncSeed());
  const swaps: Snapshot[] = [];
  const errors: unknown[] = [];
  const sync = await new RegistrySync(store, { env: 'dev', onSwap: (s) => swaps.push(s), onError: (e) => errors.push(e) }).start();
  t.teardown(() => sync.stop());
  const first = sync.current();

  const v = await store.put('service', { name: 'svc', port: 4100, versions: { '1': { extKeyRequired: false } } });
  t.equal(v, 1);
  const registry = (await store.load()).version;
  await sync.waitFor(registry);
  t.equal(sync.current().version, registry);
  t.not(sync.current(), first, 'a new snapshot');
  t.equal(sync.current().services.get('svc')?.port, 4100);
  await turns();
  t.equal(swaps.length, 1, 'exactly one rebuild for one put');

  const ports = Array.from({ length: 10 }, (_, i) => 4200 + i);
  const versions = await Promise.all(
    ports.map((port) => store.put('service', { name: 'svc', port, versions: { '1': { extKeyRequired: false } } })),
  );
  t.same(versions, Array.from({ length: 10 }, (_, i) => i + 2));
  const last = (await store.load()).version;
  t.equal(last, registry + 10);
  await sync.waitFor(last);
  t.equal(sync.current().version, last, 'the snapshot ends at the last version');
  t.equal(sync.current().services.get('svc')?.port, 4209, 'with the last write');
  await turns();
  t.equal(swaps.length, 2, 'the burst of 10 was coalesced into one rebuild');
  t.same(errors, []);
  t.equal(swaps.at(-1), sync.current());
});

t.test('RegistrySync: an invalid geo CIDR is rejected by put; the snapshot is untouched', async (t) => {
  // Schema validation compiles geo CIDRs (registry/control/schema.ts checkTenant), so such a tenant never reaches the store.
  const store = await openStore(t, syncSeed());
  let swaps = 0;
  const sync = await new RegistrySync(store, { env: 'dev', onSwap: () => swaps++ }).start();
  t.teardown(() => sync.stop());
  const before = sync.current();
  const storeVersion = (await store.load()).version;

  const tenant = (await store.list('tenant')).find((x) => x.doc.code === 'TNT2')!.doc;
  const tenantBefore = structuredClone(tenant);
  tenant.applications[0]!.keys[0]!.extKeys[0]!.geo = { allow: ['10.0.0.0/99'] };
  let err: unknown = null;
  try {
    await store.put('tenant', tenant);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof ValidationError, 'put rejects it');
  t.equal((err as ValidationError).field, 'applications[0].keys[0].extKeys[0].geo.allow');
  await turns();
  t.equal((await store.load()).version, storeVersion);
  t.equal(sync.current(), before, 'same snapshot');
  t.equal(swaps, 0);
  t.same((await store.get('tenant', tenant.id))?.doc, tenantBefore, 'the stored tenant is untouched');
});

/**
 * Writes are validated, so no stored document can break a rebuild; a store whose reads go wrong can.
 * This one is the real FileStore whose next load() returns a service host the snapshot cannot parse.
 */
class CorruptingStore extends FileStore {
  corruptNext = false;
  override async load(): Promise<RegistryData> {
    const data = await super.load();
    if (!this.corruptNext) return data;
    this.corruptNext = false;
    return { ...data, services: data.services.map((s) => (s.name === 'v6' ? { ...s, hosts: { '1': ['::1'] } } : s)) };
  }
}

t.test('RegistrySync: a failing rebuild keeps the old snapshot and calls onError', async (t) => {
  const store = new CorruptingStore(tempDir(t), syncSeed());
  await store.open();
  t.teardown(() => store.close());
  const errors: unknown[] = [];
  let onError: () => void = () => undefined;
  const failed = new Promise<void>((resolve) => (onError = resolve));
  const sync = await new RegistrySync(store, {
    env: 'dev',
    onError: (e) => {
      errors.push(e);
      onError();
    },
  }).start();
  t.teardown(() => sync.stop());
  const before = sync.current();

  const refused = await store
    .put('service', { name: 'v6', port: 4100, versions: { '1': { extKeyRequired: false } }, hosts: { '1': ['::1'] } })
    .then(() => null, (err: unknown) => err);
  t.ok(refused instanceof ValidationError, 'an unbracketed IPv6 host is refused at write time');
  t.match((refused as ValidationError).field, /^hosts/);
  store.corruptNext = true;
  await store.put('service', { name: 'v6', port: 4100, versions: { '1': { extKeyRequired: false } }, hosts: { '1': ['[::1]'] } });
  await failed;
  t.equal(errors.length, 1);
  t.ok(errors[0] instanceof SnapshotBuildError, 'a SnapshotBuildError');
  t.match((errors[0] as Error).message, /host "::1"/);
  t.equal(sync.current(), before, 'the old snapshot keeps serving');
  t.equal(sync.current().services.has('v6'), false);

  const fixed = await store.put('service', { name: 'v6', port: 4101, versions: { '1': { extKeyRequired: false } }, hosts: { '1': ['[::1]'] } });
  t.equal(fixed, 2);
  const last = (await store.load()).version;
  await sync.waitFor(last);
  t.equal(sync.current().version, last, 'recovers on the next change');
  t.equal(sync.current().services.get('v6')?.hosts.get('1')?.[0]?.origin, 'http://[::1]:4101');
  t.equal(errors.length, 1, 'no further error');
});

t.test('RegistrySync: stop() stops following the store', async (t) => {
  const store = await openStore(t, syncSeed());
  let swaps = 0;
  const sync = await new RegistrySync(store, { env: 'dev', onSwap: () => swaps++ }).start();
  const before = sync.current();
  sync.stop();
  await store.put('service', { name: 'late', port: 4100, versions: { '1': { extKeyRequired: false } } });
  await turns();
  t.equal(swaps, 0);
  t.equal(sync.current(), before);
});
