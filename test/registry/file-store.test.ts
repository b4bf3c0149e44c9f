import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { SeedDoc } from '../../registry/control/seed.js';
import { FileStore } from '../../registry/control/store/file.js';
import { compareCursors } from '../../registry/control/store/outbox.js';
import { ConflictError, type ChangeEvent } from '../../registry/control/store/types.js';
import { rejectionOf, seed, service, tenant } from './store-contract.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function opened(t: { teardown(fn: () => unknown): void }, dir: string, docs: readonly SeedDoc[] = seed()): Promise<FileStore> {
  const store = new FileStore(dir, docs);
  await store.open();
  t.teardown(() => store.close());
  return store;
}

interface Persisted {
  format: number;
  version: number;
  docs: Record<string, Record<string, { doc: unknown; version: number }>>;
  seeded: string[];
}

function persisted(dir: string): Persisted {
  return JSON.parse(readFileSync(join(dir, 'registry.json'), 'utf8')) as Persisted;
}

t.test('open() seeds an empty store and persists registry.json', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'registry.json');
  t.notOk(existsSync(file));
  const store = await opened(t, dir);
  t.ok(existsSync(file), 'registry.json written');

  const data = await store.load();
  t.equal(data.version, 3, 'one version per seed document');
  t.same(data.products.map((p) => p.code), ['PROD1']);
  t.notOk('tenants' in data, 'tenants are not part of the snapshot data');
  t.same((await store.list('tenant')).map((x) => x.doc.id), ['t1']);
  t.same(data.services.map((s) => s.name), ['example03']);
  t.same(data.hosts, []);

  const p = persisted(dir);
  t.equal(p.format, 1);
  t.equal(p.version, 3);
  t.same(p.docs['tenant']?.['t1']?.doc, tenant());
  t.equal(p.docs['tenant']?.['t1']?.version, 1);
  t.same([...p.seeded].sort(), ['product:PROD1', 'service:example03', 'tenant:t1']);

  const got = await store.get('tenant', 't1');
  t.equal(got?.version, 1);
  t.same(got?.doc, tenant());
  t.equal(await store.get('tenant', 'nope'), null);
  t.same((await store.list('service')).map((v) => v.doc.name), ['example03']);
});

t.test('a second FileStore on the same directory sees the data', async (t) => {
  const dir = tempDir(t);
  const first = await opened(t, dir);
  const v = await first.put('service', service('second', 4100));
  t.equal(v, 1);
  await first.put('tenant', { ...tenant(), name: 'Renamed' });
  await first.close();

  const again = await opened(t, dir, seed());
  const data = await again.load();
  t.equal(data.version, 5, 'registry version survives the reopen');
  t.same(data.services.map((s) => s.name).sort(), ['example03', 'second']);
  const tn = await again.get('tenant', 't1');
  t.equal(tn?.doc.name, 'Renamed', 'the seed does not overwrite a stored document');
  t.equal(tn?.version, 2);

  const noSeed = await opened(t, dir, []);
  t.equal((await noSeed.load()).version, 5, 'a store without seed reads the same file');
  t.equal((await noSeed.get('service', 'second'))?.doc.port, 4100);
});

t.test('seed documents already applied are not re-added after delete + reopen', async (t) => {
  const dir = tempDir(t);
  const first = await opened(t, dir);
  t.equal(await first.delete('tenant', 't1'), true);
  t.equal(await first.get('tenant', 't1'), null);
  await first.close();

  const extra: SeedDoc = { kind: 'service', doc: service('newcomer', 4200), origin: 'test: services[1]' };
  const again = await opened(t, dir, [...seed(), extra]);
  t.equal(await again.get('tenant', 't1'), null, 'deleted seed tenant stays deleted');
  t.not(await again.get('product', 'PROD1'), null);
  t.equal((await again.get('service', 'newcomer'))?.version, 1, 'a seed document never applied is added');
  t.ok(persisted(dir).seeded.includes('service:newcomer'));
  t.ok(persisted(dir).seeded.includes('tenant:t1'), 'the deleted one stays recorded as seeded');
});

