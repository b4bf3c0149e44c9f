import { Redis } from 'ioredis';
import t from 'tap';
import type { SeedDoc } from '../../registry/control/seed.js';
import { RedisStore, type RedisStoreOptions } from '../../registry/control/store/redis.js';
import { ConflictError, StoreResetError, StoreUnavailableError, type ChangeEvent } from '../../registry/control/store/types.js';
import { startRedis, uniquePrefix } from '../helpers/redis.js';
import { seed, service, tenant } from './store-contract.js';

/*
 * What only the Redis store does (the shared contract is test/registry/store-contract.ts), against
 * a real, private redis-server. Every test uses its own key prefix; time bounds only stop a broken store
 * from hanging the run, they measure nothing.
 */

type Test = { teardown(fn: () => unknown): void };

const redis = await startRedis();
t.teardown(() => redis.stop());

/** Unhandled rejections anywhere in this file: a store must reject its callers, never the process. */
const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

function storeUrl(prefix: string): string {
  return `${redis.url}?prefix=${prefix}`;
}

async function opened(t: Test, prefix: string, opts: Partial<RedisStoreOptions> = {}): Promise<RedisStore> {
  const store = new RedisStore({ url: storeUrl(prefix), seed: seed(), onError: () => undefined, ...opts });
  t.teardown(() => store.close());
  await store.open();
  return store;
}

