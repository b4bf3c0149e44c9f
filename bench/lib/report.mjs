// The report: paired ratios, the tables, the verdict on each bar, the RESULTS.md section.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { UPSTREAM_BODY } from './contenders.mjs';
import { BENCH_DIR, DIST, REPO } from './paths.mjs';
import { state } from './processes.mjs';
import { COMPETITOR_BARS } from './rounds.mjs';
import { fmt, median, sh } from './util.mjs';

/**
 * `row`'s `field` over `other`'s, round by round, and the median of those ratios. Two contenders
 * measured seconds apart in one round share the machine's state of that moment; a ratio of two
 * medians may pair one contender's good round with the other's bad one, and on a shared VM rounds
 * differ by ±20 %.
 */
export function pairedRatio(row, other, field) {
  if (!row?.runs.length || !other?.runs.length) return null;
  const per = [];
  for (let i = 0; i < Math.min(row.runs.length, other.runs.length); i++) {
    const a = row.runs[i][field];
    const b = other.runs[i][field];
    if (Number.isFinite(a) && Number.isFinite(b) && a > 0 && b > 0) per.push(a / b);
  }
  return per.length ? { median: median(per), per } : null;
}

export const times = (x) => (x === null ? '–' : `${x.median.toFixed(2)}×`);

export function summarize(rows) {
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

export function table(rows) {
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
export const labelOf = (rows, id) => rows.find((r) => r.id === id)?.label ?? id;

/** Of the rounds, the share a bar must hold in for a met median to count as met rather than unstable. */
export const STABLE_SHARE = 0.7;

/**
 * A bar's verdict: NOT met when the median misses it; met when the median meets it and it held in
 * at least 7 of 10 rounds; otherwise unstable — a median that meets the bar on a noisy machine
 * while a third of the rounds miss it is not a result to lean on.
 */
export function verdict(median, op, bar, held, rounds) {
  const ok = op === '≥' ? median >= bar : median <= bar;
  if (!ok) return 'NOT met';
  return held >= Math.ceil(STABLE_SHARE * rounds) ? 'met' : 'unstable';
}

/** The figures the performance issue asks for, from this run: each a paired ratio against its bar. */
export function targets(rows) {
  const by = (id) => rows.find((r) => r.id === id && r.runs.length && !(r.status && r.status !== 'ok'));
  const full = by('tessera-full');
  const base = by('undici');
  const limited = by('tessera-limited');
  const checks = [
    ['req/s ÷ bare undici proxy', full, base, 'rps', '≥', 0.9],
    ['p99 ÷ bare undici proxy', full, base, 'p99', '≤', 1.2],
    ...COMPETITOR_BARS.map(([id, bar]) => [`req/s ÷ ${labelOf(rows, id)}`, full, by(id), 'rps', '≥', bar]),
    // Issue 16: counting two rate limits on every request costs at most 3 %.
    ['with rate limits, req/s ÷ without', limited, full, 'rps', '≥', 0.97],
  ];
  const lines = checks.map(([what, row, other, field, op, bar]) => {
    const r = pairedRatio(row, other, field);
    if (r === null) return `- full pipeline ${what} ${op} ${bar}: not measured in this run`;
    const rounds = r.per.map((x) => x.toFixed(2)).join(', ');
    const held = r.per.filter((x) => (op === '≥' ? x >= bar : x <= bar)).length;
    return `- full pipeline ${what} ${op} ${bar}: **${r.median.toFixed(2)}×** — ${verdict(r.median, op, bar, held, r.per.length)} (per round: ${rounds}; held in ${held} of ${r.per.length})`;
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

export function roundsTable(rows, rounds) {
  const head = ['contender', ...Array.from({ length: rounds }, (_, i) => `round ${i + 1}: req/s · p99 ms · proxy CPU µs/req · idle contenders' CPU ms · other CPU`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i ? '---:' : '---')).join('|')}|`];
  for (const r of rows) {
    if (!r.runs.length) continue;
    lines.push(`| ${r.id} | ${r.runs.map((x) => `${fmt(x.rps)} · ${fmt(x.p99, 2)} · ${fmt(x.cpuUsPerReq, 1)} · ${fmt(x.neighbourMs, 0)} · ${fmt(x.foreignPct, 0)}%`).join(' | ')} |`);
  }
  return lines.join('\n');
}

export function pkgVersion(name) {
  try {
    return JSON.parse(readFileSync(join(BENCH_DIR, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

export function machine(nproc) {
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

export function section(o, ctx, rows, info) {
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const v = ctx.versions;
  const failed = rows.filter((r) => r.status && r.status !== 'ok');
  return `## ${o.mode === 'quick' ? 'Quick run' : 'Full run'} (\`npm run bench${o.mode === 'quick' ? ' -- --quick' : ''}\`) — ${date}

- **machine**: ${info.nproc} CPUs (\`nproc\`), ${info.model}; Node ${info.node}
- **pinning**: ${state.canPin ? `taskset: the proxy under test on CPU 0; ${state.loadTool}, the upstream and this harness on CPU 1` : 'none (taskset missing or a single CPU): every process shares every CPU'}
- **load**: ${state.loadTool === 'wrk' ? `wrk (${v.wrk})` : `autocannon ${v.autocannon}`}, ${o.connections} connections, pipelining ${o.pipelining}, ${o.rounds} round(s) × (${o.warmup} s warm-up + ${o.duration} s measured) per contender, contenders interleaved within each round (the four that carry issue 6's bars back to back); the table gives the median over rounds of each figure, and each ratio is the median of that round's ratios (the two contenders measured seconds apart) (${state.loadTool === 'wrk' ? "req/s = wrk's requests ÷ seconds; p50/p99 = wrk's --latency percentiles" : "req/s = autocannon's mean of per-second samples; p50/p99 from every 2xx response time, sub-millisecond"}; proxy CPU µs/req = user + system CPU time of the proxy's processes over the requests it served, warm-up included)
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