t.test('delete removes, persists, and honours ifVersion', async (t) => {
  const dir = tempDir(t);
  const store = await opened(t, dir);
  const events: ChangeEvent[] = [];
  store.onChange((e) => events.push(e));

  const conflict = await rejectionOf(store.delete('service', 'example03', { ifVersion: 5 }));
  t.ok(conflict instanceof ConflictError);
  t.not(await store.get('service', 'example03'), null, 'still there after the conflict');

  t.equal(await store.delete('service', 'example03', { ifVersion: 1 }), true);
  t.equal(await store.get('service', 'example03'), null);
  t.equal(persisted(dir).docs['service']?.['example03'], undefined, 'gone from the file');
  t.equal(persisted(dir).version, 4);
  t.equal(await store.delete('service', 'example03'), false, 'nothing left to delete');
  t.same(events, [{ version: 4, kind: 'service', id: 'example03', op: 'delete' }], 'one event, none for the no-op');
});

t.test('a corrupted registry.json makes open() reject naming the file', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'registry.json');
  writeFileSync(file, '{"format": 1, "version": 3, "docs": {');
  const err = await rejectionOf(new FileStore(dir, seed()).open());
  t.match(err.message, file, 'message names the file');
  t.equal(readFileSync(file, 'utf8'), '{"format": 1, "version": 3, "docs": {', 'the broken file is not overwritten');

  const dir2 = tempDir(t);
  writeFileSync(join(dir2, 'registry.json'), JSON.stringify({ format: 2, version: 0, docs: {}, seeded: [] }));
  const err2 = await rejectionOf(new FileStore(dir2).open());
  t.match(err2.message, join(dir2, 'registry.json'));
  t.match(err2.message, /unknown format 2/);

  const dir3 = tempDir(t);
  writeFileSync(
    join(dir3, 'registry.json'),
    JSON.stringify({ format: 1, version: 1, docs: { service: { bad: { doc: { name: 'bad', port: -1 }, version: 1 } } }, seeded: [] }),
  );
  const err3 = await rejectionOf(new FileStore(dir3).open());
  t.match(err3.message, join(dir3, 'registry.json'));
  t.match(err3.message, /service "bad"/, 'names the invalid document');
});

t.test('writes from concurrent calls are serialised', async (t) => {
  const dir = tempDir(t);
  const store = await opened(t, dir);
  const events: ChangeEvent[] = [];
  store.onChange((e) => events.push(e));

  const ports = Array.from({ length: 20 }, (_, i) => 5000 + i);
  const versions = await Promise.all(ports.map((port) => store.put('service', service('busy', port))));
  t.same(versions, Array.from({ length: 20 }, (_, i) => i + 1), 'each put sees the one before it, in call order');
  const got = await store.get('service', 'busy');
  t.equal(got?.version, 20);
  t.equal(got?.doc.port, 5019, 'the last call wins');
  t.equal((await store.load()).version, 3 + 20);
  t.same(
    events.map((e) => e.version),
    Array.from({ length: 20 }, (_, i) => 4 + i),
  );
  t.equal(persisted(dir).version, 23, 'file holds the final version');
  t.equal(persisted(dir).docs['service']?.['busy']?.version, 20);

  const creates = await Promise.allSettled(ports.map((port) => store.put('service', service('once', port), { ifVersion: 0 })));
  const won = creates.filter((r) => r.status === 'fulfilled');
  const lost = creates.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  t.equal(won.length, 1, 'exactly one create-if-absent succeeds');
  t.equal(lost.length, 19);
  t.ok(lost.every((r) => r.reason instanceof ConflictError));
  t.equal((await store.get('service', 'once'))?.doc.port, 5000, 'the first call won');

  const mixed = await Promise.allSettled([
    store.put('service', service('mixed', 1)),
    store.put('service', { ...service('mixed', 2), port: -5 }),
    store.put('service', service('mixed', 3)),
  ]);
  t.same(
    mixed.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
    'a failing write does not stop the queue',
  );
  t.equal((await store.get('service', 'mixed'))?.version, 2);
});

