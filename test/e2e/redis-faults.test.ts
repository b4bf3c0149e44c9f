import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import t from 'tap';
import { RedisStore } from '../../registry/control/store/redis.js';
import type { Product } from '../../registry/view/types.js';
import { DEMO_KEYS, soajsError } from '../helpers/demo.js';
import { startRedis } from '../helpers/redis.js';
import { errorCode, hit, pollUntil, round2, startTesseraOnRedis, unhandledRejections } from './redis-e2e.js';

/**
 * Redis dies under traffic (SIGKILL) and comes back on the same port with its AOF (fsync always,
 * as in production): cached keys keep being served, an uncached key is refused with 181 (fail
 * closed, never a pass), and once Redis is back the gateway reads from it and follows its changes
 * again — without restarting, crashing or logging an unhandled rejection.
 */

const BUILD_NAME = '/example03/buildName?lastName=Smith';
const UNAVAILABLE_181 = soajsError(181, 'The registry is unavailable; try again shortly.');
/** The whole traffic run; Redis is killed at KILL_AT and restarted at RESTART_AT (ms from its start). */
const TRAFFIC_MS = 4000;
const KILL_AT = 1000;
const RESTART_AT = 2300;
const LOOPS_PER_KEY = 2;

interface Sample {
  key: string;
  start: number;
  end: number;
  status: number;
  ok: boolean;
  error?: string;
}

