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
//
// The parts: lib/options.mjs (command line), lib/processes.mjs (children, pinning, CPU ticks),
// lib/contenders.mjs (what is measured), lib/rounds.mjs (bars and order), lib/measure.mjs (one
// load run), lib/report.mjs (ratios, tables, verdicts), lib/results.mjs (RESULTS.md sections).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { contenders, loadPortVars, readBenchSeed } from './lib/contenders.mjs';
import { load } from './lib/measure.mjs';
import { parseArgs } from './lib/options.mjs';
import { BENCH_DIR, DIST, HARNESS_PID, REPO, RESULTS_FILE } from './lib/paths.mjs';
import { alive, cleanup, descendants, jsonReady, machineTicks, ourChildren, spawnedPids, startProcess, state } from './lib/processes.mjs';
import { machine, pkgVersion, section, summarize, table, targets } from './lib/report.mjs';
import { writeSection } from './lib/results.mjs';
import { roundOrder } from './lib/rounds.mjs';
import { fmt, log, loud, portInUse, sh, sleep, which } from './lib/util.mjs';

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const nproc = Number(sh('nproc', []) ?? cpus().length);
  state.canPin = which('taskset') !== null && nproc >= 2;
  state.loadTool = o.tool === 'auto' ? (which('wrk') ? 'wrk' : 'autocannon') : o.tool;
  if (state.loadTool === 'wrk' && !which('wrk')) throw new Error('--tool wrk: wrk is not on PATH');
  if (state.canPin) {
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
      wrk: which('wrk') ? `${sh('sh', ['-c', 'wrk -v 2>&1 | head -1']) ?? 'wrk'} (${which('wrk')})${state.loadTool === 'wrk' ? ': every row measured with it' : ': installed, not used (--tool autocannon)'}` : null,
      nginx: null,
    },
  };
  log(`tessera bench — ${o.mode}: ${o.rounds} round(s) × (${o.warmup} s warm-up + ${o.duration} s), ${o.connections} connections, pipelining ${o.pipelining}`);
  log(`pinning: ${state.canPin ? `proxy on CPU 0, ${state.loadTool} + upstream + harness on CPU 1` : 'off'}; load tool: ${state.loadTool}; dist: ${DIST}`);

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

  state.contenderRoots = rows.map((r) => r.target?.proc?.pid).filter((pid) => pid !== undefined);
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
  if (state.interrupted) return; // the signal handler is stopping everything and exits 130
  loud(`bench failed: ${err?.stack ?? err}`);
  await cleanup();
  process.exit(1);
});