t.test('a write that cannot be persisted changes nothing in memory either', async (t) => {
  const { mkdtempSync: mk, rmSync: rm, mkdirSync: md, writeFileSync: wf } = await import('node:fs');
  const { tmpdir: td } = await import('node:os');
  const { join: j } = await import('node:path');
  const { FileStore: Store } = await import('../../registry/control/store/file.js');
  const dir = mk(j(td(), 'tessera-persist-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = new Store(dir, []);
  await store.open();
  t.teardown(() => store.close());
  const svc = { name: 'p1', port: 4100, versions: { '1': { extKeyRequired: false } } };
  await store.put('service', svc);
  const before = await store.load();
  // The rename onto registry.json now fails: a non-empty directory sits there.
  rm(j(dir, 'registry.json'));
  md(j(dir, 'registry.json'));
  wf(j(dir, 'registry.json', 'x'), 'x');
  const err = await store.put('service', { ...svc, port: 4200 }).then(() => null, (e: unknown) => e);
  t.ok(err instanceof Error, 'the write fails');
  t.equal((await store.get('service', 'p1'))?.doc.port, 4100, 'the document is unchanged');
  t.equal((await store.get('service', 'p1'))?.version, 1);
  t.equal((await store.load()).version, before.version, 'the registry version is unchanged');
  const err2 = await store.put('service', { ...svc, name: 'p2' }).then(() => null, (e: unknown) => e);
  t.ok(err2 instanceof Error);
  t.equal(await store.get('service', 'p2'), null, 'no half-added document');
});

t.test('events are persisted in the same file write as their change, and read back after a restart', async (t) => {
  const dir = tempDir(t);
  const store = await opened(t, dir, []);
  await store.put('service', service('ev1', 4501), { events: [{ type: 'test.one', service: 'ev1', data: { n: 1 } }] });
  await store.delete('service', 'ev1', { events: [{ type: 'test.two', service: 'ev1', data: { n: 2 } }] });
  const written = (await store.readEvents({ limit: 10 })).events;
  const file = JSON.parse(readFileSync(join(dir, 'registry.json'), 'utf8')) as { events: unknown[]; lastCursor: string };
  t.same(file.events, written, 'in registry.json beside the documents');
  t.equal(file.lastCursor, written[1]!.cursor);
  await store.close();
  const again = await opened(t, dir, []);
  t.same((await again.readEvents({ limit: 10 })).events, written, 'the same events, ids and cursors after reopening');
  await again.put('service', service('ev3', 4503), { events: [{ type: 'test.three', data: {} }] });
  const all = (await again.readEvents({ limit: 10 })).events;
  t.equal(all.length, 3);
  t.ok(compareCursors(all[2]!.cursor, written[1]!.cursor) > 0, 'cursors go on from where they were');

  // A write that cannot reach the disk writes no event either.
  rmSync(join(dir, 'registry.json'));
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(dir, 'registry.json'));
  writeFileSync(join(dir, 'registry.json', 'x'), 'x');
  t.ok((await rejectionOf(again.put('service', service('ev4', 4504), { events: [{ type: 'test.four', data: {} }] }))) instanceof Error, 'the write fails');
  t.equal((await again.readEvents({ limit: 10 })).events.length, 3, 'and its event is not in the outbox');
});

t.test('ids that are names of Object.prototype are documents like any other', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-filestore-proto-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new FileStore(dir, []);
  await store.open();
  t.equal(await store.get('service', 'constructor'), null, 'no service "constructor": not Object.prototype.constructor');
  t.equal(await store.get('product', 'toString'), null);
  for (const code of ['__proto__', 'constructor']) {
    await store.put('product', { code, name: code, packages: [] }, { ifVersion: 0 });
    t.same((await store.get('product', code))?.doc, { code, name: code, packages: [] }, `product "${code}" reads back`);
  }
  t.same((await store.list('product')).map((p) => p.doc.code).sort(), ['__proto__', 'constructor'], 'listed once each');
  await store.close();
  const again = new FileStore(dir, []);
  await again.open();
  t.teardown(() => again.close());
  t.equal((await again.get('product', '__proto__'))?.version, 1, 'and survive a restart');
  t.ok(await again.delete('product', '__proto__', { ifVersion: 1 }));
  t.equal(await again.get('product', '__proto__'), null);
});
