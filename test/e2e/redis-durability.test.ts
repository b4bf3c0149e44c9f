import { randomBytes } from 'node:crypto';
import t from 'tap';
import { RedisStore } from '../../registry/control/store/redis.js';
import type { Service } from '../../registry/view/types.js';
import { DEMO_KEYS, login, request } from '../helpers/demo.js';
import { runCli as cli, type TesseraProcess } from '../helpers/process.js';
import { startRedis } from '../helpers/redis.js';
import { errorCode, hit, pollUntil, round2, startTesseraOnRedis, unhandledRejections } from './redis-e2e.js';

/**
 * Registry durability on Redis (issue 16 §6). A probe found that Redis started as the README said
 * (`redis-server --port N`, no AOF), killed with -9 and restarted, comes back empty, and both
 * gateways then answered every request 403/148. Now a gateway refuses a store that lost the
 * registry it serves: it keeps answering from what it holds, says it is not ready, logs one line,
 * and takes the store as it is only when an operator runs `tessera store accept-reset`. With
 * `--appendonly yes --appendfsync always` nothing acknowledged is lost in the first place.
 */

const BUILD_NAME = '/example03/buildName?lastName=Smith';
const CLIENT_TWO = JSON.stringify({ result: true, data: { tenantName: 'Client Two', fullName: 'John Smith' } });
const REQUESTS_HELD = 200;

/** The demo key's request (tenant TNT2 → example03). */
const buildName = (gw: TesseraProcess) => hit(`${gw.url}${BUILD_NAME}`, { key: DEMO_KEYS.TNT2 });


/** The JSON log lines of a process's output (stdout and stderr; its workers write to the same pipes). */
function logLines(gw: TesseraProcess): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of gw.output.join('').split('\n')) {
    try {
      const obj = JSON.parse(line) as unknown;
      if (obj !== null && typeof obj === 'object') out.push(obj as Record<string, unknown>);
    } catch {
      // not a log line
    }
  }
  return out;
}

const resetErrors = (gw: TesseraProcess) => logLines(gw).filter((l) => l['event'] === 'store-reset' && l['level'] === 'error');

