// One measurement of one contender: a load run (wrk or autocannon, pinned beside the upstream) and
// the CPU accounting around it (the proxy's own CPU per request, what else ran meanwhile).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BENCH_DIR, HARNESS_PID } from './paths.mjs';
import { children, CLK_TCK, descendants, machineTicks, pinned, state, treeTicks } from './processes.mjs';

export async function load(target, o) {
  const ours = descendants(HARNESS_PID);
  const proxy = target.proc ? [target.proc.pid, ...descendants(target.proc.pid)] : [];
  // The other contenders share the proxy's CPU while idle: whatever they run then (timers, V8's
  // idle-time GC after their own load) is taken from the one measured.
  const neighbours = state.contenderRoots.filter((pid) => pid !== target.proc?.pid).flatMap((pid) => [pid, ...descendants(pid)]);
  const n0 = treeTicks(neighbours);
  const m0 = machineTicks();
  const o0 = treeTicks(ours);
  const x0 = treeTicks(proxy);
  const h0 = process.cpuUsage();
  const w0 = Date.now();
  const r = await (state.loadTool === 'wrk' ? loadOnceWrk(target, o) : loadOnce(target, o));
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
export function wrkMs(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text ?? '');
  if (!m) return null;
  return Number(m[1]) * (m[2] === 'us' ? 1e-3 : m[2] === 's' ? 1e3 : 1);
}

export function parseWrk(out) {
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
export function runLoadProcess(name, cmd, args, o, parse) {
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
export function loadOnceWrk(target, o) {
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

export function loadOnce(target, o) {
  const spec = JSON.stringify({ url: target.url, headers: target.headers, connections: o.connections, pipelining: o.pipelining, duration: o.duration, warmup: o.warmup });
  return runLoadProcess('autocannon', process.execPath, [join(BENCH_DIR, 'lib', 'load.mjs'), spec], o, (out) => JSON.parse(out.trim().split('\n').pop()));
}
