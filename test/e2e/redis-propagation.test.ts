import { randomBytes } from 'node:crypto';
import t from 'tap';
import { RedisStore } from '../../registry/control/store/redis.js';
import type { Product, Tenant } from '../../registry/view/types.js';
import { DEMO_KEYS, login, request, soajsError, type TokenPair } from '../helpers/demo.js';
import {
  errorCode,
  hit,
  percentile,
  pollUntil,
  round2,
  startTesseraOnRedis,
  unhandledRejections,
} from './redis-e2e.js';
import type { TesseraProcess } from '../helpers/process.js';
import { startRedis } from '../helpers/redis.js';

/**
 * Two Tessera processes (gateway A and gateway B) follow one Redis registry: a change written to
 * Redis (by the test, or through A's oauth/urac APIs) is enforced by B, within milliseconds.
 */

const TNT3_ID = '54ee2925203674ba271d57a5';
const USER1_ID = '5c8d0c505653de3985aa0ffd';
const BUILD_NAME = '/example03/buildName?lastName=Smith';
const DENIED_154 = soajsError(154, 'Access denied: The service is not available in your current package.');
const KEY_148 = soajsError(148, 'Unable to load the key information');
const TOKEN_401 = soajsError(401, 'The access token provided is invalid.');
/** Bound of one wait for a change to show (the target is tens of ms). */
const BOUND_MS = 3000;
/** ACL flips measured (alternating remove/restore). */
const FLIPS = 200;

/** PROD1 with example03 removed from PROD1_PCK2 (the TNT2 key's package). */
function withoutExample03(prod: Product): Product {
  const copy = structuredClone(prod);
  const pck = copy.packages.find((p) => p.code === 'PROD1_PCK2');
  if (!pck?.acl['dev']?.['example03']) throw new Error('PROD1_PCK2 has no dev example03 ACL to remove');
  delete pck.acl['dev']['example03'];
  return copy;
}

