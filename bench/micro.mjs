#!/usr/bin/env node
// Micro-benchmarks of Tessera's per-request work, in ns/µs per request, on the compiled modules
// (../dist, or $TESSERA_DIST): each stage alone and the whole stage list, against a real snapshot
// built from bench/seed in a temp file store, with real node:http request/response objects.
// Nothing here touches the network.
//
//   npm run micro                 7 runs per case, median reported
//   npm run micro -- --quick      3 runs, fewer iterations
//   options: --runs N --scale F (iterations × F) --no-write
import { IncomingMessage, ServerResponse } from 'node:http';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeSection } from './lib/results.mjs';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(BENCH_DIR, '..');
const DIST = resolve(process.env.TESSERA_DIST ?? join(REPO, 'dist'));
const RESULTS_FILE = join(BENCH_DIR, 'RESULTS.md');

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i === -1 ? dflt : Number(argv[i + 1]);
};
const quick = argv.includes('--quick');
const RUNS = Math.min(25, Math.max(1, opt('--runs', quick ? 3 : 7)));
const SCALE = Math.min(10, Math.max(0.01, opt('--scale', quick ? 0.25 : 1)));
const WRITE = !argv.includes('--no-write');

// The registry's modules moved into view/ and control/ (issue 15): a build from before keeps them flat.
const LAYOUTS = [(p) => p.replace(/^registry\/store\//, 'registry/control/store/'), (p) => p.replace(/^registry\//, 'registry/view/'), (p) => p.replace(/^registry\//, 'registry/control/'), (p) => p];
const dist = (p) => import(pathToFileURL(join(DIST, LAYOUTS.map((f) => f(p)).find((q) => existsSync(join(DIST, q))) ?? p)).href);
if (!existsSync(join(DIST, 'gateway', 'pipeline.js'))) {
  process.stderr.write(`micro: Tessera is not built (${DIST}/gateway/pipeline.js missing): run \`npm run build\` in ${REPO} first\n`);
  process.exit(1);
}

const [{ createUrlStage }, { createKeyStage }, { applyServiceAcl }, { createAuthorizeStage }, { createInjectStage }, pipeline, { RequestContext }, { TokenAuthenticator }, cache, { readSeed }, { buildSnapshot }, { FileStore }, { activeSigningKey }, proxyHttp] =
  await Promise.all([
    dist('gateway/stages/url.js'),
    dist('gateway/stages/key.js'),
    dist('gateway/stages/acl.js'),
    dist('gateway/stages/authorize.js'),
    dist('gateway/stages/inject.js'),
    dist('gateway/pipeline.js'),
    dist('gateway/context.js'),
    dist('gateway/auth.js'),
    dist('registry/cache.js'),
    dist('registry/seed.js'),
    dist('registry/snapshot.js'),
    dist('registry/store/file.js'),
    dist('services/oauth/signing-keys.js'),
    dist('gateway/forward/http.js'),
  ]);
// Older builds have no decision memo: its case then reads n/a.
const decisionMemo = await dist('gateway/decision-memo.js').catch(() => null);
const injectSignature = await dist('registry/inject-signature.js').catch(() => null);
// jose as Tessera resolves it (the repo's node_modules), to sign a token the way the oauth service does.
const { SignJWT } = await import(pathToFileURL(createRequire(join(REPO, 'package.json')).resolve('jose')).href);

// ---------------------------------------------------------------------------------------------
// the registry: bench/seed in a fresh file store, as `tessera start` would load it

const SEED = join(BENCH_DIR, 'seed');
const tenantsYaml = readFileSync(join(SEED, 'tenants.yaml'), 'utf8');
const extKey = (label) => new RegExp(`extKey:\\s*([0-9a-f]{32,1024})\\s*\\n(?:\\s+\\w+:.*\\n)*?\\s+label:\\s*${label}\\b`).exec(tenantsYaml)[1];
const PUBLIC_KEY = extKey('bench-public');
const LOGIN_KEY = extKey('bench-login');
const ENV = 'dev';

const dir = mkdtempSync(join(tmpdir(), 'tessera-micro-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const store = new FileStore(dir, readSeed(SEED));
await store.open();
const signing = await activeSigningKey(store); // what the oauth service does at start
const snapshot = buildSnapshot(await store.load(), ENV);
const holder = { current: () => snapshot };
const keys = new cache.KeyCache(store, ENV);
const users = new cache.UserCache(store);
const auth = new TokenAuthenticator({ users });

const user = (await store.findUserByUsername('bench-user')).doc;
const now = Date.now();
const token = await new SignJWT({ tid: user.tenant.id, tcode: user.tenant.code, env: ENV, ims: now })
  .setProtectedHeader({ alg: 'ES256', kid: signing.kid, typ: 'JWT' })
  .setIssuer('tessera')
  .setSubject(user.id)
  .setJti('0123456789abcdef0123456789abcdef')
  .setIssuedAt(Math.floor(now / 1000))
  .setExpirationTime(Math.floor(now / 1000) + 7200)
  .sign(signing.privateKey);

// ---------------------------------------------------------------------------------------------
// requests: real IncomingMessage/ServerResponse objects around an unconnected socket

const BASE_HEADERS = { host: '127.0.0.1:4000', 'user-agent': 'autocannon', accept: '*/*' };
function request(url, headers) {
  const req = new IncomingMessage(new Socket());
  req.url = url;
  req.method = 'GET';
  req.headers = { ...BASE_HEADERS, ...headers };
  const res = new ServerResponse(req);
  return { req, res };
}
const KEY_ONLY = request('/bench/hello', { key: PUBLIC_KEY });
const FULL = request('/bench/hello', { key: LOGIN_KEY, authorization: `Bearer ${token}` });
function context(r) {
  const ctx = new RequestContext(r.req, r.res, holder.current());
  ctx.clientIp = '127.0.0.1';
  return ctx;
}

const awareness = { host: '127.0.0.1', port: 4000 };
const stages = pipeline.createStages({ keys, authenticator: auth, inject: { awareness: () => awareness, maxBytes: 65536 } });
const byName = Object.fromEntries(stages.map((s) => [s.name, s]));

/** Runs the whole stage list; warms caches (key, token, user) on the way. Rejects on a denial. */
function runAll(ctx) {
  return new Promise((ok, fail) =>
    pipeline.runPipeline(stages, ctx, (c, denial, err) => (err ? fail(err) : denial ? fail(new Error(`denied: ${denial.body}`)) : ok(c))),
  );
}
// First requests: key cache filled from the store, token verified (ES256) and cached, user loaded.
const keyCtx = await runAll(context(KEY_ONLY));
const fullCtx = await runAll(context(FULL));
if (fullCtx.user?.username !== 'bench-user' || fullCtx.aclLevel !== 'user') throw new Error('full pipeline did not resolve the user and its ACL');
if (keyCtx.user !== null || keyCtx.aclLevel !== 'package') throw new Error('key-only pipeline resolved a user');

// ---------------------------------------------------------------------------------------------
// timing

let sink = 0;
const consume = (v) => {
  sink = (sink + (v === null ? 1 : typeof v === 'object' ? 2 : 3)) | 0;
};

/** ns per op: `n` calls of fn, `RUNS` times; median, min. */
function measure(name, n, fn) {
  n = Math.max(1000, Math.round(n * SCALE));
  for (let i = 0; i < Math.min(n, 20_000); i++) consume(fn()); // warm the JIT
  const per = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) consume(fn());
    per.push(Number(process.hrtime.bigint() - t0) / n);
  }
  per.sort((a, b) => a - b);
  return { name, n, median: per[per.length >> 1], min: per[0], max: per[per.length - 1] };
}

const cases = [];
function add(name, n, fn, note = '') {
  try {
    const probe = fn();
    if (probe instanceof Promise) throw new Error('went asynchronous: a cache is cold');
    if (probe !== null && probe !== undefined && typeof probe === 'object' && 'status' in probe && 'body' in probe) {
      throw new Error(`denied: ${probe.body}`);
    }
    cases.push({ ...measure(name, n, fn), note });
  } catch (err) {
    cases.push({ name, error: err.message, note });
  }
}

const url = createUrlStage();
const key = createKeyStage(keys);
const authorize = createAuthorizeStage();
const inject = createInjectStage({ awareness: () => awareness, maxBytes: 65536 });

add('RequestContext construction', 2_000_000, () => context(KEY_ONLY), 'one per request, with the one pass over the client headers');
add('url stage', 2_000_000, () => url.run(keyCtx), '`/bench/hello` → service, version, ACL path');
add('key stage (warm KeyCache)', 1_000_000, () => key.run(keyCtx), 'header, digest memo by the key\'s tail (SHA-256 only for a key not seen yet), key cache hit, package');
add('ACL: package ACL (public)', 2_000_000, () => {
  applyServiceAcl(keyCtx, keyCtx.serviceAcl);
  return authorize.run(keyCtx);
}, 'applyServiceAcl + authorize, key-only request');
add('ACL: user ACL (restricted, groups)', 2_000_000, () => {
  applyServiceAcl(fullCtx, fullCtx.serviceAcl);
  return authorize.run(fullCtx);
}, 'applyServiceAcl + authorize, user-level ACL with group checks');
add('token stage (warm)', 1_000_000, () => byName.token.run(fullCtx), 'locate the token (query, access_token header, Authorization: Bearer) + authenticate');
add('TokenAuthenticator.authenticate (warm, same string)', 1_000_000, () => auth.authenticate(token, fullCtx), 'verified-token cache, revocation, tenant binding, user, resolved-user memo; one token string instance, its hash cached by V8');
add('TokenAuthenticator.authenticate (warm, fresh string)', 1_000_000, () => auth.authenticate((' ' + token).slice(1), fullCtx), 'the same with a new string per call, as every parsed request brings: the cache lookup hashes all of it');
add('inject: key only', 1_000_000, () => inject.run(keyCtx), 'soajsinjectobj for a key-only request (tenant, key config, device, geo, awareness)');
add('inject: user + merged config', 500_000, () => inject.run(fullCtx), 'soajsinjectobj with urac and the user\'s config deep-merged over the key\'s');
// Builds from before the inject signature took two arguments; the extra one is ignored there.
const signer = injectSignature ? new injectSignature.InjectSigner(Buffer.alloc(32, 7)) : undefined;
add('upstream headers', 1_000_000, () => proxyHttp.upstreamHeaders(fullCtx, 'http', signer), 'client headers filtered + forwarding + soajsinjectobj (+ its signature, kept per value)');
const whole = (r) => () => {
  let out;
  pipeline.runPipeline(stages, context(r), (_c, d, e) => (out = e ?? d));
  if (out === undefined) throw new Error('pipeline went asynchronous');
  return out;
};
add('whole pipeline: key only', 500_000, whole(KEY_ONLY), `RequestContext + the ${stages.length} stages (createStages + runPipeline)`);
add('whole pipeline: full', 300_000, whole(FULL), 'key + Bearer token + user ACL + user config inject');
// The same request again on the same connection: the connection's kept decision, revalidated.
const decisions = decisionMemo ? new decisionMemo.DecisionMemo(keys, auth) : null;
decisions?.remember(fullCtx);
add(
  'kept decision: full, same connection',
  1_000_000,
  () => {
    if (decisions === null) throw new Error('this build has no decision memo');
    const ctx = context(FULL);
    if (!decisions.reuse(ctx)) throw new Error('the kept decision was not reused');
    return ctx.inject === fullCtx.inject ? null : ctx;
  },
  'RequestContext + the connection\'s last decision checked (same request, snapshot, key entry, unexpired token, same user entry) and handed on by reference',
);

keys.close();
users.close();
await store.close();

// ---------------------------------------------------------------------------------------------
// report

const fmtNs = (ns) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);
const rows = cases.map((c) =>
  c.error
    ? `| ${c.name} | – | – | – | n/a: ${c.error} |`
    : `| ${c.name} | ${fmtNs(c.median)} | ${fmtNs(c.min)} | ${(1e9 / c.median / 1e6).toFixed(2)} M | ${c.note} |`,
);
const tableText = ['| case | per request (median) | best run | ops/s (1 core) | what |', '|---|---:|---:|---:|---|', ...rows].join('\n');
const cpu = /model name\s*:\s*(.*)/.exec(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '')?.[1] ?? cpus()[0]?.model;
const gitShort = spawnSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim() || 'unknown';
const built = existsSync(join(DIST, 'gateway', 'pipeline.js')) ? statSync(join(DIST, 'gateway', 'pipeline.js')).mtime.toISOString().replace(/\.\d+Z$/, 'Z') : 'unknown';
const info = `Tessera at ${gitShort} (dist built ${built}); Node ${process.version}, ${cpu}; ${RUNS} runs per case (median), iterations × ${SCALE}; unpinned, on a shared machine`;
process.stdout.write(`\n${tableText}\n\n${info}\n(sink ${sink})\n`);

const fullCase = cases.find((c) => c.name === 'whole pipeline: full');
const keyCase = cases.find((c) => c.name === 'whole pipeline: key only');
if (WRITE && !quick) {
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const body = `## Micro-benchmarks (\`npm run micro\`) — ${date}

${info}. Each case runs synchronously on warm caches (the first request of each kind filled the
key cache from the store, verified the ES256 token and loaded the user): the per-request CPU cost
of the gateway's decisions, without sockets or the proxying itself.

${tableText}
${fullCase?.median && keyCase?.median ? `\nThe full pipeline costs ${fmtNs(fullCase.median)} against ${fmtNs(keyCase.median)} for a key-only request (+${fmtNs(fullCase.median - keyCase.median)}).\n` : ''}`;
  writeSection(RESULTS_FILE, 'micro', body);
  process.stdout.write(`results written to ${RESULTS_FILE} (section "micro")\n`);
}
