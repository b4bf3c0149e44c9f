// The bench registry (bench/seed) and the contenders: how each is started and checked before any load.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_DIR, DIST, REPO, SEED_DIR } from './paths.mjs';
import { jsonReady, startProcess, tempDirs } from './processes.mjs';
import { freePort, which } from './util.mjs';

export function readBenchSeed() {
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

export const UPSTREAM_BODY = JSON.stringify({ result: true, data: { hello: 'world', n: 42 } });

export async function get(url, headers = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

export async function checkHello(base, path, headers) {
  const r = await get(`${base}${path}`, headers);
  if (r.status !== 200 || r.text !== UPSTREAM_BODY) throw new Error(`sanity GET ${path} → ${r.status} ${r.text.slice(0, 300)}`);
}

/** Every `TESSERA_*_PORT` this build knows (config/schema.js ENV_VARS), so new services get 0 too. */
export let portVars = ['TESSERA_PORT', 'TESSERA_MAINTENANCE_PORT', 'TESSERA_OAUTH_PORT', 'TESSERA_URAC_PORT', 'TESSERA_EXAMPLE03_PORT'];
export async function loadPortVars() {
  try {
    const { ENV_VARS } = await import(pathToFileURL(join(DIST, 'config', 'schema.js')).href);
    portVars = [...new Set([...portVars, ...Object.keys(ENV_VARS).filter((v) => /^TESSERA_.*PORT$/.test(v))])];
  } catch {
    // keep the known ones
  }
}

export function tesseraEnv(store, seedDir = SEED_DIR) {
  return {
    PATH: process.env.PATH ?? '',
    // Every port on 0 (the kernel picks): two Tessera processes side by side must not collide.
    ...Object.fromEntries(portVars.map((v) => [v, '0'])),
    TESSERA_HOST: '127.0.0.1',
    TESSERA_SEED: seedDir,
    TESSERA_DEMO: 'false',
    TESSERA_STORE: store,
  };
}

/** A fresh file store in a temp dir. */
export function freshFileStore() {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  tempDirs.push(dir);
  return `file:${dir}`;
}

export async function startTessera(name, extraArgs, store = freshFileStore(), seedDir = SEED_DIR) {
  const p = await startProcess({
    name,
    cmd: process.execPath,
    args: [join(DIST, 'bin', 'tessera.js'), 'start', ...extraArgs],
    cwd: REPO,
    env: tesseraEnv(store, seedDir),
    cpu: 0,
    ready: jsonReady,
    timeoutMs: 30_000,
  });
  return { ...p, base: `http://127.0.0.1:${p.ready.gateway}` };
}

/** A private, empty, memory-only redis-server on a free port (pinned beside the load, CPU 1). */
export async function startRedis(bin) {
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
export async function login(base, seed) {
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
export async function injected(base, headers) {
  const r = await get(`${base}/bench/echo`, headers);
  if (r.status !== 200) throw new Error(`sanity GET /bench/echo → ${r.status} ${r.text.slice(0, 300)}`);
  const raw = JSON.parse(r.text).data.headers.soajsinjectobj;
  if (typeof raw !== 'string') throw new Error('no soajsinjectobj reached the upstream');
  return { raw, obj: JSON.parse(raw) };
}

/**
 * The bench seed with rate limits on the login application: a tenant and a per-user limit, high
 * enough never to be reached, so every request is counted and none refused — the cost of counting.
 */
export function rateLimitedSeed() {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-seed-'));
  tempDirs.push(dir);
  for (const f of ['products.yaml', 'services.yaml', 'tenants.yaml', 'users.yaml']) {
    let text = readFileSync(join(SEED_DIR, f), 'utf8');
    if (f === 'tenants.yaml') {
      const before = text;
      text = text.replace(
        /(\n(\s+)package: BENCH_LOGIN\n)/,
        '$1$2rateLimits:\n$2  - { by: tenant, limit: 1000000000, windowSeconds: 3600 }\n$2  - { by: user, limit: 1000000000, windowSeconds: 3600 }\n',
      );
      if (text === before) throw new Error('bench/seed/tenants.yaml: no application with package BENCH_LOGIN to rate-limit');
    }
    writeFileSync(join(dir, f), text);
  }
  return dir;
}

export async function setupTesseraFull(name, extraArgs, seed, ctx, store, seedDir) {
  const t = await startTessera(name, extraArgs, store, seedDir);
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

export function contenders(seed, ctx) {
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
      id: 'tessera-limited',
      label: 'Tessera: full pipeline + tenant and user rate limits',
      async setup() {
        const t = await setupTesseraFull('tessera-limited', [], seed, ctx, undefined, rateLimitedSeed());
        // Counted, not just configured: the gateway's own counters move.
        const counted = async () => (await (await fetch(`http://127.0.0.1:${t.ready.maintenance}/awarenessStat`)).json()).data.rateLimits.allowed;
        const before = await counted();
        const r = await get(t.url, t.headers);
        const after = await counted();
        if (r.status !== 200 || after - before !== 2) throw new Error(`rate-limited sanity: ${r.status}, ${after - before} tokens spent (2 expected)`);
        ctx.notes.push('tessera-limited: every request spends a token of a tenant and of a per-user limit (RateLimit headers at the default, near the limit only).');
        return t;
      },
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
