// Memory soak (issue 6): 1M requests through the full pipeline over 10k distinct ext keys and 10k
// users, heap sampled from the gateway's maintenance port (/awarenessStat). Loopback only, bounded.
//   node bench/soak.mjs [--requests 1000000]
import { spawn } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { SignJWT } from 'jose';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const arg = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i === -1 ? d : Number(process.argv[i + 1]); };
const REQUESTS = arg('requests', 1_000_000);
// V8 old-space cap for the gateway (MiB): with a cap, a leak ends in a crash instead of hiding as
// garbage not yet collected, which is all a rising heapUsed shows on its own.
const HEAP_CAP = arg('heap-cap', 0);
const TENANTS = 1000, KEYS_PER = 10, USERS_PER = 10;
const sha = (s) => createHash('sha256').update(s).digest('hex');
const children = [];
process.on('exit', () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); });

const dir = mkdtempSync(join(tmpdir(), 'tessera-soak-'));
const seed = join(dir, 'seed');
mkdirSync(seed);
for (const f of ['products.yaml', 'services.yaml']) cpSync(join(ROOT, 'bench/seed', f), join(seed, f));
// One scrypt hash for every user: seeding 10k users must not cost 10k key derivations.
const { hashPasswordSync } = await import(join(ROOT, 'dist/registry/control/password.js'));
const hash = hashPasswordSync('soak-password');
const pkg = /code: (BENCH_\w+)/.exec(readFileSync(join(seed, 'products.yaml'), 'utf8'));
const products = readFileSync(join(seed, 'products.yaml'), 'utf8');
const loginPkg = [...products.matchAll(/code: (\w+_\w+)/g)].map((m) => m[1]).find((c) => /LOGIN|USER|FULL|AUTH/i.test(c)) ?? pkg[1];
const product = loginPkg.split('_')[0];
const pairs = [];
let tenantsYaml = 'tenants:\n';
let usersYaml = 'users:\n';
// Many small files: the YAML parser's peak memory follows the file, and the seed is read at start.
const flush = (n) => {
  writeFileSync(join(seed, `tenants-${n}.yaml`), tenantsYaml);
  writeFileSync(join(seed, `users-${n}.yaml`), usersYaml);
  tenantsYaml = 'tenants:\n';
  usersYaml = 'users:\n';
};
for (let t = 0; t < TENANTS; t++) {
  if (t > 0 && t % 50 === 0) flush(t / 50);
  const id = `5a${t.toString(16).padStart(22, '0')}`;
  const iKey = sha(`ik${t}`).slice(0, 32);
  const keys = Array.from({ length: KEYS_PER }, (_, k) => sha(`soak${t}:${k}`) + sha(`x${t}:${k}`));
  tenantsYaml += `  - { id: ${id}, code: S${t}, name: Soak ${t}, type: client, applications: [{ appId: ${id}, product: ${product}, package: ${loginPkg}, keys: [{ key: ${iKey}, config: { dev: { bench: { tenant: ${t} } } }, extKeys: [${keys.map((k) => `{ extKey: ${k}, env: dev }`).join(', ')}] }] }] }\n`;
  for (let u = 0; u < USERS_PER; u++) {
    const uid = `5b${(t * USERS_PER + u).toString(16).padStart(22, '0')}`;
    usersYaml += `  - { id: ${uid}, username: soak${t}_${u}, passwordHash: "${hash}", firstName: S, lastName: U, email: "", status: active, groups: [], tenant: { id: ${id}, code: S${t} }, config: { keys: { ${iKey}: { config: { bench: { user: ${u} } } } } } }\n`;
    pairs.push({ key: keys[u % KEYS_PER], tid: id, tcode: `S${t}`, sub: uid });
  }
}
flush('last');

