import { Redis } from 'ioredis';
import t from 'tap';
import { KeyCache } from '../../registry/view/cache.js';
import type { SeedDoc } from '../../registry/control/seed.js';
import { RedisStore } from '../../registry/control/store/redis.js';
import type { RegistryData } from '../../registry/control/store/types.js';
import { RegistryHeldError, type RegistryHold } from '../../registry/view/store-reset.js';
import { RegistrySync, type SyncOptions } from '../../registry/view/sync.js';
import type { Snapshot } from '../../registry/view/snapshot.js';
import { startRedis, uniquePrefix, type TestRedis } from '../helpers/redis.js';
import { product, seed, service, tenant } from './store-contract.js';

/*
 * The store reset guard of RegistrySync (issue 16 §6), against a real redis-server that is killed
 * and restarted: without persistence it comes back empty, as Redis started the README's old way
 * did. The sync follows with a 100 ms version poll; every wait is bounded and polls a condition.
 */

type Test = { teardown(fn: () => unknown): void };

/** The ext key hash the contract's tenant holds (tenant t1, package PROD1_PCK1, env dev). */
const KEY = 'a'.repeat(64);
const NEVER_SEEN = 'b'.repeat(64);

/** The real RedisStore, counting its loads (what a rebuild reads): how often the sync judged the store. */
class CountingStore extends RedisStore {
  loads = 0;
  override async load(): Promise<RegistryData> {
    const data = await super.load();
    this.loads++;
    return data;
  }
}

/** Resolves once `cond` holds, checking every 20 ms; fails after `ms`. */
async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Rig {
  redis: TestRedis;
  url: string;
  /** The gateway side: its store, its sync, a key cache reading through the sync. */
  store: CountingStore;
  sync: RegistrySync;
  keys: KeyCache;
  holds: RegistryHold[];
  releases: { how: string; snapshot: Snapshot }[];
  taken: RegistryHold[];
  /** A writer (a services process) on the same store. */
  writer: RedisStore;
}

async function rig(t: Test, opts: { persist?: boolean; sync?: Partial<SyncOptions>; seed?: readonly SeedDoc[] } = {}): Promise<Rig> {
  const redis = await startRedis({ persist: opts.persist ?? false });
  t.teardown(() => redis.stop());
  const url = `${redis.url}?prefix=${uniquePrefix()}`;
  const writer = new RedisStore({ url, seed: opts.seed ?? seed(), onError: () => undefined });
  t.teardown(() => writer.close());
  await writer.open();
  const store = new CountingStore({ url, pollMs: 100, commandTimeoutMs: 1000, onError: () => undefined });
  t.teardown(() => store.close());
  await store.open();
  const holds: RegistryHold[] = [];
  const releases: { how: string; snapshot: Snapshot }[] = [];
  const taken: RegistryHold[] = [];
  const sync = await new RegistrySync(store, {
    env: 'dev',
    retryMs: 100,
    onHold: (h) => holds.push(h),
    onRelease: (_h, how, snapshot) => releases.push({ how, snapshot }),
    onResetTaken: (h) => taken.push(h),
    ...opts.sync,
  }).start();
  t.teardown(() => sync.stop());
  const keys = new KeyCache(sync.reader, 'dev', 100);
  t.teardown(() => keys.close());
  return { redis, url, store, sync, keys, holds, releases, taken, writer };
}

t.test('an empty store after a non-empty one is refused: last snapshot and caches kept, one hold however many loads', async (t) => {
  const r = await rig(t);
  const before = r.sync.current();
  t.ok(before.version > 0 && before.packages.has('PROD1_PCK1'), `serving registry version ${before.version}`);
  const entry = await r.keys.load(KEY);
  t.equal(entry?.tenant.id, 't1', 'the key is cached');
  t.equal(await r.keys.load(NEVER_SEEN), null, 'an unknown key is cached negatively');
  const epoch = (await r.writer.load()).identity.epoch;

  await r.redis.restart();
  await until(() => r.sync.hold() !== null, 'the hold');
  const hold = r.sync.hold()!;
  t.equal(hold.why, 'lost-identity', 'the store no longer carries the registry identity');
  t.same(hold.held, { version: before.version, epoch }, 'judged against what was served');
  t.same({ version: hold.found.version, empty: hold.found.empty, epoch: hold.found.epoch }, { version: 0, empty: true, epoch: null }, 'an empty store: version 0, no identity');
  t.match(hold.message, /tessera store accept-reset/, 'the message says what ends it');
  t.match(hold.message, /appendonly yes/, 'and how to keep it from happening');
  t.equal(r.sync.current(), before, 'the last good snapshot keeps serving');
  t.equal(r.keys.get(KEY), entry, 'the cached key is still cached: it keeps working');
  t.equal(r.keys.get(NEVER_SEEN), null, 'so is the negative entry');
  t.equal(await r.writer.findTenantByKeyHash(KEY), null, 'the store itself would call the key unknown (148)');
  const miss = await r.keys.load('c'.repeat(64)).then(
    () => null,
    (err: unknown) => err,
  );
  t.ok(miss instanceof RegistryHeldError, 'a key never seen is not read from the reset store: refused (the key stage answers 503, code 181)');
  t.equal(r.keys.get('c'.repeat(64)), undefined, 'and not remembered');

  // Many more looks at the store while held: writes from a process that opened the reset store
  // (it reseeds it and gives it an identity of its own), and the 100 ms poll going round.
  const loadsAtHold = r.store.loads;
  const fresh = new RedisStore({ url: r.url, seed: seed(), onError: () => undefined });
  t.teardown(() => fresh.close());
  await fresh.open();
  for (let i = 0; i < 5; i++) await fresh.put('service', service(`late${i}`, 4800 + i));
  await until(() => r.store.loads >= loadsAtHold + 3, 'loads while held');
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.ok(r.store.loads - loadsAtHold >= 3, `the store was judged again ${r.store.loads - loadsAtHold} times while held`);
  t.equal(r.holds.length, 1, 'one hold reported (one log line), however many loads');
  t.equal(r.sync.hold(), hold, 'the same hold');
  t.equal(r.sync.current(), before, 'still the last good snapshot, though the store holds another registry now');
  t.equal(r.keys.get(KEY), entry, 'and the cached key');
  t.same(r.releases, [], 'not released');
});