/** A plain client on the same server, for looking behind the store's back. */
function rawClient(t: Test): Redis {
  const r = new Redis(redis.url, { lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  r.on('error', () => undefined);
  t.teardown(() => r.disconnect());
  return r;
}

/** The rejection reason of p; fails when p resolves or is still pending after `ms`. */
async function rejectionOf(p: Promise<unknown>, ms = 5000): Promise<Error> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  try {
    await Promise.race([p, pending]);
  } catch (err) {
    if (err instanceof Error && /^still pending after/.test(err.message)) throw err;
    return err as Error;
  } finally {
    clearTimeout(timer);
  }
  throw new Error('promise resolved');
}

/** Change events of a store, and a way to wait (bounded) for one. */
interface Feed {
  readonly events: ChangeEvent[];
  /** The first event matching `pred` at or after index `from`; rejects after `ms`. */
  until(pred: (e: ChangeEvent) => boolean, what: string, ms?: number, from?: number): Promise<ChangeEvent>;
}

function feed(store: RedisStore): Feed {
  const events: ChangeEvent[] = [];
  const waiters = new Set<{ pred: (e: ChangeEvent) => boolean; resolve: (e: ChangeEvent) => void }>();
  store.onChange((e) => {
    events.push(e);
    for (const w of waiters) {
      if (w.pred(e)) {
        waiters.delete(w);
        w.resolve(e);
      }
    }
  });
  return {
    events,
    until(pred, what, ms = 3000, from = 0) {
      const seen = events.slice(from).find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (e: ChangeEvent) => {
            clearTimeout(timer);
            resolve(e);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no ${what} event within ${ms} ms; saw ${JSON.stringify(events.slice(from))}`));
        }, ms);
        waiters.add(w);
      });
    },
  };
}

/** Events other than `*` resyncs (the poll may add one of those at any time). */
function changes(events: readonly ChangeEvent[]): [number, string, string, string][] {
  return events.filter((e) => e.kind !== '*').map((e) => [e.version, e.kind, e.id, e.op]);
}

/** Retries `fn` until it resolves (bounded): for waiting on a reconnect without a fixed sleep. */
async function eventually<T>(fn: () => Promise<T>, what: string, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      return await fn();
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not within ${ms} ms (last: ${String(last)})`);
}

t.test('open() seeds an empty prefix once; a deleted seed document stays deleted on reopen', async (t) => {
  const prefix = uniquePrefix();
  const raw = rawClient(t);
  const store = await opened(t, prefix);

  const data = await store.load();
  t.equal(data.version, 3, 'one version per seed document');
  t.same(data.products.map((p) => p.code), ['PROD1']);
  t.same(data.services.map((s) => s.name), ['example03']);
  t.notOk('tenants' in data, 'tenants are not part of the snapshot data');
  t.same(data.hosts, []);
  t.same((await store.list('tenant')).map((x) => [x.doc.id, x.version]), [['t1', 1]]);
  const got = await store.get('tenant', 't1');
  t.equal(got?.version, 1);
  t.same(got?.doc, tenant());
  t.equal(await store.get('tenant', 'nope'), null);
  t.same((await raw.smembers(`${prefix}seeded`)).sort(), ['product:PROD1', 'service:example03', 'tenant:t1']);
  t.equal(await raw.get(`${prefix}version`), '3');

  // A second store opened with the same seed adds nothing.
  const again = await opened(t, prefix);
  t.equal((await again.load()).version, 3, 'reopening with the same seed writes nothing');

  await store.put('tenant', { ...tenant(), name: 'Renamed' });
  t.equal(await store.delete('service', 'example03'), true);
  t.equal(await store.get('service', 'example03'), null);
  await store.close();
  await again.close();

  const extra: SeedDoc = { kind: 'service', doc: service('newcomer', 4200), origin: 'test: services[1]' };
  const third = await opened(t, prefix, { seed: [...seed(), extra] });
  t.equal(await third.get('service', 'example03'), null, 'deleted seed service stays deleted');
  const tn = await third.get('tenant', 't1');
  t.equal(tn?.doc.name, 'Renamed', 'the seed does not overwrite a stored document');
  t.equal(tn?.version, 2);
  t.equal((await third.get('service', 'newcomer'))?.version, 1, 'a seed document never applied is added');
  t.equal((await third.load()).version, 6, '3 seeds + put + delete + newcomer');
  t.ok((await raw.sismember(`${prefix}seeded`, 'service:example03')) === 1, 'the deleted one stays recorded as seeded');
  t.ok((await raw.sismember(`${prefix}seeded`, 'service:newcomer')) === 1);

  const noSeed = await opened(t, prefix, { seed: [] });
  t.equal((await noSeed.get('service', 'newcomer'))?.doc.port, 4200, 'a store without seed reads the same data');
});

t.test('a deleted document leaves nothing in Redis: neither the document nor its version', async (t) => {
  const prefix = uniquePrefix();
  const raw = rawClient(t);
  const store = await opened(t, prefix, { seed: [] });
  await store.put('service', service('a', 4101));
  t.equal(await store.delete('service', 'a'), true);
  t.equal(await raw.hexists(`${prefix}doc:service`, 'a'), 0, 'document gone from Redis');
  t.equal(await raw.hexists(`${prefix}ver:service`, 'a'), 0, 'its version gone from Redis');
});

t.test('two stores on one Redis: a write through one is a change event in the other', async (t) => {
  const prefix = uniquePrefix();
  const a = await opened(t, prefix);
  const b = await opened(t, prefix);
  const fa = feed(a);
  const fb = feed(b);

  t.equal(await a.put('service', service('s1', 4500)), 1);
  await a.put('tenant', { ...tenant(), name: 'Via A' });
  t.equal(await a.delete('service', 's1'), true);
  await b.put('service', service('s2', 4501));

  await fb.until((e) => e.id === 's2', 'b: own write');
  await fa.until((e) => e.id === 's2', 'a: write from b');
  const expected = [
    [4, 'service', 's1', 'put'],
    [5, 'tenant', 't1', 'put'],
    [6, 'service', 's1', 'delete'],
    [7, 'service', 's2', 'put'],
  ];
  t.same(changes(fb.events), expected, 'b saw every write, in order, with increasing versions');
  t.same(changes(fa.events), expected, 'and so did a');
  t.equal((await b.load()).version, 7, 'last event version = registry version');
  t.equal((await b.get('tenant', 't1'))?.doc.name, 'Via A', 'b reads what a wrote');

  const other = await opened(t, uniquePrefix());
  const fo = feed(other);
  await other.put('service', service('elsewhere', 4502));
  await fo.until((e) => e.id === 'elsewhere', 'other prefix');
  await a.put('service', service('s3', 4503));
  await fb.until((e) => e.id === 's3', 's3');
  t.notOk(
    fb.events.some((e) => e.id === 'elsewhere'),
    'a store with another prefix does not leak into this feed',
  );
});

t.test('concurrent writes to one document', async (t) => {
  const prefix = uniquePrefix();
  const store = await opened(t, prefix, { seed: [] });

  const ports = Array.from({ length: 20 }, (_, i) => 5000 + i);
  const results = await Promise.allSettled(ports.map((port) => store.put('service', service('busy', port))));
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  t.same(
    failed.map((r) => String(r.reason)),
    [],
    '20 concurrent puts without ifVersion all succeed',
  );
  const versions = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  t.same(
    [...versions].sort((x, y) => x - y),
    Array.from({ length: 20 }, (_, i) => i + 1),
    'each got its own version',
  );
  const got = await store.get('service', 'busy');
  t.equal(got?.version, 20, 'final document version is 20');
  t.ok(got && ports.includes(got.doc.port), 'the document is one of the written ones');
  t.equal((await store.load()).version, 20);

  const creates = await Promise.allSettled(ports.map((port) => store.put('service', service('once', port), { ifVersion: 0 })));
  const won = creates.filter((r) => r.status === 'fulfilled');
  const lost = creates.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  t.equal(won.length, 1, 'exactly one create-if-absent succeeds');
  t.equal(lost.length, 19);
  t.ok(
    lost.every((r) => r.reason instanceof ConflictError),
    'the others get ConflictError',
  );
  t.equal((await store.get('service', 'once'))?.version, 1);
});

t.test('a change whose message was missed is caught by the version poll', async (t) => {
  const prefix = uniquePrefix();
  const raw = rawClient(t);
  const store = await opened(t, prefix, { pollMs: 100 });
  const f = feed(store);

  const v = await raw.incr(`${prefix}version`); // no PUBLISH: as if the message were lost
  t.equal(v, 4);
  const e = await f.until((x) => x.kind === '*', 'resync', 1500);
  t.equal(e.version, 4, 'the resync carries the registry version');
  t.same(changes(f.events), [], 'nothing else was announced');

  // Once caught up, the poll stays quiet.
  await store.put('service', service('after', 4600));
  await f.until((x) => x.id === 'after', 'after');
  const resyncs = f.events.filter((x) => x.kind === '*').length;
  await new Promise((r) => setTimeout(r, 400));
  t.equal(f.events.filter((x) => x.kind === '*').length, resyncs, 'no further resync without a gap');
});

t.test('a subscriber that reconnects resyncs when the version moved meanwhile', async (t) => {
  const prefix = uniquePrefix();
  const raw = rawClient(t);
  const writer = await opened(t, prefix, { seed: [] });
  // The poll is far away: a resync seen here comes from the subscriber's reconnect.
  const b = await opened(t, prefix, { seed: [], pollMs: 60_000 });
  const fb = feed(b);
  const subscribers = async () => Number(((await raw.pubsub('NUMSUB', `${prefix}changes`)) as [string, number])[1]);
  t.equal(await subscribers(), 2);

  // A subscriber dropped while the version does not move: nothing was missed, no resync needed.
  await raw.client('KILL', 'TYPE', 'pubsub');
  await eventually(async () => {
    if ((await subscribers()) < 2) throw new Error('not yet resubscribed');
  }, 'resubscribe');
  await writer.put('service', service('s1', 4800));
  await fb.until((e) => e.id === 's1', 'write after the resubscribe');
  t.same(
    fb.events.map((e) => e.kind),
    ['service'],
    'no resync when nothing moved; the change feed works again',
  );

  // Dropped, and a change happens that no message announces: the reconnect must resync.
  const mark = fb.events.length;
  await raw.client('KILL', 'TYPE', 'pubsub');
  const v = await raw.incr(`${prefix}version`);
  const e = await fb.until((x) => x.kind === '*', 'resync after the resubscribe', 5000, mark);
  t.equal(e.version, v, 'the resync carries the registry version');
});

t.test('Redis down: calls fail fast with StoreUnavailableError; after a restart it heals', async (t) => {
  const prefix = uniquePrefix();
  const raw = rawClient(t);
  const a = await opened(t, prefix, { pollMs: 100, commandTimeoutMs: 1000 });
  const b = await opened(t, prefix, { pollMs: 500, commandTimeoutMs: 1000 });
  const fb = feed(b);
  await a.put('service', service('before', 4700));
  await fb.until((e) => e.id === 'before', 'before the outage');
  const unhandledBefore = unhandled.length;

  await redis.kill();

  const calls: [string, () => Promise<unknown>][] = [
    ['get', () => a.get('tenant', 't1')],
    ['put', () => a.put('service', service('during', 4701))],
    ['list', () => a.list('service')],
    ['delete', () => a.delete('service', 'before')],
    ['load', () => a.load()],
    ['findTenantByKeyHash', () => a.findTenantByKeyHash('a'.repeat(64))],
    ['findUserByUsername', () => a.findUserByUsername('alice')],
    ['registerHost', () => a.registerHost({ service: 'example03', version: '1', host: '127.0.0.1', port: 4023 })],
  ];
  for (const [name, call] of calls) {
    const err = await rejectionOf(call(), 3000);
    t.ok(err instanceof StoreUnavailableError, `${name} rejects with StoreUnavailableError (got ${err.name}: ${err.message})`);
  }
  const all = await Promise.allSettled(calls.map(([, call]) => call()));
  t.ok(
    all.every((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailableError),
    'concurrent calls during the outage all reject with StoreUnavailableError',
  );
  // Let anything left dangling surface before counting unhandled rejections.
  await new Promise((r) => setTimeout(r, 300));
  t.same(unhandled.slice(unhandledBefore).map(String), [], 'no unhandled rejection');

  const mark = fb.events.length;
  await redis.restart();

  // Redis came back empty (no persistence): the registry version went backwards, so b must drop
  // every cache (from its resubscribe check or, if its command connection was not back yet, its poll).
  const resync = await fb.until((e) => e.kind === '*', "b's resync after the restart", 8000, mark);
  t.equal(resync.version, 0, 'the resync carries the (reset) registry version');

  // The same store objects, not reopened: commands work again, but Redis came back empty (no
  // persistence), so it is no longer the registry a opened: a's writes are refused, nothing written,
  // until an operator accepts the store as it is (issue 16 §6).
  const refused = await eventually(
    () =>
      rejectionOf(a.put('service', service('after', 4702)), 3000).then((err) => {
        if (!(err instanceof StoreResetError)) throw err;
        return err;
      }),
    'a refused write through a after the restart',
  );
  t.match(refused.message, /tessera store accept-reset/, 'the refusal says what ends it');
  t.ok(refused instanceof StoreUnavailableError, 'a kind of unavailability: services answer 503, code 181');
  t.equal(await raw.exists(`${prefix}doc:service`, `${prefix}version`), 0, 'nothing was written');
  const accepted = await b.acceptReset();
  t.equal(accepted.version, 1, 'the acceptance is the first version of the new registry');
  const v = await a.put('service', service('after', 4702));
  t.equal(v, 1, 'a adopts the accepted registry and writes again: the document starts at version 1');
  t.equal(a.epoch, accepted.epoch, 'under the accepted identity');
  t.same((await eventually(() => b.get('service', 'after'), 'b read'))?.doc.port, 4702, 'b reads it');

  // Both subscribers are back on the channel (a's and b's): a write from a reaches b as an event.
  await eventually(async () => {
    const res = (await raw.pubsub('NUMSUB', `${prefix}changes`)) as [string, number];
    if (Number(res[1]) < 2) throw new Error(`NUMSUB ${String(res[1])}`);
  }, 'both subscribers back');
  const from = fb.events.length;
  await a.put('service', service('again', 4703));
  const e = await fb.until((x) => x.id === 'again', 'write from a after the restart', 3000, from);
  t.equal(e.kind, 'service');
  t.equal(e.op, 'put');
  t.equal(e.version, (await a.load()).version, 'the event carries the registry version');
  t.same(unhandled.slice(unhandledBefore).map(String), [], 'still no unhandled rejection');
});
