import t from 'tap';
import { RedisStore } from '../../registry/control/store/redis.js';
import type { Store, StoredEvent } from '../../registry/control/store/types.js';
import { startRedis, uniquePrefix } from '../helpers/redis.js';
import { service } from './store-contract.js';

/**
 * The outbox survives a crash (issue 17 §2): a redis-server with AOF (fsync always) is killed
 * with SIGKILL right after acknowledged writes, while more are in flight. After the restart every
 * acknowledged write's events are there, and no write is there without its events or the other
 * way round — the in-flight ones landed whole or not at all.
 */

const WRITERS = 8;
const ACKED_BEFORE_KILL = 300;
const EVENTS_PER_WRITE = 2;

async function readAll(store: Store): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.readEvents({ limit: 1000, ...(after ? { after } : {}) });
    out.push(...page.events);
    if (page.next === null) return out;
    after = page.next;
  }
}

t.test('redis killed -9 after acknowledged writes: every acknowledged event is there after the restart', async (t) => {
  const redis = await startRedis({ persist: true });
  t.teardown(() => redis.stop());
  const url = `${redis.url}?prefix=${uniquePrefix()}`;
  const store = new RedisStore({ url, onError: () => undefined });
  t.teardown(() => store.close());
  await store.open();

  const acked = new Set<number>();
  const failed = new Set<number>();
  let next = 0;
  let killed: Promise<void> | null = null;
  const writer = async () => {
    while (killed === null) {
      const n = next++;
      try {
        await store.put('service', service(`s${n}`, 1024 + n), {
          events: Array.from({ length: EVENTS_PER_WRITE }, (_, i) => ({ type: 'test.written', service: `s${n}`, data: { n, i } })),
        });
        acked.add(n);
        // The kill follows the acknowledgement at once: the other writers still have theirs in flight.
        if (acked.size === ACKED_BEFORE_KILL && killed === null) killed = redis.kill();
      } catch {
        failed.add(n);
      }
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, writer));
  await killed;
  // Replies Redis sent before it died may still arrive after the signal: they count as acknowledged too.
  t.ok(acked.size >= ACKED_BEFORE_KILL, `${acked.size} writes acknowledged`);

  await redis.restart();
  const after = new RedisStore({ url, onError: () => undefined });
  t.teardown(() => after.close());
  await after.open();
  const events = await readAll(after);
  const docs = new Set((await after.list('service')).map((v) => Number(v.doc.name.slice(1))));
  const byWrite = new Map<number, number>();
  for (const e of events) byWrite.set(e.data['n'] as number, (byWrite.get(e.data['n'] as number) ?? 0) + 1);

  const missing = [...acked].filter((n) => byWrite.get(n) !== EVENTS_PER_WRITE);
  t.same(missing, [], 'every acknowledged write has all its events');
  t.same([...acked].filter((n) => !docs.has(n)), [], 'and its document');
  t.same([...docs].filter((n) => byWrite.get(n) !== EVENTS_PER_WRITE), [], 'no document without its events');
  t.same([...byWrite.keys()].filter((n) => !docs.has(n)), [], 'no event without its document');
  const landed = [...failed].filter((n) => docs.has(n)).length;
  t.same(
    events.map((e) => e.cursor),
    [...events.map((e) => e.cursor)].sort((a, b) => {
      const [am, as] = a.split('-').map(Number) as [number, number];
      const [bm, bs] = b.split('-').map(Number) as [number, number];
      return am - bm || as - bs;
    }),
    'in cursor order',
  );
  t.comment(
    `writes acknowledged ${acked.size} (events ${acked.size * EVENTS_PER_WRITE}), in flight at the kill ${failed.size} (of which landed whole ${landed}); ` +
      `after the restart: events present ${events.length}, documents ${docs.size}, acknowledged events missing ${missing.length * EVENTS_PER_WRITE}`,
  );
});
