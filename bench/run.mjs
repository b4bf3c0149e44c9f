#!/usr/bin/env node
// Side-by-side load benchmark: the upstream alone, a bare undici proxy, Tessera (key only; full
// pipeline; --workers 2), fast-gateway, @fastify/http-proxy and nginx, each in its own process,
// loaded in turn by autocannon over several interleaved rounds. See RESULTS.md for how to run it
// and what it measures.
//
//   npm run bench                 10 rounds × (1 s warm-up + 3 s) per contender   (≈ 6 min)
//   npm run bench -- --quick      1 round  × (1 s warm-up + 3 s)  per contender   (< 1 min)
//   options: --rounds N --duration S --warmup S --connections N --only id,id --no-write
//            --tool auto|wrk|autocannon   (auto: wrk for every row when installed, else autocannon)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeSection } from './lib/results.mjs';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(BENCH_DIR, '..');
const DIST = resolve(process.env.TESSERA_DIST ?? join(REPO, 'dist'));
const SEED_DIR = join(BENCH_DIR, 'seed');
const RESULTS_FILE = join(BENCH_DIR, 'RESULTS.md');
const HARNESS_PID = process.pid;

// ---------------------------------------------------------------------------------------------
// options

function parseArgs(argv) {
  const o = { quick: false, rounds: null, duration: null, warmup: null, connections: 50, pipelining: 1, only: null, write: true, tool: 'auto' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--rounds') o.rounds = Math.floor(num());
    else if (a === '--duration') o.duration = num();
    else if (a === '--warmup') o.warmup = Number(argv[++i]);
    else if (a === '--connections') o.connections = Math.floor(num());
    else if (a === '--only') o.only = String(argv[++i] ?? '').split(',').filter(Boolean);
    else if (a === '--no-write') o.write = false;
    else if (a === '--tool') {
      o.tool = String(argv[++i] ?? '');
      if (!['auto', 'wrk', 'autocannon'].includes(o.tool)) throw new Error('--tool is auto, wrk or autocannon');
    }
    else if (a === '--help' || a === '-h') {
      process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 9).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  o.mode = o.quick ? 'quick' : 'full';
  // More, shorter rounds: a median of paired ratios needs several pairs more than long ones.
  o.rounds ??= o.quick ? 1 : 10;
  o.duration ??= 3;
  o.warmup ??= 1;
  // Bounded: no run may exceed these, whatever was asked.
  if (o.duration > 60) throw new Error('--duration is at most 60 s');
  if (o.rounds > 10) throw new Error('--rounds is at most 10');
  if (o.connections > 1000) throw new Error('--connections is at most 1000');
  return o;
}

// ---------------------------------------------------------------------------------------------
// small helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stdout.write(`${msg}\n`);
const loud = (msg) => process.stderr.write(`\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n!!! ${msg}\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n`);

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return r.status === 0 ? r.stdout.trim() : null;
}

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

function portInUse(port) {
  return new Promise((resolveUse) => {
    const s = createServer();
    s.once('error', () => resolveUse(true));
    s.listen(port, '127.0.0.1', () => s.close(() => resolveUse(false)));
  });
}

// ---------------------------------------------------------------------------------------------
// processes: every child is tracked and killed at the end, on error and on SIGINT/SIGTERM

const children = new Map(); // pid -> { name, proc }
let canPin = false;
/** 'wrk' or 'autocannon', chosen once in main(). */
let loadTool = 'autocannon';

/** `taskset -c <cpu> cmd args` when pinning is possible. */
function pinned(cpu, cmd, args) {
  return canPin ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args];
}

/**
 * Spawns a child (pinned to `cpu`), keeps reading its output (a full pipe would block it), and
 * resolves once `ready(line)` returns a value for one of its stdout lines (or once `probe()`
 * resolves, for programs without a ready line). Rejects when it exits first or times out.
 */
function startProcess({ name, cmd, args, env, cwd = BENCH_DIR, cpu = 0, ready, probe, timeoutMs = 20_000 }) {
  const [c, a] = pinned(cpu, cmd, args);
  const proc = spawn(c, a, { cwd, env: env ?? { PATH: process.env.PATH ?? '' }, stdio: ['pipe', 'pipe', 'pipe'] });
  const entry = { name, proc, output: [], errorLines: 0, exited: false };
  children.set(proc.pid, entry);
  const keep = (chunk) => {
    entry.output.push(chunk.toString());
    if (entry.output.length > 200) entry.output.splice(0, entry.output.length - 200);
  };
  proc.on('exit', () => {
    entry.exited = true;
  });
  return new Promise((resolveStart, reject) => {
    let settled = false;
    const done = (err, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolveStart({ ...entry, entry, ready: value });
    };
    const timer = setTimeout(() => done(new Error(`${name} not ready within ${timeoutMs} ms:\n${entry.output.join('').slice(-2000)}`)), timeoutMs);
    let buffered = '';
    proc.stdout.on('data', (chunk) => {
      keep(chunk);
      if (settled || !ready) return;
      buffered += chunk.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const v = ready(line);
        if (v !== undefined && v !== null) return done(null, v);
      }
    });
    proc.stderr.on('data', (chunk) => {
      keep(chunk);
      if (/"level":"error"/.test(chunk.toString())) entry.errorLines++;
    });
    proc.once('error', (err) => done(err));
    proc.once('exit', (code, signal) => done(Object.assign(new Error(`${name} exited (${signal ?? code}) before it was ready:\n${entry.output.join('').slice(-2000)}`), { exitCode: code, output: entry.output.join('') })));
    if (probe) {
      (async () => {
        while (!settled) {
          try {
            const v = await probe();
            if (v !== undefined && v !== null) return done(null, v);
          } catch {
            // not yet
          }
          await sleep(100);
        }
      })();
    }
  });
}

