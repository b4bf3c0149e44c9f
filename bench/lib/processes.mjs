// Every child process of the bench: started pinned, tracked, accounted for (CPU ticks), and killed
// at the end, on error and on SIGINT/SIGTERM — nothing outlives the harness.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { BENCH_DIR, HARNESS_PID } from './paths.mjs';
import { log, loud, sh, sleep } from './util.mjs';

export const children = new Map(); // pid -> { name, proc }

/** Chosen once by run.mjs: whether taskset pins, which load tool, the contenders' processes; and whether a signal is stopping the run. */
export const state = { canPin: false, loadTool: 'autocannon', contenderRoots: [], interrupted: false };

/** `taskset -c <cpu> cmd args` when pinning is possible. */
export function pinned(cpu, cmd, args) {
  return state.canPin ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args];
}

/**
 * Spawns a child (pinned to `cpu`), keeps reading its output (a full pipe would block it), and
 * resolves once `ready(line)` returns a value for one of its stdout lines (or once `probe()`
 * resolves, for programs without a ready line). Rejects when it exits first or times out.
 */
export function startProcess({ name, cmd, args, env, cwd = BENCH_DIR, cpu = 0, ready, probe, timeoutMs = 20_000 }) {
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

export const jsonReady = (line) => {
  try {
    const o = JSON.parse(line);
    return o && o.msg === 'ready' ? o : null;
  } catch {
    return null;
  }
};

export async function stopProcess(entry, graceMs = 5_000) {
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

export async function stopAll() {
  await Promise.all([...children.values()].map((e) => stopProcess(e)));
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every live process's children by parent pid (from /proc); empty where there is no /proc. */
function childrenByParent() {
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
    // no /proc
  }
  return byParent;
}

/** Every process below `root` (from /proc). */
export function descendants(root) {
  const byParent = childrenByParent();
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
export const CLK_TCK = Number(sh('getconf', ['CLK_TCK']) ?? 100);

export function machineTicks() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
    return { work: user + nice + system, all: f.slice(0, 8).reduce((a, b) => a + b, 0), steal, irq: irq + softirq, idle: idle + iowait };
  } catch {
    return null;
  }
}

export function treeTicks(pids) {
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
export function ourChildren() {
  return childrenByParent().get(HARNESS_PID) ?? [];
}

export const spawnedPids = [];
let cleaning = null;
export async function cleanup() {
  cleaning ??= (async () => {
    await stopAll();
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  })();
  return cleaning;
}
export const tempDirs = [];
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
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (state.interrupted) return;
    state.interrupted = true;
    loud(`${sig}: stopping every child process`);
    cleanup().finally(() => {
      const left = descendants(HARNESS_PID);
      log(left.length ? `STRAY PROCESSES after ${sig}: ${left.join(', ')}` : `${sig}: every child process has exited`);
      process.exit(130);
    });
  });
}