async function readyz(gw: TesseraProcess): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${gw.ports.maintenance}/readyz`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

async function until(cond: () => Promise<boolean>, what: string, ms: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await cond()) return performance.now() - t0;
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

t.test('Redis without AOF, kill -9, back empty: the gateways hold the registry until `tessera store accept-reset`', async (t) => {
  const redis = await startRedis(); // --appendonly no, --save '': what `redis-server --port N` keeps of a SIGKILL
  const cleanup: (() => Promise<unknown>)[] = [() => redis.stop()];
  t.teardown(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  });
  const url = `${redis.url}?prefix=${encodeURIComponent(`e2e-durability-${process.pid}-${randomBytes(4).toString('hex')}:`)}`;
  const env = { TESSERA_STORE: url };
  // Two gateways, each a process of its own (`start --workers 1`: gateway and bundled services);
  // the seed goes in once, whoever opens the store first.
  const gws = await Promise.all([startTesseraOnRedis(url), startTesseraOnRedis(url)]);
  for (const gw of gws) cleanup.push(() => gw.stop());
  for (const [i, gw] of gws.entries()) {
    const r = await buildName(gw);
    t.equal(r.text, CLIENT_TWO, `gateway ${i + 1} answers the demo key (warmed)`);
    t.equal((await readyz(gw)).status, 200, `gateway ${i + 1} ready`);
  }

  // The crash: SIGKILL, then the same port again, empty.
  await redis.restart();
  const answers: { status: number; text: string }[] = [];
  let holding = true;
  // Traffic from the restart on, round robin over both gateways, until REQUESTS_HELD more have been
  // answered once both report the hold.
  const traffic = (async () => {
    for (let i = 0; holding; i++) answers.push(await buildName(gws[i % 2]!));
  })();
  let detectMs = NaN;
  let atHold = 0;
  try {
    detectMs = await until(async () => (await Promise.all(gws.map(readyz))).every((r) => r.status === 503), 'both gateways not ready', 10_000).catch(
      async (err: unknown) => {
        const states = await Promise.all(gws.map(readyz));
        throw new Error(`${(err as Error).message}: ${JSON.stringify(states)}\n${gws.map((g) => g.output.join('').slice(-3000)).join('\n----\n')}`);
      },
    );
    atHold = answers.length;
    await until(async () => answers.length >= atHold + REQUESTS_HELD, `${REQUESTS_HELD} requests while held`, 10_000);
    // Past a poll interval or two (1 s): the store is judged again and again, the log must not repeat.
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    holding = false;
    await traffic.catch(() => undefined);
  }

  t.test('the demo key is answered as before, never 148', async (t) => {
    const unknownKey = answers.filter((r) => errorCode(r.text) === 148).length;
    const served = answers.filter((r) => r.status === 200 && r.text === CLIENT_TWO).length;
    t.comment(`${answers.length} requests after the restart (${atHold} before both held, found in ${round2(detectMs)} ms; ${answers.length - atHold} while held): ${served} answered as before, ${unknownKey} × 148`);
    t.ok(answers.length - atHold >= REQUESTS_HELD, `at least ${REQUESTS_HELD} requests while held`);
    t.equal(unknownKey, 0, '0 × 148 (unknown key)');
    t.equal(served, answers.length, 'every one answered as before the crash');
  });

  t.test('each gateway is not ready, with the reason, and alive', async (t) => {
    for (const [i, gw] of gws.entries()) {
      const r = await readyz(gw);
      t.equal(r.status, 503, `gateway ${i + 1}: /readyz 503`);
      t.equal(r.body['reason'], 'store-reset', 'reason: store-reset');
      t.match(String(r.body['message']), /lost its data.*tessera store accept-reset/, 'the message says what happened and what ends it');
      t.equal((await hit(`http://127.0.0.1:${gw.ports.maintenance}/heartbeat`)).status, 200, '/heartbeat stays 200');
    }
  });

  t.test('exactly one error line per gateway process for the event', async (t) => {
    for (const [i, gw] of gws.entries()) {
      const lines = resetErrors(gw);
      t.equal(lines.length, 1, `gateway ${i + 1}: one store-reset error line`);
      const line = lines[0] ?? {};
      t.match(String(line['msg']), /^registry store reset: the store lost its data/);
      t.match(String(line['msg']), /tessera store accept-reset/);
      t.match(String(line['msg']), /--appendonly yes/);
      t.same([line['empty'], line['foundVersion'], line['why']], [true, 0, 'lost-identity'], 'an empty store, version 0');
      t.ok(Number(line['servedVersion']) > 0, `served registry version ${String(line['servedVersion'])}`);
    }
  });

  t.test('`tessera store accept-reset`: the gateways take the store as it is and turn ready', async (t) => {
    const accepted = await cli(env, 'store', 'accept-reset');
    t.equal(accepted.code, 0, accepted.stderr);
    t.match(accepted.stdout, /^accepted redis:\/\/127\.0\.0\.1:\d+\/0\?prefix=.* as the registry \(identity [0-9a-f]{16}, registry version 1\)/);
    t.match(accepted.stdout, /the store is empty: every key is unknown/, 'it says the store is empty');
    for (const [i, gw] of gws.entries()) {
      const ms = await until(async () => (await readyz(gw)).status === 200, `gateway ${i + 1} ready`, 5000);
      t.pass(`gateway ${i + 1} ready ${round2(ms)} ms after the command`);
      // The store really is empty now, and the gateway answers as it says: no service example03
      // (130, which the url stage finds before the key stage could find no tenant for the key).
      const r = await pollUntil(() => buildName(gw), (x) => x.status === 404 && errorCode(x.text) === 130, 3000);
      t.ok(r.ok, `gateway ${i + 1}: example03 is now unknown (130): the store holds no service`, { last: r.last });
      t.ok(logLines(gw).some((l) => l['event'] === 'store-reset-ended' && l['how'] === 'accepted'), 'logged the acceptance');
      t.equal(resetErrors(gw).length, 1, 'still one error line');
    }

    // Reseeded, it serves again without a restart: the services' processes registered their hosts
    // again on the acceptance (the store had lost them too).
    const seeded = await cli(env, 'seed');
    t.equal(seeded.code, 0, seeded.stderr);
    for (const [i, gw] of gws.entries()) {
      const r = await pollUntil(() => buildName(gw), (x) => x.text === CLIENT_TWO, 5000);
      t.ok(r.ok, `gateway ${i + 1}: the demo key answers again after \`tessera seed\` (${round2(r.ms)} ms)`, { last: r.last });
      // oauth's signing key went with the data and was written back on the acceptance: a token
      // signed by the running oauth verifies on the gateway.
      const tokens = await login(gw.url, DEMO_KEYS.TNT1_A, 'user1', '123456');
      t.equal(tokens.status, 200, 'a login works');
      const token = (tokens.body as { access_token?: string }).access_token ?? '';
      const user = await request(gw.url, `/urac/account/getUser?username=user1&access_token=${token}`, { headers: { key: DEMO_KEYS.TNT1_A } });
      t.equal(user.status, 200, 'and its token is accepted (the signing key is in the registry again)');
      t.ok(gw.alive(), 'alive');
      t.same(unhandledRejections(gw.output), [], 'no unhandled rejection');
    }
  });
});

