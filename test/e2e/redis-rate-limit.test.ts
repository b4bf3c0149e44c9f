import t from 'tap';
import { Pool } from 'undici';
import { DEMO_KEYS, TNT2_ID } from '../helpers/demo.js';
import { startRedis, uniquePrefix } from '../helpers/redis.js';
import { RedisStore } from '../../registry/control/store/redis.js';
import { startTesseraOnRedis } from './redis-e2e.js';

/**
 * Rate limits shared by two gateways on one Redis (issue 16 §4): 10,000 requests against a limit
 * of 1,000 a minute, sent to both at once, let through 1,000 ± 1 % — each gateway spends tokens it
 * leased in batches, so most requests do no I/O, and what the two are granted together never
 * passes the limit. Then with Redis gone each gateway keeps enforcing the limit on its own.
 */
const BUILD_NAME = '/example03/buildName?lastName=Smith';
const LIMIT = 1000;
const REQUESTS = 10_000;

t.test('two gateways, one limit of 1,000/min, 10,000 requests', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const url = `${redis.url}?prefix=${encodeURIComponent(uniquePrefix())}`;
  const a = await startTesseraOnRedis(url);
  t.teardown(() => a.stop());
  const b = await startTesseraOnRedis(url);
  t.teardown(() => b.stop());

  const store = new RedisStore({ url, onError: () => undefined });
  await store.open();
  t.teardown(() => store.close());
  const tenant = (await store.get('tenant', TNT2_ID))!;
  const doc = structuredClone(tenant.doc);
  for (const app of doc.applications) app.rateLimits = [{ by: 'tenant', limit: LIMIT, windowSeconds: 60 }];
  await store.put('tenant', doc, { ifVersion: tenant.version });

  const pools = [new Pool(a.url, { connections: 25 }), new Pool(b.url, { connections: 25 })];
  t.teardown(() => Promise.all(pools.map((p) => p.close())));
  const statuses = new Map<number, number>();
  const send = async (pool: Pool): Promise<number> => {
    const res = await pool.request({ method: 'GET', path: BUILD_NAME, headers: { key: DEMO_KEYS.TNT2 } });
    await res.body.dump();
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    return res.statusCode;
  };
  // Both gateways have the limit once their answers carry it (these requests count too).
  for (const pool of pools) {
    for (let i = 0; i < 100; i++) {
      const res = await pool.request({ method: 'GET', path: BUILD_NAME, headers: { key: DEMO_KEYS.TNT2 } });
      await res.body.dump();
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.headers['ratelimit-policy'] !== undefined) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const polled = [...statuses.values()].reduce((x, y) => x + y, 0);
  let next = 0;
  const worker = async (pool: Pool) => {
    while (next < REQUESTS - polled) {
      next++;
      await send(pool);
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: 50 }, (_, i) => worker(pools[i % 2]!)));
  const ms = Date.now() - started;
  const passed = statuses.get(200) ?? 0;
  const refused = statuses.get(429) ?? 0;
  t.equal(passed + refused, REQUESTS, `every request was answered 200 or 429 (${JSON.stringify(Object.fromEntries(statuses))})`);
  t.ok(passed <= LIMIT, `never past the limit: ${passed} passed`);
  t.ok(passed >= LIMIT * 0.99, `within 1 %: ${passed} of ${LIMIT} (${REQUESTS} requests in ${ms} ms)`);

  // The local fast path: a lease per batch, not a round trip per request.
  let leases = 0;
  for (const gw of [a, b]) {
    const stat = (await (await fetch(`http://127.0.0.1:${gw.ports.maintenance}/awarenessStat`)).json()) as { data: { rateLimits: { leases: number; denied: number } } };
    leases += stat.data.rateLimits.leases;
  }
  t.ok(leases < 200, `${leases} leases from Redis for ${REQUESTS} requests`);
});
