import t from 'tap';
import { RedisStore } from '../../registry/control/store/redis.js';
import { RateLimiter } from '../../registry/view/rate-limiter.js';
import { compileRateRules } from '../../registry/view/rate-rules.js';
import { startRedis, uniquePrefix } from '../helpers/redis.js';

/**
 * The limiter over a real Redis: leases in batches, refuses locally once the shared counter is
 * used up, and when Redis goes away keeps enforcing on its own (one state change reported, not
 * one per request) — the limit is never lifted by an outage.
 */
t.test('shared counting, then Redis killed: the limit still holds, counted locally', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const store = new RedisStore({ url: `${redis.url}?prefix=${uniquePrefix()}`, commandTimeoutMs: 300, onError: () => undefined });
  await store.open();
  t.teardown(() => store.close());
  const states: boolean[] = [];
  const limiter = new RateLimiter(store, { onSharedState: (up) => states.push(up) });
  t.teardown(() => limiter.close());
  const [rule] = compileRateRules('package', 'P_T', [{ by: 'tenant', limit: 50, windowSeconds: 60 }])!;
  const counter = limiter.counter(rule!, 'tenant-1');

  let passed = 0;
  for (let i = 0; i < 80; i++) if (await limiter.take(counter, limiter.now())) passed++;
  t.equal(passed, 50, 'exactly the limit passes');
  t.ok(limiter.leases < passed, `in batches (a tenth of what is left): ${limiter.leases} leases for 80 requests`);

  // A second subject while Redis is down: counted here, the same limit.
  await redis.kill();
  const other = limiter.counter(rule!, 'tenant-2');
  let local = 0;
  for (let i = 0; i < 80; i++) if (await limiter.take(other, limiter.now())) local++;
  t.equal(local, 50, 'with Redis gone the limit is enforced locally, not lifted');
  t.same(states, [false], 'the outage was reported once');

  await redis.restart();
  const third = limiter.counter(rule!, 'tenant-3');
  let back = false;
  for (let i = 0; i < 50 && !back; i++) {
    await limiter.take(third, limiter.now());
    back = states.at(-1) === true;
    if (!back) await new Promise((r) => setTimeout(r, 100));
  }
  t.same(states, [false, true], 'and its return once');
});