t.test('Redis with --appendonly yes --appendfsync always: every acknowledged write survives kill -9', async (t) => {
  const redis = await startRedis({ persist: true });
  const cleanup: (() => Promise<unknown>)[] = [() => redis.stop()];
  t.teardown(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  });
  const url = `${redis.url}?prefix=${encodeURIComponent(`e2e-aof-${process.pid}-${randomBytes(4).toString('hex')}:`)}`;
  const gw = await startTesseraOnRedis(url);
  cleanup.push(() => gw.stop());
  t.equal((await buildName(gw)).text, CLIENT_TWO, 'the demo key answers');

  const writer = new RedisStore({ url, onError: () => undefined });
  await writer.open();
  const N = 100;
  const acked: { name: string; version: number }[] = [];
  for (let i = 0; i < N; i++) {
    const doc: Service = { name: `durable${i}`, port: 4300 + i, versions: { '1': { extKeyRequired: false } } };
    acked.push({ name: doc.name, version: await writer.put('service', doc) });
  }
  const lastAcked = await writer.registryVersion();
  await writer.close();

  await redis.restart(); // SIGKILL straight after the last acknowledgement, then the same port and directory
  const reader = new RedisStore({ url, onError: () => undefined });
  cleanup.push(() => reader.close());
  await reader.open();
  const found = new Map((await reader.list('service')).map((v) => [v.doc.name, v.version]));
  const missing = acked.filter((a) => found.get(a.name) !== a.version);
  t.comment(`${N} acknowledged writes, registry version ${lastAcked} before the kill, ${await reader.registryVersion()} after`);
  t.same(missing, [], `all ${N} acknowledged writes present, each at its acknowledged version`);
  t.ok((await reader.registryVersion()) >= lastAcked, 'the registry version did not go back');

  // Not a reset: the gateway stays ready, logs no store-reset line, and reads the store as before.
  const ms = await until(async () => (await hit(`${gw.url}${BUILD_NAME}`, { key: DEMO_KEYS.TNT3 })).status === 200, 'a key never used before', 8000);
  t.pass(`a never-used key works ${round2(ms)} ms after the restart`);
  t.equal((await readyz(gw)).status, 200, 'ready');
  t.same(resetErrors(gw), [], 'no store-reset line');
  t.equal((await buildName(gw)).text, CLIENT_TWO, 'the demo key answers as before');
});
