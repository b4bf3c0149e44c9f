#!/usr/bin/env node
// Registry writes with and without their outbox events (issue 17: events may cost registry writes
// at most 20 %), side by side in one run. A write is what the registry service does for a tenant
// change: read-modify-write (get, validate, compare-and-set put) and its audit entry; once with the
// events it writes with the change, once without, interleaved in rounds. Also the bare store put
// alone, where the outbox's share is largest. Write rates and with ÷ without per round. A private memory-only redis-server on
// a free port, loopback only, bounded in count.
//
//   node bench/store-writes.mjs [--writes 2000] [--rounds 6] [--concurrency 8] [--bare]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DIST } from './lib/paths.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const WRITES = Math.min(20_000, arg('writes', 2000));
const ROUNDS = Math.min(20, arg('rounds', 6));
const CONCURRENCY = Math.min(64, arg('concurrency', 8));

const { RedisStore } = await import(pathToFileURL(join(DIST, 'registry/control/store/redis.js')).href);
const { tenantEvents } = await import(pathToFileURL(join(DIST, 'registry/control/events.js')).href);
const { readModifyWrite } = await import(pathToFileURL(join(DIST, 'services/kit/read-modify-write.js')).href);
const { validateDocument } = await import(pathToFileURL(join(DIST, 'registry/control/schema.js')).href);
const { auditId } = await import(pathToFileURL(join(DIST, 'services/kit/audit-id.js')).href);
const BARE = process.argv.includes('--bare');

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-writes-'));
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise((resolve, reject) => {
  redis.on('error', reject);
  redis.stdout.on('data', (c) => String(c).includes('Ready to accept connections') && resolve());
});
const store = new RedisStore({ url: `redis://127.0.0.1:${port}/0?prefix=bench:`, onError: () => undefined });
await store.open();

const tenant = (i, n) => ({ id: `t${i}`, code: `T${i}`, name: `Tenant ${i} rev ${n}`, type: 'client', applications: [] });
const versions = new Map();
for (let i = 0; i < CONCURRENCY; i++) versions.set(i, await store.put('tenant', tenant(i, 0), { ifVersion: 0 }));

/** WRITES updates by CONCURRENCY writers, each on its own tenant (no conflicts): writes per second. */
async function run(withEvents, round) {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      while (next < WRITES) {
        const n = next++;
        const before = tenant(w, `${round}-${n - 1}`);
        const after = tenant(w, `${round}-${n}`);
        if (BARE) {
          const opts = { ifVersion: versions.get(w), ...(withEvents ? { events: tenantEvents(before, after) } : {}) };
          versions.set(w, await store.put('tenant', after, opts));
          continue;
        }
        const written = await readModifyWrite(store, 'tenant', `t${w}`, {
          ifVersion: null,
          change: () => after,
          validate: (doc) => validateDocument('tenant', doc),
          ...(withEvents ? { events: tenantEvents } : {}),
        });
        const ts = Date.now();
        const actor = { userId: 'u1', username: 'admin', tenantId: 'owner', tenantCode: 'OWNER' };
        await store.put('audit', { id: auditId(ts), ts, actor, action: 'patch', resource: 'tenant', resourceId: `t${w}`, before: written.before, after: written.after });
      }
    }),
  );
  return WRITES / (Number(process.hrtime.bigint() - started) / 1e9);
}

await run(true, 'warm');
await run(false, 'warm');
const ratios = [];
for (let r = 0; r < ROUNDS; r++) {
  // Alternate which goes first: a drift within a round then favours neither.
  const order = r % 2 === 0 ? [true, false] : [false, true];
  const rate = {};
  for (const w of order) rate[w] = await run(w, r);
  ratios.push(rate[true] / rate[false]);
  console.log(`round ${r + 1}/${ROUNDS}  with events ${Math.round(rate[true])}/s  without ${Math.round(rate[false])}/s  ratio ${(rate[true] / rate[false]).toFixed(3)}`);
}
const sorted = [...ratios].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
console.log(`median with ÷ without: ${median.toFixed(3)} (bar ≥ 0.80; per round ${ratios.map((x) => x.toFixed(2)).join(', ')})`);
await store.close();
redis.kill();
rmSync(dir, { recursive: true, force: true });