t.test('accept-reset: the store as it is is swapped in, the caches dropped, the hold over', async (t) => {
  const r = await rig(t);
  const before = r.sync.current();
  await r.keys.load(KEY);
  await r.redis.restart();
  await until(() => r.sync.hold() !== null, 'the hold');

  // The operator: `tessera store accept-reset` is this call on a store of its own.
  const op = new RedisStore({ url: r.url, onError: () => undefined });
  t.teardown(() => op.close());
  await op.open();
  const accepted = await op.acceptReset();
  await until(() => r.sync.hold() === null, 'the release');
  t.same(r.releases.map((x) => x.how), ['accepted'], 'released by the operator');
  const now = r.sync.current();
  t.not(now, before, 'a new snapshot');
  t.equal(now.version, accepted.version, 'at the accepted version (below the one served before: another life of the store)');
  t.equal(now.packages.size, 0, 'the store as it is: empty');
  t.equal(r.keys.get(KEY), undefined, 'the caches dropped what the store no longer holds');
  t.equal(await r.keys.load(KEY), null, 'the key is now unknown, as the store says (148)');
  t.equal(r.holds.length, 1);

  // Followed as usual afterwards: a write lands in the snapshot, and a resync of an intact store is no reset.
  await r.writer.put('product', product());
  await until(() => r.sync.current().packages.has('PROD1_PCK1'), 'the next write');
  t.equal(r.sync.hold(), null, 'no hold');
  t.equal(r.holds.length, 1, 'no new hold');
});

t.test('a registry version that went backwards (an older copy of the same registry) is refused', async (t) => {
  const r = await rig(t);
  for (let i = 0; i < 4; i++) await r.writer.put('service', service(`s${i}`, 4900 + i));
  await until(() => r.sync.current().services.has('s3'), 'the writes');
  const served = r.sync.current();
  const raw = new Redis(r.redis.url, { maxRetriesPerRequest: 1 });
  raw.on('error', () => undefined);
  t.teardown(() => raw.disconnect());
  const prefix = new URL(r.url).searchParams.get('prefix')!;
  await raw.set(`${prefix}version`, 2);
  await until(() => r.sync.hold() !== null, 'the hold');
  const hold = r.sync.hold()!;
  t.equal(hold.why, 'version-backwards');
  t.same([hold.held.version, hold.found.version, hold.found.empty], [served.version, 2, false]);
  t.equal(hold.found.epoch, hold.held.epoch, 'the same registry identity: only the version tells');
  // By content, not identity: a rebuild of the same version may still have landed after `served` was read.
  t.same([r.sync.current().version, r.sync.current().services.has('s3')], [served.version, true], 'the last good snapshot keeps serving');

  // The version climbs back past the one served (a replica that lagged has caught up): the store
  // holds the registry again, and the hold ends by itself.
  await raw.set(`${prefix}version`, served.version + 1);
  await until(() => r.sync.hold() === null, 'the release');
  t.same(r.releases.map((x) => x.how), ['restored']);
  t.equal(r.sync.current().version, served.version + 1);
  t.equal(r.holds.length, 1);
});

t.test('a normal change still swaps; a restart that keeps the data (AOF) is no reset', async (t) => {
  const r = await rig(t, { persist: true });
  const entry = await r.keys.load(KEY);
  t.ok(entry, 'the key is cached');
  await r.writer.put('service', service('normal', 4950));
  await until(() => r.sync.current().services.has('normal'), 'a normal write');
  const changed = { ...tenant(), name: 'Renamed' };
  await r.writer.put('tenant', changed);
  await until(() => r.keys.get(KEY) === undefined, 'the tenant change evicts its key');
  t.equal((await r.keys.load(KEY))?.tenant.name, 'Renamed', 'and the next load reads it');

  const before = r.sync.current();
  await r.redis.restart();
  await until(() => r.writer.put('service', service('after-restart', 4951)).then(() => true, () => false), 'the writer writes again');
  await until(() => r.sync.current().services.has('after-restart'), 'the write after the restart');
  t.equal(r.sync.hold(), null, 'no hold: the store kept the registry');
  t.same(r.holds, []);
  t.ok(r.sync.current().version > before.version, 'the snapshot moved on');
});

t.test('storeReset: accept takes a reset as it is, once, and drops the caches', async (t) => {
  const r = await rig(t, { sync: { resetPolicy: 'accept' } });
  await r.keys.load(KEY);
  await r.redis.restart();
  await until(() => r.taken.length > 0, 'the reset taken');
  t.equal(r.sync.hold(), null, 'never held');
  t.same(r.holds, []);
  t.equal(r.taken.length, 1, 'reported once');
  t.equal(r.taken[0]?.found.empty, true);
  t.match(r.taken[0]?.message ?? '', /Taken as it is/);
  t.equal(r.sync.current().version, 0, 'the empty store is served');
  t.equal(r.keys.get(KEY), undefined, 'the caches dropped');
});