const jsonReady = (line) => {
  try {
    const o = JSON.parse(line);
    return o && o.msg === 'ready' ? o : null;
  } catch {
    return null;
  }
};

async function stopProcess(entry, graceMs = 5_000) {
  const { proc } = entry;
  if (entry.exited || proc.exitCode !== null || proc.signalCode !== null) {
    children.delete(proc.pid);
    return;
  }
  const exited = new Promise((r) => proc.once('exit', r));
  try {
    proc.stdin.end();
  } catch {
    // closed already
  }
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
  children.delete(proc.pid);
}

async function stopAll() {
  await Promise.all([...children.values()].map((e) => stopProcess(e)));
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every process below `root` (from /proc). */
function descendants(root) {
  const byParent = new Map();
  try {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (!byParent.has(ppid)) byParent.set(ppid, []);
        byParent.get(ppid).push(Number(d));
      } catch {
        // gone
      }
    }
  } catch {
    return [];
  }
  const out = [];
  const walk = (pid) => {
    for (const c of byParent.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

// CPU accounting: how much of the machine something else used while a contender was measured
// (other users' builds and tests on a shared box make a run worthless; this says so).
const CLK_TCK = Number(sh('getconf', ['CLK_TCK']) ?? 100);

function machineTicks() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
    return { work: user + nice + system, all: f.slice(0, 8).reduce((a, b) => a + b, 0), steal, irq: irq + softirq, idle: idle + iowait };
  } catch {
    return null;
  }
}

function treeTicks(pids) {
  let t = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      t += Number(f[11]) + Number(f[12]); // utime, stime
    } catch {
      // gone
    }
  }
  return t;
}

/** Pids whose parent is this harness (from /proc): there must be none once everything is stopped. */
function ourChildren() {
  const out = [];
  try {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === HARNESS_PID) out.push(Number(d));
      } catch {
        // gone
      }
    }
  } catch {
    // no /proc
  }
  return out;
}

