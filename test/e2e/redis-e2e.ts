import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/process.js';

/**
 * Helpers for the Redis end-to-end tests: a private `redis-server` on a free loopback port (never
 * 6379, never the machine's Redis) and `tessera start --workers 1` processes following it.
 */

/** A free loopback port other than Redis's default. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const srv = createServer();
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const port = (srv.address() as AddressInfo).port;
    srv.close();
    await once(srv, 'close');
    if (port !== 6379) return port;
  }
  throw new Error('no free port');
}

function waitForLine(proc: ChildProcess, output: string[], match: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const cleanup = () => {
      clearTimeout(timer);
      proc.stdout!.off('data', onData);
      proc.off('exit', onExit);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what} not ready within ${timeoutMs} ms:\n${output.join('')}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (match(line)) {
          cleanup();
          resolve(line);
          return;
        }
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`${what} exited (${code ?? signal}) before it was ready:\n${output.join('')}`));
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', onExit);
  });
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

export interface RedisServer {
  readonly port: number;
  readonly dir: string;
  /** Everything redis-server printed, every run. */
  readonly output: string[];
  /** `redis://127.0.0.1:<port>/0?prefix=<prefix>` */
  url(prefix: string): string;
  alive(): boolean;
  /** Kills the server (SIGKILL by default: a crash) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and directory (with `persist`, the AOF brings the data back). */
  restart(): Promise<void>;
  /** Kills it and removes its directory. */
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  /** AOF with fsync on every write: the data survives a SIGKILL (production). Default: no persistence. */
  persist?: boolean;
  timeoutMs?: number;
}

/** A private redis-server on a free loopback port and a temp directory. */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-redis-'));
  const output: string[] = [];
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--dir',
    dir,
    ...(opts.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
  ];
  let proc: ChildProcess | null = null;
  const launch = async () => {
    const p = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    p.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
    p.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
    try {
      await waitForLine(p, output, (l) => l.includes('Ready to accept connections'), opts.timeoutMs ?? 10_000, `redis-server :${port}`);
    } catch (err) {
      p.kill('SIGKILL');
      throw err;
    }
  };
  try {
    await launch();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const alive = () => proc !== null && proc.exitCode === null && proc.signalCode === null;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const p = proc;
    if (p === null || !alive()) return;
    const done = exited(p);
    p.kill(signal);
    await done;
  };
  return {
    port,
    dir,
    output,
    url: (prefix) => `redis://127.0.0.1:${port}/0?prefix=${encodeURIComponent(prefix)}`,
    alive,
    kill,
    async restart() {
      if (alive()) throw new Error('redis-server is still running');
      await launch();
    },
    async stop() {
      await kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TesseraOnRedis {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly ports: { gateway: number; maintenance: number; services: Record<string, number> };
  /** stdout and stderr chunks, in arrival order. */
  readonly output: string[];
  alive(): boolean;
  stop(): Promise<void>;
}

/**
 * `node dist/bin/tessera.js start --workers 1` on `store` (a redis:// URL), every port 0, loopback.
 * One worker: a gateway per process, so "gateway A" and "gateway B" are exactly two processes.
 */
export async function startTesseraOnRedis(store: string, env: Record<string, string> = {}, timeoutMs = 20_000): Promise<TesseraOnRedis> {
  const proc = spawn(process.execPath, ['dist/bin/tessera.js', 'start', '--workers', '1'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      TESSERA_PORT: '0',
      TESSERA_MAINTENANCE_PORT: '0',
      TESSERA_HOST: '127.0.0.1',
      TESSERA_EXAMPLE03_PORT: '0',
      TESSERA_OAUTH_PORT: '0',
      TESSERA_URAC_PORT: '0',
      TESSERA_REGISTRY_PORT: '0',
      TESSERA_STORE: store,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  proc.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  proc.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  let readyLine: string;
  try {
    readyLine = await waitForLine(
      proc,
      output,
      (l) => {
        try {
          return (JSON.parse(l) as { msg?: unknown }).msg === 'ready';
        } catch {
          return false;
        }
      },
      timeoutMs,
      'tessera',
    );
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  const ready = JSON.parse(readyLine) as Record<string, unknown>;
  const ports = {
    gateway: ready['gateway'] as number,
    maintenance: ready['maintenance'] as number,
    services: ready['services'] as Record<string, number>,
  };
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  return {
    proc,
    url: `http://127.0.0.1:${ports.gateway}`,
    ports,
    output,
    alive,
    async stop() {
      if (!alive()) return;
      const done = exited(proc);
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(timer);
    },
  };
}

/** Status and body text of one GET; the body is always read so the connection is reused. */
export async function hit(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { headers });
  return { status: res.status, text: await res.text() };
}

/** The SOAJS error code of a gateway envelope, or null. */
export function errorCode(text: string): number | null {
  try {
    const body = JSON.parse(text) as { result?: unknown; errors?: { codes?: unknown } };
    const codes = body.errors?.codes;
    return body.result === false && Array.isArray(codes) && typeof codes[0] === 'number' ? codes[0] : null;
  } catch {
    return null;
  }
}

export interface Polled {
  readonly ok: boolean;
  readonly ms: number;
  readonly tries: number;
  readonly last: { status: number; text: string } | null;
}

/**
 * Sends `probe` back to back (no sleeps) until `done` holds, at most `boundMs` and `maxTries`;
 * `ms` is from the call to the answer that satisfied it.
 */
export async function pollUntil(
  probe: () => Promise<{ status: number; text: string }>,
  done: (r: { status: number; text: string }) => boolean,
  boundMs = 3000,
  maxTries = 100_000,
): Promise<Polled> {
  const t0 = performance.now();
  let last: { status: number; text: string } | null = null;
  for (let tries = 1; tries <= maxTries; tries++) {
    last = await probe();
    const ms = performance.now() - t0;
    if (done(last)) return { ok: true, ms, tries, last };
    if (ms > boundMs) return { ok: false, ms, tries, last };
  }
  return { ok: false, ms: performance.now() - t0, tries: maxTries, last };
}

/** Nearest-rank percentile of an ascending-sorted list. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export const round2 = (n: number) => Math.round(n * 100) / 100;

/** The lines of a process's output that report an unhandled rejection (bin/tessera.ts logs one before exiting). */
export function unhandledRejections(output: readonly string[]): string[] {
  return output
    .join('')
    .split('\n')
    .filter((l) => /unhandled rejection/i.test(l));
}