t.test('the gateway rides out a Redis crash and heals when it returns', async (t) => {
  const redis = await startRedis({ persist: true });
  const cleanup: (() => Promise<unknown>)[] = [() => redis.stop()];
  t.teardown(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  });
  const prefix = `e2e-faults-${process.pid}-${randomBytes(4).toString('hex')}:`;
  const url = `${redis.url}?prefix=${encodeURIComponent(prefix)}`;
  const gw = await startTesseraOnRedis(url);
  cleanup.push(() => gw.stop());

  const cached = { TNT2: DEMO_KEYS.TNT2, EXAMP_3ZE08: DEMO_KEYS.EXAMP_3ZE08 } as const;
  const expected: Record<string, unknown> = {
    TNT2: { result: true, data: { tenantName: 'Client Two', fullName: 'John Smith' } },
    EXAMP_3ZE08: { result: true, data: { tenantName: 'Tenant example', fullName: 'John Smith' } },
  };
  const buildName = (key: string) => hit(`${gw.url}${BUILD_NAME}`, { key });
  const matches = (r: { status: number; text: string }, body: unknown) => {
    try {
      return r.status === 200 && JSON.stringify(JSON.parse(r.text)) === JSON.stringify(body);
    } catch {
      return false;
    }
  };

  for (const [name, key] of Object.entries(cached)) {
    const r = await buildName(key);
    t.ok(matches(r, expected[name]), `${name} warmed`, { got: r });
  }

  // Outage timeline, on performance.now(): [killedAt, backAt] is when Redis is down.
  let killedAt = Infinity;
  let backAt = Infinity;
  let outageProbe: { status: number; text: string } | null = null;
  const samples: Sample[] = [];
  const t0 = performance.now();
  const deadline = t0 + TRAFFIC_MS;

  const loop = async (name: string, key: string) => {
    for (let i = 0; i < 200_000 && performance.now() < deadline; i++) {
      const start = performance.now();
      try {
        const r = await buildName(key);
        samples.push({ key: name, start, end: performance.now(), status: r.status, ok: matches(r, expected[name]) });
      } catch (err) {
        samples.push({ key: name, start, end: performance.now(), status: 0, ok: false, error: (err as Error).message });
      }
    }
  };

  const chaos = async () => {
    await sleep(KILL_AT);
    killedAt = performance.now();
    await redis.kill();
    // Let the gateway's connections notice, then try a key it has never seen.
    await sleep(300);
    outageProbe = await buildName(DEMO_KEYS.TNT3);
    await sleep(Math.max(0, RESTART_AT - (performance.now() - t0)));
    await redis.restart();
    backAt = performance.now();
  };

  await Promise.all([
    chaos(),
    ...Object.entries(cached).flatMap(([name, key]) => Array.from({ length: LOOPS_PER_KEY }, () => loop(name, key))),
  ]);

  t.test('cached keys are served throughout the outage', async (t) => {
    t.ok(Number.isFinite(killedAt) && Number.isFinite(backAt), 'Redis was killed and restarted');
    const during = samples.filter((s) => s.end >= killedAt && s.start <= backAt);
    const before = samples.filter((s) => s.end < killedAt);
    const after = samples.filter((s) => s.start > backAt);
    const failed = (list: Sample[]) => list.filter((s) => !s.ok);
    t.comment(
      `traffic: ${samples.length} requests (${before.length} before the kill, ${during.length} during the ${round2(backAt - killedAt)} ms outage, ${after.length} after the restart)`,
    );
    t.ok(during.length >= 20, `real traffic during the outage (${during.length} requests)`);
    for (const name of Object.keys(cached)) t.ok(during.some((s) => s.key === name), `${name} requested during the outage`);
    t.same(failed(during).slice(0, 5), [], 'zero failed requests for cached keys while Redis is down');
    t.same(failed(before).slice(0, 5), [], 'none before the kill');
    t.same(failed(after).slice(0, 5), [], 'none after the restart');
    t.equal(failed(samples).length, 0, 'zero failures overall');
  });

  t.test('an uncached key during the outage is refused with 181, not served or 403', async (t) => {
    t.ok(outageProbe, 'probed during the outage');
    t.equal(outageProbe?.status, 503);
    t.same(JSON.parse(outageProbe?.text ?? 'null'), UNAVAILABLE_181);
  });

  t.test('after Redis returns, uncached keys and new changes work again', async (t) => {
    // TNT3 was refused (so never cached); TNT1 application B's key was never used at all.
    const clientThree = { result: true, data: { tenantName: 'Client Three', fullName: 'John Smith' } };
    const tnt3 = await pollUntil(() => buildName(DEMO_KEYS.TNT3), (r) => matches(r, clientThree), 5000, 10_000);
    t.ok(tnt3.ok, `TNT3's key works ${round2(tnt3.ms)} ms after the restart checks began`, { last: tnt3.last });
    const clientOne = { result: true, data: { tenantName: 'Client One', fullName: 'John Smith' } };
    const tnt1b = await buildName(DEMO_KEYS.TNT1_B);
    t.ok(matches(tnt1b, clientOne), 'a never-used key works', { got: tnt1b });

    // The gateway is subscribed to the change channel again (it has a connection in SUBSCRIBE).
    const admin = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true, maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined);
    await admin.connect();
    cleanup.push(async () => admin.disconnect());
    const subscribers = (await admin.call('PUBSUB', 'NUMSUB', `${prefix}changes`)) as [string, number];
    t.equal(Number(subscribers[1]), 1, 'the gateway re-subscribed to the change channel');

    // A change written after the recovery is enforced: pub/sub (or the version poll) resynced.
    const store = new RedisStore({ url, onError: () => undefined });
    await store.open();
    cleanup.push(() => store.close());
    const original = (await store.get('product', 'PROD1'))?.doc;
    t.ok(original, 'the registry survived the crash (AOF, fsync always)');
    if (!original) return;
    const removed: Product = structuredClone(original);
    delete removed.packages.find((p) => p.code === 'PROD1_PCK2')!.acl['dev']!['example03'];
    await store.put('product', removed);
    const denied = await pollUntil(() => buildName(DEMO_KEYS.TNT2), (r) => r.status === 401 && errorCode(r.text) === 154, 3000);
    t.ok(denied.ok, `the ACL removal is enforced (${round2(denied.ms)} ms)`, { last: denied.last });
    await store.put('product', original);
    const back = await pollUntil(() => buildName(DEMO_KEYS.TNT2), (r) => matches(r, expected['TNT2']), 3000);
    t.ok(back.ok, `and its restore (${round2(back.ms)} ms)`, { last: back.last });
  });

  t.test('the process is alive and logged no unhandled rejection', async (t) => {
    t.ok(gw.alive(), 'still running');
    const hb = await hit(`http://127.0.0.1:${gw.ports.maintenance}/heartbeat`);
    t.equal(hb.status, 200, 'heartbeat answers');
    t.same(unhandledRejections(gw.output), [], 'no unhandled rejection in its output');
    t.ok(/store connection/.test(gw.output.join('')), 'the outage was logged (store connection warnings)');
  });
});