t.test('registry changes made through one gateway are enforced by the other (one Redis)', async (t) => {
  const redis = await startRedis();
  const cleanup: (() => Promise<unknown>)[] = [() => redis.stop()];
  t.teardown(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  });
  const url = `${redis.url}?prefix=${encodeURIComponent(`e2e-prop-${process.pid}-${randomBytes(4).toString('hex')}:`)}`;

  // Both start on the empty registry at once and seed it idempotently (the loser of each race skips).
  const started = await Promise.allSettled([startTesseraOnRedis(url), startTesseraOnRedis(url)]);
  for (const s of started) if (s.status === 'fulfilled') cleanup.push(() => s.value.stop());
  for (const s of started) if (s.status === 'rejected') throw s.reason;
  const [A, B] = started.map((s) => (s as PromiseFulfilledResult<TesseraProcess>).value) as [TesseraProcess, TesseraProcess];
  t.not(A.ports.gateway, B.ports.gateway, 'two gateways on two ports');

  const store = new RedisStore({ url, onError: () => undefined });
  await store.open();
  cleanup.push(() => store.close());

  const buildName = (gw: TesseraProcess, key: string, token?: string) =>
    hit(`${gw.url}${BUILD_NAME}`, token === undefined ? { key } : { key, access_token: token });
  const is = (status: number, body: unknown) => (r: { status: number; text: string }) => {
    try {
      return r.status === status && JSON.stringify(JSON.parse(r.text)) === JSON.stringify(body);
    } catch {
      return false;
    }
  };
  const clientTwo = { result: true, data: { tenantName: 'Client Two', fullName: 'John Smith' } };

  t.test('both gateways serve the demo seeded once into Redis', async (t) => {
    for (const gw of [A, B]) {
      const r = await buildName(gw, DEMO_KEYS.TNT2);
      t.equal(r.status, 200);
      t.same(JSON.parse(r.text), clientTwo);
    }
    t.equal((await store.list('tenant')).length, 5, 'each demo tenant once');
    t.equal((await store.list('signingKey')).length, 1, 'one signing key, shared');
  });

  t.test('(a) a package ACL change written to Redis is enforced by B', async (t) => {
    const original = (await store.get('product', 'PROD1'))!.doc;
    await store.put('product', withoutExample03(original));
    const removed = await pollUntil(() => buildName(B, DEMO_KEYS.TNT2), is(401, DENIED_154), BOUND_MS);
    t.ok(removed.ok, `B answers 154 after the removal (${round2(removed.ms)} ms, ${removed.tries} requests)`, { last: removed.last });
    const atA = await buildName(A, DEMO_KEYS.TNT2);
    t.equal(atA.status, 401, 'A too');
    await store.put('product', original);
    const restored = await pollUntil(() => buildName(B, DEMO_KEYS.TNT2), is(200, clientTwo), BOUND_MS);
    t.ok(restored.ok, `B answers 200 again after the restore (${round2(restored.ms)} ms)`, { last: restored.last });
  });

  t.test('(b) a key revoked in Redis is refused by B (148)', async (t) => {
    const clientThree = { result: true, data: { tenantName: 'Client Three', fullName: 'John Smith' } };
    const warm = await buildName(B, DEMO_KEYS.TNT3);
    t.same(JSON.parse(warm.text), clientThree, 'B has the TNT3 key cached');
    const original = (await store.get('tenant', TNT3_ID))!.doc;
    const revoked: Tenant = structuredClone(original);
    revoked.applications[0]!.keys[0]!.extKeys = [];
    await store.put('tenant', revoked);
    const gone = await pollUntil(() => buildName(B, DEMO_KEYS.TNT3), is(403, KEY_148), BOUND_MS);
    t.ok(gone.ok, `B answers 148 (${round2(gone.ms)} ms)`, { last: gone.last });
    await store.put('tenant', original);
    const back = await pollUntil(() => buildName(B, DEMO_KEYS.TNT3), is(200, clientThree), BOUND_MS);
    t.ok(back.ok, `B accepts the restored key (${round2(back.ms)} ms)`, { last: back.last });
  });

  t.test('(c) a group change made through A\'s URAC admin API is enforced by B', async (t) => {
    // The demo's TNT1 administrator (config/demo/users.yaml).
    const adminLogin = await login(A.url, DEMO_KEYS.TNT1_A, 'tnt1admin', 'tnt1-admin');
    t.equal(adminLogin.status, 200, 'the administrator logs in through A');
    const adminToken = (adminLogin.body as TokenPair).access_token;
    const u1Login = await login(A.url, DEMO_KEYS.TNT1_A, 'user1', '123456');
    t.equal(u1Login.status, 200, 'user1 logs in through A');
    const u1 = (u1Login.body as TokenPair).access_token;

    const before = await buildName(B, DEMO_KEYS.TNT1_A, u1);
    t.equal(before.status, 401);
    t.same(JSON.parse(before.text), DENIED_154, 'gold (PROD1_PCK1) has no example03 at B');

    const setGroups = (groups: string[]) =>
      request(A.url, '/urac/admin/user/groups', {
        method: 'PUT',
        headers: { key: DEMO_KEYS.TNT1_A, access_token: adminToken, 'content-type': 'application/json' },
        body: JSON.stringify({ id: USER1_ID, groups }),
      });
    const put = await setGroups(['silver']);
    t.equal(put.status, 200, 'A accepts the change');
    t.match(put.body, { result: true, data: { username: 'user1', groups: ['silver'] } });
    const clientOne = { result: true, data: { tenantName: 'Client One', fullName: 'John Smith' } };
    const granted = await pollUntil(() => buildName(B, DEMO_KEYS.TNT1_A, u1), is(200, clientOne), BOUND_MS);
    t.ok(granted.ok, `silver (PROD1_PCK2) grants example03 at B (${round2(granted.ms)} ms)`, { last: granted.last });

    const back = await setGroups(['gold']);
    t.equal(back.status, 200);
    const denied = await pollUntil(() => buildName(B, DEMO_KEYS.TNT1_A, u1), is(401, DENIED_154), BOUND_MS);
    t.ok(denied.ok, `back in gold, B denies again (${round2(denied.ms)} ms)`, { last: denied.last });
  });

  t.test('(d) a token revoked through A is refused by B', async (t) => {
    const r = await login(A.url, DEMO_KEYS.TNT1_A, 'user3', '654321');
    t.equal(r.status, 200);
    const token = (r.body as TokenPair).access_token;
    const userThree = { result: true, data: { tenantName: 'Tenant name specific to user three', fullName: 'John Smith' } };
    const before = await buildName(B, DEMO_KEYS.TNT1_A, token);
    t.same(JSON.parse(before.text), userThree, 'the token from A works at B');
    const out = await request(A.url, `/oauth/accessToken/${token}`, { method: 'DELETE', headers: { key: DEMO_KEYS.TNT1_A } });
    t.same(out.body, { result: true, data: 1 }, 'A revokes it');
    const refused = await pollUntil(() => buildName(B, DEMO_KEYS.TNT1_A, token), is(401, TOKEN_401), BOUND_MS);
    t.ok(refused.ok, `B refuses it (${round2(refused.ms)} ms)`, { last: refused.last });
    const atA = await buildName(A, DEMO_KEYS.TNT1_A, token);
    t.equal(atA.status, 401, 'A refuses it too');
  });

  t.test(`propagation delay over ${FLIPS} ACL flips (write to Redis → verdict at B)`, async (t) => {
    const original = (await store.get('product', 'PROD1'))!.doc;
    const removed = withoutExample03(original);
    const delays: number[] = [];
    let requests = 0;
    let restored = true;
    t.teardown(async () => {
      if (!restored) await store.put('product', original).catch(() => undefined);
    });
    for (let i = 0; i < FLIPS; i++) {
      const removing = i % 2 === 0;
      await store.put('product', removing ? removed : original);
      restored = !removing;
      const t0 = performance.now();
      const want = removing ? 401 : 200;
      const was = removing ? 200 : 401;
      let flipped = false;
      let unexpected: { status: number; text: string } | null = null;
      for (let tries = 0; tries < 1_000_000; tries++) {
        const r = await buildName(B, DEMO_KEYS.TNT2);
        requests++;
        if (r.status === want && (want === 200 || errorCode(r.text) === 154)) {
          delays.push(performance.now() - t0);
          flipped = true;
          break;
        }
        if (r.status !== was) {
          unexpected = r;
          break;
        }
        if (performance.now() - t0 > BOUND_MS) break;
      }
      if (!flipped) {
        t.fail(`flip ${i} (${removing ? 'remove' : 'restore'}) not seen at B`, { unexpected, boundMs: BOUND_MS });
        return;
      }
    }
    const sorted = [...delays].sort((a, b) => a - b);
    const stats = {
      median: round2(percentile(sorted, 50)),
      p99: round2(percentile(sorted, 99)),
      max: round2(sorted[sorted.length - 1]!),
      mean: round2(sorted.reduce((a, b) => a + b, 0) / sorted.length),
      n: sorted.length,
      requests,
    };
    t.comment(`propagation to B: median ${stats.median} ms, p99 ${stats.p99} ms, max ${stats.max} ms, n ${stats.n} (${requests} requests)`);
    process.stdout.write(`PROPAGATION ${JSON.stringify(stats)}\n`);
    t.equal(stats.n, FLIPS, 'every flip seen');
    t.ok(stats.p99 < 250, `p99 ${stats.p99} ms < 250 ms (target 50 ms)`);
  });

  t.test('both processes are alive, no unhandled rejection', async (t) => {
    for (const [name, gw] of [
      ['A', A],
      ['B', B],
    ] as const) {
      t.ok(gw.alive(), `${name} is running`);
      t.same(unhandledRejections(gw.output), [], `${name} logged no unhandled rejection`);
    }
  });
});