const up = spawn(process.execPath, [join(ROOT, 'bench/upstream.mjs'), '17950'], { stdio: ['pipe', 'ignore', 'inherit'] });
children.push(up);
const gw = spawn(process.execPath, ['dist/bin/tessera.js', 'start'], {
  cwd: ROOT,
  env: {
    PATH: process.env.PATH, TESSERA_SEED: seed, TESSERA_DEMO: 'false', TESSERA_STORE: `file:${join(dir, 'data')}`,
    TESSERA_HOST: '127.0.0.1', TESSERA_PORT: '0', TESSERA_MAINTENANCE_PORT: '0', TESSERA_OAUTH_PORT: '0',
    TESSERA_URAC_PORT: '0', TESSERA_REGISTRY_PORT: '0', TESSERA_EXAMPLE03_PORT: '0',
    TESSERA_CACHE_KEYS: '20000', TESSERA_CACHE_USERS: '20000', TESSERA_CACHE_TOKENS: '20000',
    ...(HEAP_CAP ? { NODE_OPTIONS: `--max-old-space-size=${HEAP_CAP}` } : {}),
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
children.push(gw);
const ready = await new Promise((resolve, reject) => {
  let buf = '';
  gw.stdout.on('data', (c) => { buf += c; for (const l of buf.split('\n')) { try { const o = JSON.parse(l); if (o.msg === 'ready') resolve(o); } catch {} } });
  gw.on('exit', (c) => reject(new Error(`gateway exited ${c}`)));
  setTimeout(() => reject(new Error('not ready')), 60_000).unref();
});
// Tokens as the oauth service issues them, signed with the key it keeps in the store.
const state = JSON.parse(readFileSync(join(dir, 'data', 'registry.json'), 'utf8'));
const sk = Object.values(state.docs.signingKey)[0].doc;
const priv = createPrivateKey({ key: sk.privateJwk, format: 'jwk' });
const now = Math.floor(Date.now() / 1000);
for (const p of pairs) {
  p.token = await new SignJWT({ tid: p.tid, tcode: p.tcode, env: 'dev', ims: Date.now() })
    .setProtectedHeader({ alg: 'ES256', kid: sk.kid, typ: 'JWT' }).setIssuer('tessera').setSubject(p.sub)
    .setJti(randomBytes(16).toString('hex')).setIssuedAt(now).setExpirationTime(now + 3600).sign(priv);
}
const base = `http://127.0.0.1:${ready.gateway}`;
const probe = await fetch(`${base}/bench/hello`, { headers: { key: pairs[0].key, authorization: `Bearer ${pairs[0].token}` } });
if (probe.status !== 200) throw new Error(`probe ${probe.status}: ${await probe.text()}`);
await probe.arrayBuffer();

const mem = async () => (await (await fetch(`http://127.0.0.1:${ready.maintenance}/awarenessStat`)).json()).data.memory;
const samples = [];
let i = 0;
const timer = setInterval(async () => { try { samples.push({ at: i, ...(await mem()) }); } catch {} }, 5000);
const result = await autocannon({
  url: `${base}/bench/hello`, connections: 50, amount: REQUESTS,
  requests: [{ setupRequest: (req) => { const p = pairs[i++ % pairs.length]; req.headers = { key: p.key, authorization: `Bearer ${p.token}` }; return req; } }],
});
clearInterval(timer);
samples.push({ at: i, ...(await mem()) });
const MiB = (b) => (b / 1048576).toFixed(1);
const line = samples.map((s) => `${Math.round(s.at / 1000)}k: heap ${MiB(s.heapUsed)} / rss ${MiB(s.rss)} MiB`);
console.log(line.join('\n'));
const alive = gw.exitCode === null;
console.log(`SOAK ${JSON.stringify({ gatewayAlive: alive, heapCapMiB: HEAP_CAP || null, requests: result.requests.total, non2xx: result.non2xx, errors: result.errors, reqPerSec: Math.round(result.requests.average), keys: TENANTS * KEYS_PER, users: TENANTS * USERS_PER })}`);
gw.kill('SIGTERM');
await new Promise((r) => gw.once('exit', r));
up.kill('SIGKILL');
rmSync(dir, { recursive: true, force: true });
