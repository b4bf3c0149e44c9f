import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { loadConfig } from '../../config/load.js';
import { FileStore } from '../../registry/control/store/file.js';
import { RedisStore } from '../../registry/control/store/redis.js';
import type { Store } from '../../registry/control/store/types.js';
import { LoginThrottle } from '../../services/oauth/login-throttle.js';
import { startRedis, uniquePrefix } from '../helpers/redis.js';

/**
 * How many guesses the login throttle lets through (issue 14 §4), with the default settings and
 * an attacker who tries every 50 ms (20/s) and never stops: the clock is injected, the counters
 * are in a real store (the file store, and a real redis-server shared by two oauth instances).
 */
const SETTINGS = loadConfig({ env: {} }).security.login;
const STEP_MS = 50;

/** Guesses evaluated (not refused) in [fromS, toS) seconds of an attack; each one fails. */
async function attack(throttle: LoginThrottle, clock: { now: number }, target: (i: number) => { username: string; ip: string }, fromS: number, toS: number) {
  let evaluated = 0;
  let refused = 0;
  const start = clock.now;
  for (let i = 0; clock.now - start < toS * 1000; i++) {
    const { username, ip } = target(i);
    const refusal = await throttle.check(username, ip);
    if (refusal !== null) {
      if (clock.now - start >= fromS * 1000) refused++;
      // The tries it would make meanwhile are refused alike: skip to the last second of the wait.
      clock.now += Math.max(STEP_MS, (refusal.retryAfter - 1) * 1000);
      continue;
    }
    await throttle.failed(username, ip);
    if (clock.now - start >= fromS * 1000) evaluated++;
    clock.now += STEP_MS;
  }
  return { evaluated, refused };
}

async function figures(t: Test, make: () => Promise<Store>) {
  t.test('one username from one address: 10 guesses in the first minute, 4 in the next ten, then 12 an hour', async (t) => {
    const clock = { now: 1_800_000_000_000 };
    const throttle = new LoginThrottle(await make(), SETTINGS, () => clock.now);
    const first = await attack(throttle, clock, () => ({ username: 'admin', ip: '10.0.0.1' }), 0, 60);
    t.equal(first.evaluated, 10, 'first minute: 5 free, then waits of 1, 2, 4, 8, 16 s');
    t.ok(first.refused > 0, 'the tries in between were refused unevaluated');
    const later = await attack(throttle, clock, () => ({ username: 'admin', ip: '10.0.0.1' }), 0, 600);
    t.equal(later.evaluated, 4, 'the next 10 minutes: waits of 32, 64, 128, 256 s');
    const hour = await attack(throttle, clock, () => ({ username: 'admin', ip: '10.0.0.1' }), 0, 3600);
    t.equal(hour.evaluated, 12, `then one guess per ${SETTINGS.maxDelaySeconds} s (the cap): 12 an hour`);
  });

  t.test('one address spraying usernames: 25 guesses in the first minute, then as slow', async (t) => {
    const clock = { now: 1_800_000_000_000 };
    const throttle = new LoginThrottle(await make(), SETTINGS, () => clock.now);
    const first = await attack(throttle, clock, (i) => ({ username: `user${i}`, ip: '10.0.0.2' }), 0, 60);
    t.equal(first.evaluated, 25, 'first minute: 20 free, then waits of 1, 2, 4, 8, 16 s');
    const later = await attack(throttle, clock, (i) => ({ username: `late${i}`, ip: '10.0.0.2' }), 0, 600);
    t.equal(later.evaluated, 4, 'the next 10 minutes: waits of 32, 64, 128, 256 s');
  });

  t.test('the right password clears the username, a quiet window forgets everything', async (t) => {
    const clock = { now: 1_800_000_000_000 };
    const throttle = new LoginThrottle(await make(), SETTINGS, () => clock.now);
    for (let i = 0; i < SETTINGS.userFreeFailures; i++) await throttle.failed('carol', '10.0.0.3');
    t.match(await throttle.check('carol', '10.0.0.4'), { by: 'username', retryAfter: 1 }, 'from another address too');
    t.equal(await throttle.check('dave', '10.0.0.4'), null, 'another username is not held back');
    clock.now += 1000;
    t.equal(await throttle.check('carol', '10.0.0.4'), null, 'after the wait, one try');
    await throttle.succeeded('carol');
    for (let i = 0; i < SETTINGS.userFreeFailures - 1; i++) await throttle.failed('carol', '10.0.0.5');
    t.equal(await throttle.check('carol', '10.0.0.5'), null, 'counting starts afresh after a success');
    await throttle.failed('carol', '10.0.0.5');
    t.not(await throttle.check('carol', '10.0.0.5'), null);
    clock.now += SETTINGS.windowSeconds * 1000 + 1;
    t.equal(await throttle.check('carol', '10.0.0.5'), null, 'a window without failures forgets them');
    await throttle.failed('carol', '10.0.0.5');
    t.equal(await throttle.check('carol', '10.0.0.5'), null, 'and counts from one again');
  });
}

t.test('file store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-throttle-'));
  const stores: Store[] = [];
  t.teardown(async () => {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await figures(t, async () => {
    const s = new FileStore(join(dir, String(stores.length)));
    await s.open();
    stores.push(s);
    return s;
  });
});

t.test('redis store: the counts are shared by every oauth instance', async (t) => {
  const redis = await startRedis();
  const stores: Store[] = [];
  t.teardown(async () => {
    for (const s of stores) await s.close();
    await redis.stop();
  });
  const open = async (prefix: string) => {
    const s = new RedisStore({ url: `${redis.url}?prefix=${prefix}` });
    await s.open();
    stores.push(s);
    return s;
  };
  await figures(t, () => open(uniquePrefix()));

  t.test('two instances on one Redis count together', async (t) => {
    const prefix = uniquePrefix();
    const clock = { now: 1_800_000_000_000 };
    const a = new LoginThrottle(await open(prefix), SETTINGS, () => clock.now);
    const b = new LoginThrottle(await open(prefix), SETTINGS, () => clock.now);
    for (let i = 0; i < SETTINGS.userFreeFailures; i++) await (i % 2 ? a : b).failed('admin', `10.1.0.${i}`);
    t.match(await a.check('admin', '10.2.0.1'), { by: 'username' }, 'A sees the failures made through B');
    t.match(await b.check('admin', '10.2.0.1'), { by: 'username' });
  });
});
