// Scale check for the Redis store (issue 4): 100k tenants and 1M ext keys in Redis, one gateway
// with a bounded key cache. Reports gateway RSS, cold-key and warm-key latency (p50/p99) and the
// number of Redis calls a cold key costs. Loopback only; bounded in count and time.
//
//   node bench/scale.mjs [--tenants 100000] [--keys-per-tenant 10] [--cold 20000] [--cache 10000]
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const TENANTS = arg('tenants', 100_000);
const PER = arg('keys-per-tenant', 10);
const COLD = arg('cold', 20_000);
const CACHE = arg('cache', 10_000);
const WARM = 20_000;
// Optional V8 old-space cap (MiB) for the gateway: a leak then crashes it instead of hiding in RSS.
const HEAP_CAP = arg('heap-cap', 0);
const CONCURRENCY = 8;

const sha = (s) => createHash('sha256').update(s).digest('hex');
const plainKey = (t, k) => sha(`scale-ext-key:${t}:${k}`) + sha(`more:${t}:${k}`);
const tenantId = (t) => t.toString(16).padStart(24, '0');

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const children = [];
function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function rssOf(pid) {
  return import('node:fs').then(({ readFileSync }) => {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  });
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-scale-'));
  const redisPort = await freePort();
  const redisProc = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  children.push(redisProc);
  const redis = new Redis({ port: redisPort, host: '127.0.0.1', retryStrategy: () => 50 });
  redis.on('error', () => undefined);
  await waitFor(() => redis.ping().then(() => true), 10_000, 'redis');
  const url = `redis://127.0.0.1:${redisPort}/0`;
  const env = { ...process.env, TESSERA_STORE: url, TESSERA_SEED: join(ROOT, 'config/demo') };

  // Products, services, demo tenants through the real seed path.
  await new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['dist/bin/tessera.js', 'seed'], { cwd: ROOT, env, stdio: 'inherit' });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`seed exited ${code}`))));
  });

  // Bulk tenants: the same layout RedisStore writes (doc, version, ext-key index), pipelined.
  const t0 = Date.now();
  const batch = 1000;
  for (let start = 0; start < TENANTS; start += batch) {
    const pipe = redis.pipeline();
    for (let t = start; t < Math.min(TENANTS, start + batch); t++) {
      const id = tenantId(t + 1);
      const extKeys = [];
      for (let k = 0; k < PER; k++) {
        const plain = plainKey(t, k);
        const keyHash = sha(plain);
        extKeys.push({ keyHash, hint: plain.slice(-6), env: 'dev', expDate: null });
        pipe.hset('tessera:idx:extkey', keyHash, id);
      }
      const doc = {
        id,
        code: `S${t}`,
        name: `Scale tenant ${t}`,
        type: 'client',
        applications: [
          {
            appId: id,
            product: 'PROD1',
            package: 'PROD1_PCK2',
            keys: [{ key: sha(`ik${t}`).slice(0, 32), config: { dev: { example03: { tenantName: `Scale tenant ${t}` } } }, extKeys }],
          },
        ],
      };
      pipe.hset('tessera:doc:tenant', id, JSON.stringify(doc));
      pipe.hset('tessera:ver:tenant', id, '1');
    }
    await pipe.exec();
  }
  await redis.incr('tessera:version');
  const loadMs = Date.now() - t0;
  const info = await redis.info('memory');
  const redisMem = /used_memory_human:(\S+)/.exec(info)?.[1];
  const nKeys = await redis.hlen('tessera:idx:extkey');
  console.log(`loaded ${TENANTS} tenants, ${nKeys} ext keys in ${loadMs} ms; redis used_memory ${redisMem}`);

  const gw = spawn(process.execPath, ['dist/bin/tessera.js', 'start', '--workers', '1'], {
    cwd: ROOT,
    env: {
      ...env,
      TESSERA_HOST: '127.0.0.1',
      TESSERA_PORT: '0',
      TESSERA_MAINTENANCE_PORT: '0',
      TESSERA_EXAMPLE03_PORT: '0',
      TESSERA_OAUTH_PORT: '0',
      TESSERA_URAC_PORT: '0',
      TESSERA_REGISTRY_PORT: '0',
      TESSERA_CACHE_KEYS: String(CACHE),
      ...(HEAP_CAP ? { NODE_OPTIONS: `--max-old-space-size=${HEAP_CAP}` } : {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(gw);
  const ready = await new Promise((resolve, reject) => {
    let buf = '';
    gw.stdout.on('data', (c) => {
      buf += c;
      for (const line of buf.split('\n')) {
        try {
          const o = JSON.parse(line);
          if (o.msg === 'ready') resolve(o);
        } catch {}
      }
    });
    gw.on('exit', (c) => reject(new Error(`gateway exited ${c}`)));
    setTimeout(() => reject(new Error('gateway not ready')), 30_000).unref();
  });
  const base = `http://127.0.0.1:${ready.gateway}`;
  const rssStart = await rssOf(gw.pid);

  const call = async (key) => {
    const s = process.hrtime.bigint();
    const r = await fetch(`${base}/example03/buildName?lastName=S`, { headers: { key } });
    await r.arrayBuffer();
    const us = Number(process.hrtime.bigint() - s) / 1000;
    if (r.status !== 200) throw new Error(`status ${r.status}`);
    return us;
  };
  const run = async (keys) => {
    const lat = [];
    let i = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (i < keys.length) {
          const k = keys[i++];
          lat.push(await call(k));
        }
      }),
    );
    return lat.sort((a, b) => a - b);
  };

  const statsBefore = await redis.info('commandstats');
  const evals = (s) => Number(/cmdstat_evalsha:calls=(\d+)/.exec(s)?.[1] ?? 0) + Number(/cmdstat_eval:calls=(\d+)/.exec(s)?.[1] ?? 0);
  // Distinct keys spread over all tenants: every one is cold.
  const coldKeys = Array.from({ length: COLD }, (_, n) => plainKey((n * 7919) % TENANTS, n % PER));
  const cold = [];
  const rssCheckpoints = [];
  const step = Math.max(1, Math.floor(COLD / 4));
  for (let from = 0; from < COLD; from += step) {
    cold.push(...(await run(coldKeys.slice(from, from + step))));
    rssCheckpoints.push(`${Math.min(COLD, from + step)}: ${((await rssOf(gw.pid)) / 1048576).toFixed(0)} MiB`);
  }
  cold.sort((a, b) => a - b);
  const statsAfterCold = await redis.info('commandstats');
  const rssAfterCold = await rssOf(gw.pid);
  // Warm: keys that are in the cache now (the last CACHE/2 cold ones), many times over.
  const hot = coldKeys.slice(-Math.floor(CACHE / 2));
  const warmKeys = Array.from({ length: WARM }, (_, n) => hot[n % hot.length]);
  const warm = await run(warmKeys);
  const statsAfterWarm = await redis.info('commandstats');
  const rssEnd = await rssOf(gw.pid);

  const coldCalls = evals(statsAfterCold) - evals(statsBefore);
  const warmCalls = evals(statsAfterWarm) - evals(statsAfterCold);
  const mb = (b) => `${(b / 1048576).toFixed(0)} MiB`;
  const result = {
    tenants: TENANTS,
    extKeys: nKeys,
    keyCache: CACHE,
    redisUsedMemory: redisMem,
    gatewayRss: { start: mb(rssStart), afterColdKeys: mb(rssAfterCold), end: mb(rssEnd), byColdKeys: rssCheckpoints },
    heapCapMiB: HEAP_CAP || null,
    coldKeyUs: { n: cold.length, p50: Math.round(percentile(cold, 50)), p99: Math.round(percentile(cold, 99)) },
    warmKeyUs: { n: warm.length, p50: Math.round(percentile(warm, 50)), p99: Math.round(percentile(warm, 99)) },
    redisScriptCallsPerColdKey: +(coldCalls / cold.length).toFixed(3),
    redisScriptCallsPerWarmRequest: +(warmCalls / warm.length).toFixed(3),
  };
  console.log(`SCALE ${JSON.stringify(result)}`);
  gw.kill('SIGTERM');
  await new Promise((r) => gw.once('exit', r));
  await redis.quit();
  redisProc.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