const spawnedPids = [];
let cleaning = null;
async function cleanup() {
  cleaning ??= (async () => {
    await stopAll();
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  })();
  return cleaning;
}
const tempDirs = [];
process.on('exit', () => {
  // Last resort (an exception after cleanup could not run): nothing outlives the harness.
  for (const { proc } of children.values()) {
    try {
      proc.kill('SIGKILL');
    } catch {
      // gone
    }
  }
});
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    loud(`${sig}: stopping every child process`);
    cleanup().finally(() => {
      const left = descendants(HARNESS_PID);
      log(left.length ? `STRAY PROCESSES after ${sig}: ${left.join(', ')}` : `${sig}: every child process has exited`);
      process.exit(130);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// the bench registry (bench/seed)

function readBenchSeed() {
  const services = readFileSync(join(SEED_DIR, 'services.yaml'), 'utf8');
  const m = /hosts:\s*\n\s*"1":\s*\["127\.0\.0\.1:(\d+)"\]/.exec(services);
  if (!m) throw new Error('bench/seed/services.yaml: no `hosts: {"1": ["127.0.0.1:<port>"]}` for the bench service');
  const tenants = readFileSync(join(SEED_DIR, 'tenants.yaml'), 'utf8');
  const extKey = (label) => {
    const k = new RegExp(`extKey:\\s*([0-9a-f]{32,1024})\\s*\\n(?:\\s+\\w+:.*\\n)*?\\s+label:\\s*${label}\\b`).exec(tenants);
    if (!k) throw new Error(`bench/seed/tenants.yaml: no ext key labelled ${label}`);
    return k[1];
  };
  return {
    upstreamPort: Number(m[1]),
    publicKey: extKey('bench-public'),
    loginKey: extKey('bench-login'),
    username: 'bench-user',
    password: 'bench-password',
  };
}

// ---------------------------------------------------------------------------------------------
// contenders

const UPSTREAM_BODY = JSON.stringify({ result: true, data: { hello: 'world', n: 42 } });

async function get(url, headers = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

async function checkHello(base, path, headers) {
  const r = await get(`${base}${path}`, headers);
  if (r.status !== 200 || r.text !== UPSTREAM_BODY) throw new Error(`sanity GET ${path} → ${r.status} ${r.text.slice(0, 300)}`);
}

/** Every `TESSERA_*_PORT` this build knows (config/schema.js ENV_VARS), so new services get 0 too. */
let portVars = ['TESSERA_PORT', 'TESSERA_MAINTENANCE_PORT', 'TESSERA_OAUTH_PORT', 'TESSERA_URAC_PORT', 'TESSERA_EXAMPLE03_PORT'];
async function loadPortVars() {
  try {
    const { ENV_VARS } = await import(pathToFileURL(join(DIST, 'config', 'schema.js')).href);
    portVars = [...new Set([...portVars, ...Object.keys(ENV_VARS).filter((v) => /^TESSERA_.*PORT$/.test(v))])];
  } catch {
    // keep the known ones
  }
}

function tesseraEnv(store) {
  return {
    PATH: process.env.PATH ?? '',
    // Every port on 0 (the kernel picks): two Tessera processes side by side must not collide.
    ...Object.fromEntries(portVars.map((v) => [v, '0'])),
    TESSERA_HOST: '127.0.0.1',
    TESSERA_SEED: SEED_DIR,
    TESSERA_DEMO: 'false',
    TESSERA_STORE: store,
  };
}

/** A fresh file store in a temp dir. */
function freshFileStore() {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  tempDirs.push(dir);
  return `file:${dir}`;
}

async function startTessera(name, extraArgs, store = freshFileStore()) {
  const p = await startProcess({
    name,
    cmd: process.execPath,
    args: [join(DIST, 'bin', 'tessera.js'), 'start', ...extraArgs],
    cwd: REPO,
    env: tesseraEnv(store),
    cpu: 0,
    ready: jsonReady,
    timeoutMs: 30_000,
  });
  return { ...p, base: `http://127.0.0.1:${p.ready.gateway}` };
}

/** A private, empty, memory-only redis-server on a free port (pinned beside the load, CPU 1). */
async function startRedis(bin) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-redis-'));
  tempDirs.push(dir);
  const port = await freePort();
  await startProcess({
    name: 'redis',
    cmd: bin,
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'],
    cpu: 1,
    ready: (line) => (/Ready to accept connections/.test(line) ? true : null),
  });
  return `redis://127.0.0.1:${port}/0`;
}

/** POST /oauth/token through the gateway, as a client would (form body, `key` header). */
async function login(base, seed) {
  const res = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { key: seed.loginKey, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: seed.username, password: seed.password, grant_type: 'password' }).toString(),
  });
  const body = await res.json().catch(() => null);
  if (res.status !== 200 || typeof body?.access_token !== 'string') throw new Error(`login failed: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** The soajsinjectobj the upstream received for GET /bench/echo. */
async function injected(base, headers) {
  const r = await get(`${base}/bench/echo`, headers);
  if (r.status !== 200) throw new Error(`sanity GET /bench/echo → ${r.status} ${r.text.slice(0, 300)}`);
  const raw = JSON.parse(r.text).data.headers.soajsinjectobj;
  if (typeof raw !== 'string') throw new Error('no soajsinjectobj reached the upstream');
  return { raw, obj: JSON.parse(raw) };
}

async function setupTesseraFull(name, extraArgs, seed, ctx, store) {
  const t = await startTessera(name, extraArgs, store);
  const token = await login(t.base, seed);
  const headers = { key: seed.loginKey, authorization: `Bearer ${token}` };
  const inj = await injected(t.base, headers);
  const urac = inj.obj.urac;
  const problems = [];
  if (urac?.username !== seed.username) problems.push('no urac user');
  if (urac?.config?.bench?.tier !== 'user') problems.push('no urac.config (urac_Config)');
  if (inj.obj.key?.config?.bench?.tier !== 'user' || inj.obj.key?.config?.bench?.limits?.rps !== 50) problems.push('user config not merged over key config');
  if (inj.obj.key?.config?.region !== 'loopback') problems.push('commonFields missing');
  if (problems.length) throw new Error(`full pipeline sanity: ${problems.join('; ')}: ${inj.raw}`);
  // The user's ACL is restricted to its listed APIs: an unlisted one must be refused (159).
  const denied = await get(`${t.base}/bench/not-listed`, headers);
  if (denied.status !== 401 || !denied.text.includes('159')) throw new Error(`user ACL not applied: /bench/not-listed → ${denied.status} ${denied.text}`);
  await checkHello(t.base, '/bench/hello', headers);
  ctx.notes.push(`${name}: logged in as ${seed.username} through POST /oauth/token; soajsinjectobj ${inj.raw.length} bytes with urac + merged user config; user ACL refuses an unlisted API (159).`);
  return { ...t, url: `${t.base}/bench/hello`, headers };
}

function contenders(seed, ctx) {
  const upstream = `http://127.0.0.1:${seed.upstreamPort}`;
  const nodeProxy = (name, script) => async () => {
    const p = await startProcess({ name, cmd: process.execPath, args: [join(BENCH_DIR, script), upstream], cpu: 0, ready: jsonReady });
    const base = `http://127.0.0.1:${p.ready.port}`;
    await checkHello(base, '/bench/hello', {});
    return { ...p, url: `${base}/bench/hello`, headers: {} };
  };
  return [
    {
      id: 'direct',
      label: 'direct upstream (no proxy)',
      sameRequest: true,
      async setup() {
        await checkHello(upstream, '/hello', {});
        return { url: `${upstream}/hello`, headers: {}, entry: null };
      },
    },
    { id: 'undici', label: 'bare undici proxy (baseline)', sameRequest: true, setup: nodeProxy('undici', 'proxies/undici-proxy.mjs') },
    {
      id: 'undici-plain',
      label: 'bare undici proxy, requests without key/token headers',
      setup: nodeProxy('undici-plain', 'proxies/undici-proxy.mjs'),
    },
    {
      id: 'tessera-key',
      label: 'Tessera: key only (public API)',
      async setup() {
        const t = await startTessera('tessera-key', []);
        const headers = { key: seed.publicKey };
        const inj = await injected(t.base, headers);
        if (inj.obj.urac !== undefined || inj.obj.key?.config?.bench?.tier !== 'public') throw new Error(`key-only sanity: ${inj.raw}`);
        await checkHello(t.base, '/bench/hello', headers);
        ctx.notes.push(`tessera-key: soajsinjectobj ${inj.raw.length} bytes (tenant, key config, no user).`);
        return { ...t, url: `${t.base}/bench/hello`, headers };
      },
    },
    {
      id: 'tessera-full',
      label: 'Tessera: key + Bearer token + user ACL/config + inject',
      setup: () => setupTesseraFull('tessera-full', [], seed, ctx),
    },
    {
      id: 'tessera-workers',
      label: 'Tessera --workers 2 (full pipeline)',
      async setup() {
        // Detection first, as a user would: `start --workers 2` on the bench's file store.
        try {
          return await setupTesseraFull('tessera-workers', ['--workers', '2'], seed, ctx);
        } catch (err) {
          const out = String(err.output ?? err.message);
          if (err.exitCode === undefined) throw err;
          const why = (/tessera: ([^\n]*)/.exec(out)?.[1] ?? out.split('\n').find(Boolean) ?? '').trim();
          if (/unknown option/.test(out)) return { na: `n/a (not implemented: \`tessera start --workers 2\` → "${why}")` };
          if (!/redis|shared store/i.test(out)) throw err;
          // Implemented, but only over a shared store: give it a private redis-server.
          const bin = which('redis-server');
          if (!bin) return { na: `n/a (needs redis-server, not on PATH: "${why}")` };
          ctx.notes.push(`tessera-workers: \`start --workers 2\` on the file store refuses ("${why}"); run on a private redis-server (memory only, pinned to CPU 1 with the load) instead.`);
          const store = await startRedis(bin);
          return await setupTesseraFull('tessera-workers', ['--workers', '2'], seed, ctx, store);
        }
      },
    },
    { id: 'fast-gateway', label: 'fast-gateway', sameRequest: true, setup: nodeProxy('fast-gateway', 'proxies/fast-gateway.mjs') },
    { id: 'fastify', label: '@fastify/http-proxy', sameRequest: true, setup: nodeProxy('fastify', 'proxies/fastify-proxy.mjs') },
    {
      id: 'nginx',
      sameRequest: true,
      label: 'nginx proxy_pass',
      async setup() {
        const bin = which('nginx');
        if (!bin) return { na: 'skipped: nginx is not on PATH' };
        const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-nginx-'));
        tempDirs.push(dir);
        for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs']) mkdirSync(join(dir, d));
        const port = await freePort();
        writeFileSync(
          join(dir, 'nginx.conf'),
          `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  upstream bench { server 127.0.0.1:${seed.upstreamPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location /bench/ {
      proxy_pass http://bench/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
        );
        const base = `http://127.0.0.1:${port}`;
        const p = await startProcess({
          name: 'nginx',
          cmd: bin,
          args: ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs', 'error.log')],
          cpu: 0,
          probe: async () => ((await get(`${base}/bench/hello`)).status === 200 ? true : null),
        });
        await checkHello(base, '/bench/hello', {});
        const v = spawnSync(bin, ['-v'], { encoding: 'utf8' });
        ctx.versions.nginx = (v.stderr || v.stdout).trim().replace(/^nginx version: /, '');
        return { ...p, url: `${base}/bench/hello`, headers: {} };
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// round order

/** Issue 6's bars against the two competitors: the full pipeline's req/s over theirs, at least. */
const COMPETITOR_BARS = [
  ['fast-gateway', 1.7],
  ['fastify', 1.5],
];

/**
 * The order of one round. The contenders whose ratios carry the issue's bars are measured back to
 * back, the full pipeline between the bare proxy and one of the two competitors (which swap sides
 * every two rounds), the others before them: this machine's speed drifts by ±20 % over tens of
 * seconds, and a ratio of two measurements a few seconds apart varies half as much as one of two
 * measurements half a round apart (bench/RESULTS.md, "Adjacent measurements"). Every other round
 * runs in reverse: a drift within a round then favours no contender for its place in the line.
 */
function roundOrder(rows, round) {
  const [a, b] = COMPETITOR_BARS.map(([id]) => id);
  const pair = Math.floor((round - 1) / 2) % 2 === 0 ? [b, a] : [a, b];
  const block = [pair[0], 'undici', 'tessera-full', pair[1]];
  const rest = rows.filter((r) => !block.includes(r.id));
  const ordered = [...rest, ...block.map((id) => rows.find((r) => r.id === id)).filter((r) => r !== undefined)];
  return round % 2 ? ordered : ordered.reverse();
}

// ---------------------------------------------------------------------------------------------
// load

/** Contender processes (proxies under test, with their workers), set once all are started. */
let contenderRoots = [];

async function load(target, o) {
  const ours = descendants(HARNESS_PID);
  const proxy = target.proc ? [target.proc.pid, ...descendants(target.proc.pid)] : [];
  // The other contenders share the proxy's CPU while idle: whatever they run then (timers, V8's
  // idle-time GC after their own load) is taken from the one measured.
  const neighbours = contenderRoots.filter((pid) => pid !== target.proc?.pid).flatMap((pid) => [pid, ...descendants(pid)]);
  const n0 = treeTicks(neighbours);
  const m0 = machineTicks();
  const o0 = treeTicks(ours);
  const x0 = treeTicks(proxy);
  const h0 = process.cpuUsage();
  const w0 = Date.now();
  const r = await (loadTool === 'wrk' ? loadOnceWrk(target, o) : loadOnce(target, o));
  const m1 = machineTicks();
  // CPU time the proxy (with its workers) spent per request, warm-up included: far less sensitive
  // to neighbours than req/s.
  if (proxy.length) r.cpuUsPerReq = (((treeTicks(proxy) - x0) * 1e6) / CLK_TCK / (r.total + r.warmupRequests)) || null;
  if (m0 && m1) {
    const h = process.cpuUsage(h0);
    const oursMs = ((treeTicks(ours) - o0) * 1000) / CLK_TCK + (h.user + h.system) / 1000 + r.cpuMs;
    const allMs = ((m1.all - m0.all) * 1000) / CLK_TCK;
    const workMs = ((m1.work - m0.work) * 1000) / CLK_TCK;
    // Share of all CPUs' time (wall × CPUs) spent in user/system work by processes not ours.
    r.foreignPct = allMs > 0 ? Math.max(0, (100 * (workMs - oursMs)) / allMs) : null;
    r.neighbourMs = ((treeTicks(neighbours) - n0) * 1000) / CLK_TCK;
    r.stealPct = allMs > 0 ? (100 * (m1.steal - m0.steal) * 1000) / CLK_TCK / allMs : null;
    r.irqPct = allMs > 0 ? (100 * (m1.irq - m0.irq) * 1000) / CLK_TCK / allMs : null;
    r.wallMs = Date.now() - w0;
  }
  return r;
}

/** wrk's latency figure (`812.00us`, `1.23ms`, `2.01s`) in ms. */
function wrkMs(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text ?? '');
  if (!m) return null;
  return Number(m[1]) * (m[2] === 'us' ? 1e-3 : m[2] === 's' ? 1e3 : 1);
}

function parseWrk(out) {
  const num = (re) => Number(re.exec(out)?.[1] ?? 0);
  const total = num(/(\d+) requests in/);
  const seconds = wrkMs(/requests in ([\d.]+(?:us|ms|s)),/.exec(out)?.[1]) / 1000;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    total,
    seconds,
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    errors: sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) : 0,
    timeouts: sock ? Number(sock[4]) : 0,
    p50: wrkMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
    p90: wrkMs(/^\s+90%\s+(\S+)/m.exec(out)?.[1]),
    p99: wrkMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
  };
}

/**
 * Runs one load generator (pinned beside the upstream, tracked as a child, killed if it overruns)
 * and hands its stdout to `parse` once it exits 0.
 */
function runLoadProcess(name, cmd, args, o, parse) {
  const [c, a] = pinned(1, cmd, args);
  return new Promise((resolveLoad, reject) => {
    const proc = spawn(c, a, { cwd: BENCH_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    const entry = { name, proc, exited: false };
    children.set(proc.pid, entry);
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    const guard = setTimeout(() => proc.kill('SIGKILL'), (o.duration + o.warmup + 30) * 1000);
    proc.once('exit', (code) => {
      clearTimeout(guard);
      entry.exited = true;
      children.delete(proc.pid);
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolveLoad(parse(out));
      } catch (e) {
        reject(new Error(`${name} run failed (${e.message}): ${err.slice(-1500)}`));
      }
    });
  });
}

/**
 * One wrk run (a warm-up run first, discarded). wrk is C: it leaves the load core far more room
 * than autocannon, so the direct and nginx rows are not capped by the tool. `times` after it
 * reports wrk's own CPU, which the harness needs to tell its load from others'.
 */
function loadOnceWrk(target, o) {
  const hdr = Object.entries(target.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const q = (a) => `'${String(a).replace(/'/g, `'\\''`)}'`;
  const wrk = (d) => ['wrk', '-t1', `-c${o.connections}`, `-d${d}s`, '--latency', '--timeout', '10s', ...hdr, target.url].map(q).join(' ');
  const script = `${o.warmup > 0 ? `${wrk(o.warmup)} && ` : ''}echo '---measured---' && ${wrk(o.duration)} && times`;
  return runLoadProcess('wrk', 'sh', ['-c', script], o, (out) => {
    const [warm, measured] = out.split('---measured---\n');
    const w = o.warmup > 0 ? parseWrk(warm) : { total: 0 };
    const m = parseWrk(measured);
    if (!m.total) throw new Error(`no requests in: ${measured.slice(0, 500)}`);
    // `times`: shell's own line, then the children's (wrk's) user and system time.
    const t = /\n(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(measured);
    const cpuMs = t ? (Number(t[1]) * 60 + Number(t[2]) + Number(t[3]) * 60 + Number(t[4])) * 1000 : 0;
    return { tool: 'wrk', url: target.url, duration: m.seconds, connections: o.connections, pipelining: 1, ...m, warmupRequests: w.total, cpuMs };
  });
}

function loadOnce(target, o) {
  const spec = JSON.stringify({ url: target.url, headers: target.headers, connections: o.connections, pipelining: o.pipelining, duration: o.duration, warmup: o.warmup });
  return runLoadProcess('autocannon', process.execPath, [join(BENCH_DIR, 'lib', 'load.mjs'), spec], o, (out) => JSON.parse(out.trim().split('\n').pop()));
}

// ---------------------------------------------------------------------------------------------
// report

function fmt(n, digits = 0) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * `row`'s `field` over `other`'s, round by round, and the median of those ratios. Two contenders
 * measured seconds apart in one round share the machine's state of that moment; a ratio of two
 * medians may pair one contender's good round with the other's bad one, and on a shared VM rounds
 * differ by ±20 %.
 */
function pairedRatio(row, other, field) {
  if (!row?.runs.length || !other?.runs.length) return null;
  const per = [];
  for (let i = 0; i < Math.min(row.runs.length, other.runs.length); i++) {
    const a = row.runs[i][field];
    const b = other.runs[i][field];
    if (Number.isFinite(a) && Number.isFinite(b) && a > 0 && b > 0) per.push(a / b);
  }
  return per.length ? { median: median(per), per } : null;
}

const times = (x) => (x === null ? '–' : `${x.median.toFixed(2)}×`);

function summarize(rows) {
  for (const r of rows) {
    if (r.runs.length === 0) continue;
    r.rps = median(r.runs.map((x) => x.rps));
    r.p50 = median(r.runs.map((x) => x.p50));
    r.p99 = median(r.runs.map((x) => x.p99));
    r.non2xx = r.runs.reduce((s, x) => s + x.non2xx, 0);
    r.errors = r.runs.reduce((s, x) => s + x.errors + x.timeouts, 0);
    r.foreignPct = median(r.runs.map((x) => x.foreignPct));
    r.stealPct = median(r.runs.map((x) => x.stealPct));
    r.cpuUsPerReq = median(r.runs.map((x) => x.cpuUsPerReq));
    if (r.non2xx > 0 || r.errors > 0) {
      const codes = {};
      for (const x of r.runs) for (const [k, v] of Object.entries(x.statusCodeStats ?? {})) if (!/^2/.test(k)) codes[k] = (codes[k] ?? 0) + v.count;
      r.status = `FAILED: non-2xx ${r.non2xx} ${JSON.stringify(codes)}, errors/timeouts ${r.errors}${r.status ? `; ${r.status}` : ''}`;
    } else if (!r.rps) r.status = `FAILED: 0 req/s${r.status ? `; ${r.status}` : ''}`;
  }
}

function table(rows) {
  const base = rows.find((r) => r.id === 'undici' && r.rps);
  const nginx = rows.find((r) => r.id === 'nginx' && r.rps);
  const head = ['#', 'contender', 'tool', 'req/s', 'p50 ms', 'p99 ms', 'req/s ÷ undici', 'p99 ÷ undici', 'proxy CPU µs/req', 'CPU ÷ undici'];
  if (nginx) head.push('req/s ÷ nginx', 'p99 ÷ nginx');
  head.push('non-2xx', 'other CPU %', 'steal %', 'status');
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i >= 3 && i < head.length - 1 ? '---:' : '---')).join('|')}|`];
  rows.forEach((r, i) => {
    const cells = [String(i + 1), r.label, r.na ? '–' : r.tool ?? 'autocannon'];
    if (r.na || !r.runs.length) {
      cells.push('–', '–', '–', '–', '–', '–', '–');
      if (nginx) cells.push('–', '–');
      cells.push('–', '–', '–', r.na ?? r.status ?? 'not run');
    } else {
      cells.push(fmt(r.rps), fmt(r.p50, 2), fmt(r.p99, 2), times(pairedRatio(r, base, 'rps')), times(pairedRatio(r, base, 'p99')), fmt(r.cpuUsPerReq, 1), times(pairedRatio(r, base, 'cpuUsPerReq')));
      if (nginx) cells.push(times(pairedRatio(r, nginx, 'rps')), times(pairedRatio(r, nginx, 'p99')));
      cells.push(fmt(r.non2xx), fmt(r.foreignPct, 0), fmt(r.stealPct, 0), r.status ?? 'ok');
    }
    lines.push(`| ${cells.join(' | ')} |`);
  });
  return lines.join('\n');
}

/** A contender's name as the tables print it, without the row's qualifiers. */
const labelOf = (rows, id) => rows.find((r) => r.id === id)?.label ?? id;

/** The figures the performance issue asks for, from this run: each a paired ratio against its bar. */
function targets(rows) {
  const by = (id) => rows.find((r) => r.id === id && r.runs.length && !(r.status && r.status !== 'ok'));
  const full = by('tessera-full');
  const base = by('undici');
  const checks = [
    ['req/s ÷ bare undici proxy', full, base, 'rps', '≥', 0.9],
    ['p99 ÷ bare undici proxy', full, base, 'p99', '≤', 1.2],
    ...COMPETITOR_BARS.map(([id, bar]) => [`req/s ÷ ${labelOf(rows, id)}`, full, by(id), 'rps', '≥', bar]),
  ];
  const lines = checks.map(([what, row, other, field, op, bar]) => {
    const r = pairedRatio(row, other, field);
    if (r === null) return `- full pipeline ${what} ${op} ${bar}: not measured in this run`;
    const ok = op === '≥' ? r.median >= bar : r.median <= bar;
    const rounds = r.per.map((x) => x.toFixed(2)).join(', ');
    const held = r.per.filter((x) => (op === '≥' ? x >= bar : x <= bar)).length;
    return `- full pipeline ${what} ${op} ${bar}: **${r.median.toFixed(2)}×** — ${ok ? 'met' : 'NOT met'} (per round: ${rounds}; held in ${held} of ${r.per.length})`;
  });
  // What the competitor bars ask of the full pipeline, in bare-proxy terms: how far the two
  // frameworks trail the bare proxy moves from run to run on a shared machine (1.30–1.62× for
  // fastify in one session), so a run's verdict is read against its own figure.
  const ceiling = COMPETITOR_BARS.map(([id, bar]) => {
    const r = pairedRatio(base, by(id), 'rps');
    return r === null ? null : `${r.median.toFixed(2)}× ${labelOf(rows, id)} (so its bar asks the full pipeline for ${(bar / r.median).toFixed(2)}× the bare proxy)`;
  }).filter((x) => x !== null);
  if (ceiling.length) lines.push(`- context: in this run the bare undici proxy itself made ${ceiling.join(' and ')}`);
  return lines.join('\n');
}

function roundsTable(rows, rounds) {
  const head = ['contender', ...Array.from({ length: rounds }, (_, i) => `round ${i + 1}: req/s · p99 ms · proxy CPU µs/req · idle contenders' CPU ms · other CPU`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i ? '---:' : '---')).join('|')}|`];
  for (const r of rows) {
    if (!r.runs.length) continue;
    lines.push(`| ${r.id} | ${r.runs.map((x) => `${fmt(x.rps)} · ${fmt(x.p99, 2)} · ${fmt(x.cpuUsPerReq, 1)} · ${fmt(x.neighbourMs, 0)} · ${fmt(x.foreignPct, 0)}%`).join(' | ')} |`);
  }
  return lines.join('\n');
}

function pkgVersion(name) {
  try {
    return JSON.parse(readFileSync(join(BENCH_DIR, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

function machine(nproc) {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const commit = sh('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']) ?? 'unknown';
  const dirty = (sh('git', ['-C', REPO, 'status', '--porcelain', '--untracked-files=no']) ?? '') !== '';
  let tessera = 'unknown';
  try {
    tessera = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version;
  } catch {
    // keep unknown
  }
  let built = 'unknown';
  try {
    built = statSync(join(DIST, 'gateway', 'server.js')).mtime.toISOString().replace(/\.\d+Z$/, 'Z');
  } catch {
    // keep unknown
  }
  return { nproc, model, node: process.version, commit: `${commit}${dirty ? ' (+ uncommitted changes in the work tree)' : ''}`, tessera, built };
}

function section(o, ctx, rows, info) {
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const v = ctx.versions;
  const failed = rows.filter((r) => r.status && r.status !== 'ok');
  return `## ${o.mode === 'quick' ? 'Quick run' : 'Full run'} (\`npm run bench${o.mode === 'quick' ? ' -- --quick' : ''}\`) — ${date}

- **machine**: ${info.nproc} CPUs (\`nproc\`), ${info.model}; Node ${info.node}
- **pinning**: ${canPin ? `taskset: the proxy under test on CPU 0; ${loadTool}, the upstream and this harness on CPU 1` : 'none (taskset missing or a single CPU): every process shares every CPU'}
- **load**: ${loadTool === 'wrk' ? `wrk (${v.wrk})` : `autocannon ${v.autocannon}`}, ${o.connections} connections, pipelining ${o.pipelining}, ${o.rounds} round(s) × (${o.warmup} s warm-up + ${o.duration} s measured) per contender, contenders interleaved within each round (the four that carry issue 6's bars back to back); the table gives the median over rounds of each figure, and each ratio is the median of that round's ratios (the two contenders measured seconds apart) (${loadTool === 'wrk' ? "req/s = wrk's requests ÷ seconds; p50/p99 = wrk's --latency percentiles" : "req/s = autocannon's mean of per-second samples; p50/p99 from every 2xx response time, sub-millisecond"}; proxy CPU µs/req = user + system CPU time of the proxy's processes over the requests it served, warm-up included)
- **wrk**: ${v.wrk ?? 'not installed: every row is autocannon\'s'}; **nginx**: ${v.nginx ?? 'not on PATH: row skipped'}
- **versions**: Tessera ${info.tessera} at ${info.commit}, dist built ${info.built}; undici ${v.undici} (baseline; Tessera uses its own ${v.tesseraUndici}), fast-gateway ${v['fast-gateway']} (fast-proxy-lite ${v['fast-proxy-lite']}, restana ${v.restana}), fastify ${v.fastify}, @fastify/http-proxy ${v['@fastify/http-proxy']} (@fastify/reply-from ${v['@fastify/reply-from']})
- **noise**: ${fmt(ctx.idleBefore, 0)}% of the machine's CPU time was busy with other processes in the second before the bench; "other CPU %" is the share of all CPUs' time used by processes not started by the bench during each measurement (median over rounds; the machine is shared, a high figure makes that row's numbers unreliable)
- **requests**: \`GET /bench/hello\` through every proxy (\`GET /hello\` direct), answered by the upstream with a ${UPSTREAM_BODY.length}-byte JSON body; every row but two carries the full pipeline's \`key\` and \`Authorization: Bearer\` headers (the other proxies forward them unread); Tessera key-only sends its \`key\` alone, undici-plain neither

${table(rows)}

Targets (issue 6), as medians of per-round ratios:

${targets(rows)}

Per round:

${roundsTable(rows, o.rounds)}
${failed.length ? `\n**Failed rows**: ${failed.map((r) => `${r.id}: ${r.status}`).join('; ')}\n` : ''}
Checks before loading:${ctx.notes.map((n) => `\n- ${n}`).join('')}
`;
}

// ---------------------------------------------------------------------------------------------
// main

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const nproc = Number(sh('nproc', []) ?? cpus().length);
  canPin = which('taskset') !== null && nproc >= 2;
  loadTool = o.tool === 'auto' ? (which('wrk') ? 'wrk' : 'autocannon') : o.tool;
  if (loadTool === 'wrk' && !which('wrk')) throw new Error('--tool wrk: wrk is not on PATH');
  if (canPin) {
    // The harness itself (and so every child not pinned elsewhere) goes to CPU 1 with the load.
    spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  }
  if (!existsSync(join(DIST, 'bin', 'tessera.js')) || !existsSync(join(DIST, 'gateway', 'server.js'))) {
    throw new Error(`Tessera is not built (${DIST}/bin/tessera.js missing): run \`npm run build\` in ${REPO} first`);
  }
  // Taken now: another session may rebuild dist/ while the bench runs.
  const info = machine(nproc);
  const seed = readBenchSeed();
  await loadPortVars();
  const ctx = {
    notes: [],
    versions: {
      autocannon: pkgVersion('autocannon'),
      undici: pkgVersion('undici'),
      'fast-gateway': pkgVersion('fast-gateway'),
      'fast-proxy-lite': pkgVersion('fast-proxy-lite'),
      restana: pkgVersion('restana'),
      fastify: pkgVersion('fastify'),
      '@fastify/http-proxy': pkgVersion('@fastify/http-proxy'),
      '@fastify/reply-from': pkgVersion('@fastify/reply-from'),
      tesseraUndici: (() => {
        try {
          return JSON.parse(readFileSync(join(REPO, 'node_modules', 'undici', 'package.json'), 'utf8')).version;
        } catch {
          return 'unknown';
        }
      })(),
      wrk: which('wrk') ? `${sh('sh', ['-c', 'wrk -v 2>&1 | head -1']) ?? 'wrk'} (${which('wrk')})${loadTool === 'wrk' ? ': every row measured with it' : ': installed, not used (--tool autocannon)'}` : null,
      nginx: null,
    },
  };
  log(`tessera bench — ${o.mode}: ${o.rounds} round(s) × (${o.warmup} s warm-up + ${o.duration} s), ${o.connections} connections, pipelining ${o.pipelining}`);
  log(`pinning: ${canPin ? `proxy on CPU 0, ${loadTool} + upstream + harness on CPU 1` : 'off'}; load tool: ${loadTool}; dist: ${DIST}`);

  const q0 = machineTicks();
  await sleep(1000);
  const q1 = machineTicks();
  ctx.idleBefore = q0 && q1 ? (100 * (q1.work - q0.work)) / (q1.all - q0.all) : null;
  log(`machine before the bench: ${fmt(ctx.idleBefore, 0)}% of all CPUs busy (other processes)`);
  if (ctx.idleBefore > 10) loud(`the machine is not idle (${fmt(ctx.idleBefore, 0)}% busy before starting): expect noisy numbers; see "other CPU %"`);
  if (await portInUse(seed.upstreamPort)) throw new Error(`port ${seed.upstreamPort} (the upstream, bench/seed/services.yaml) is in use: is another bench running?`);
  if (await portInUse(seed.upstreamPort + 1000)) throw new Error(`port ${seed.upstreamPort + 1000} (the upstream heartbeat) is in use`);
  const up = await startProcess({ name: 'upstream', cmd: process.execPath, args: [join(BENCH_DIR, 'upstream.mjs'), String(seed.upstreamPort)], cpu: 1, ready: jsonReady });
  spawnedPids.push(up.proc.pid);
  log(`upstream: 127.0.0.1:${seed.upstreamPort} (heartbeat :${seed.upstreamPort + 1000}), pid ${up.proc.pid}`);

  const all = contenders(seed, ctx).filter((c) => !o.only || o.only.includes(c.id));
  const rows = all.map((c) => ({ id: c.id, label: c.label, runs: [], target: null, na: null, status: null }));
  for (const [i, c] of all.entries()) {
    const row = rows[i];
    const t0 = Date.now();
    try {
      const target = await c.setup();
      if (target.na) {
        row.na = target.na;
        log(`${c.id}: ${target.na}`);
        continue;
      }
      row.target = target;
      if (target.proc) spawnedPids.push(target.proc.pid);
      log(`${c.id}: ready${target.proc ? `, pid ${target.proc.pid}` : ''} (${Date.now() - t0} ms) → ${target.url}`);
    } catch (err) {
      const msg = String(err.message);
      const logged = /"msg":"start-up failed","error":"((?:[^"\\]|\\.)*)"/.exec(msg)?.[1] ?? /^tessera: (.*)$/m.exec(msg)?.[1];
      row.status = `FAILED to start: ${msg.split('\n')[0].replace(/:$/, '')}${logged ? ` (${logged})` : ''}`;
      loud(`${c.id} FAILED TO START: ${err.message}`);
    }
  }

  // Same request for every proxy: the full pipeline's (its key and bearer token headers), which
  // they forward without reading, so a row's figures differ by what the proxy does, not by what it
  // was sent. `undici-plain` keeps the lighter request earlier runs used, for comparison.
  const fullHeaders = rows.find((r) => r.id === 'tessera-full')?.target?.headers;
  for (const [i, c] of all.entries()) {
    if (!c.sameRequest || !rows[i].target || !fullHeaders) continue;
    rows[i].target.headers = { ...fullHeaders };
  }
  ctx.notes.push(
    fullHeaders
      ? `direct, bare undici proxy, fast-gateway, @fastify/http-proxy and nginx are sent the full pipeline's request headers (key, Authorization: Bearer <${String(fullHeaders.authorization ?? '').length - 7}-character token>); undici-plain gets none.`
      : 'tessera-full is not in this run: every proxy row is sent no key/token headers.',
  );

  contenderRoots = rows.map((r) => r.target?.proc?.pid).filter((pid) => pid !== undefined);
  for (let round = 1; round <= o.rounds; round++) {
    for (const row of roundOrder(rows, round)) {
      if (!row.target) continue;
      const r = await load(row.target, o);
      row.runs.push(r);
      row.tool = r.tool;
      const bad = r.non2xx > 0 || r.errors > 0 || r.timeouts > 0;
      log(
        `round ${round}/${o.rounds}  ${row.id.padEnd(16)} ${fmt(r.rps).padStart(8)} req/s  p50 ${fmt(r.p50, 2).padStart(6)} ms  p99 ${fmt(r.p99, 2).padStart(6)} ms  non-2xx ${r.non2xx}  errors ${r.errors + r.timeouts}  proxy CPU ${fmt(r.cpuUsPerReq, 1)} µs/req  idle contenders ${fmt(r.neighbourMs, 0)} ms  other CPU ${fmt(r.foreignPct, 0)}%  steal ${fmt(r.stealPct, 0)}%`,
      );
      if (bad) loud(`${row.id}: ${r.non2xx} non-2xx (${JSON.stringify(r.statusCodeStats)}), ${r.errors} errors, ${r.timeouts} timeouts in round ${round}`);
      await sleep(200);
    }
  }
  for (const row of rows) {
    if (row.target?.entry?.errorLines) {
      row.status = `${row.status ? `${row.status}; ` : ''}${row.target.entry.errorLines} error log line(s)`;
      loud(`${row.id} logged ${row.target.entry.errorLines} error line(s):\n${row.target.entry.output.join('').slice(-1500)}`);
    }
  }
  summarize(rows);

  // Every process started, with what they started themselves (cluster workers), before stopping.
  const everyPid = [...new Set(descendants(HARNESS_PID).concat(spawnedPids))];
  await cleanup();
  await sleep(300);
  const stray = [...new Set([...everyPid.filter(alive), ...ourChildren()])];
  const strayNote = stray.length ? `STRAY PROCESSES: ${stray.join(', ')}` : `all ${everyPid.length} processes started by the bench have exited (checked by pid, with their children, in /proc)`;
  if (stray.length) loud(strayNote);

  const body = section(o, ctx, rows, info);
  log(`\n${table(rows)}\n\n${targets(rows)}\n`);
  log(`${strayNote}; took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (o.write) {
    writeSection(RESULTS_FILE, o.mode, body);
    log(`results written to ${RESULTS_FILE} (section "${o.mode}")`);
  }
  const failed = rows.filter((r) => r.status && r.status !== 'ok');
  if (failed.length) {
    loud(`FAILED ROWS: ${failed.map((r) => `${r.id} (${r.status})`).join('; ')}`);
    process.exitCode = 1;
  }
}

main().catch(async (err) => {
  if (interrupted) return; // the signal handler is stopping everything and exits 130
  loud(`bench failed: ${err?.stack ?? err}`);
  await cleanup();
  process.exit(1);
});
