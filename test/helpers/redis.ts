import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A private `redis-server` for tests: its own free loopback port (never 6379, never the machine's
 * Redis), its own temp directory, no persistence, run as a child process (not daemonized).
 */
export interface TestRedis {
  readonly port: number;
  /** `redis://127.0.0.1:<port>/0`; append `?prefix=<uniquePrefix()>` for a store. */
  readonly url: string;
  readonly dir: string;
  /** What redis-server printed, every run (for failure messages). */
  readonly output: string[];
  /** Stops the server (SIGTERM, then SIGKILL) and removes its directory. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL: a crash. Waits for the process to be gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (empty unless started with `persist`). */
  restart(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

/** A free loopback port other than Redis's default (listen on 0, close, reuse the number). */
async function freePort(): Promise<number> {
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

/** One `PING` over a raw socket: true when the server answers `+PONG`. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 500);
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (c: Buffer) => {
      buf += c.toString();
      // A server with a password answers NOAUTH: it is up all the same.
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG') || buf.startsWith('-NOAUTH'));
    });
    sock.once('error', () => done(false));
    sock.once('close', () => done(false));
  });
}

function gone(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

function exited(proc: ChildProcess): Promise<void> {
  if (gone(proc)) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

/** Starts redis-server on `port`, resolves once it answers PING; rejects (process killed) otherwise. */
async function launch(port: number, dir: string, output: string[], persist: boolean, password?: string): Promise<ChildProcess> {
  const args = [
    ...(password !== undefined ? ['--requirepass', password] : []),
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--dir',
    dir,
    // AOF with fsync on every write: the data survives a SIGKILL, as in production.
    ...(persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
  ];
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  proc.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  let spawnError: Error | null = null;
  proc.once('error', (err) => {
    spawnError = err;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (spawnError !== null) throw new Error(`redis-server could not be started: ${(spawnError as Error).message}`);
    if (gone(proc)) throw new Error(`redis-server :${port} exited (${proc.exitCode ?? proc.signalCode}) before it was ready:\n${output.join('')}`);
    if (await ping(port)) return proc;
    await sleep(50);
  }
  proc.kill('SIGKILL');
  await exited(proc);
  throw new Error(`redis-server :${port} not ready within ${READY_TIMEOUT_MS} ms:\n${output.join('')}`);
}

export interface TestRedisOptions {
  /** Keep data across a kill/restart (AOF, fsync always). Default: nothing persisted. */
  persist?: boolean;
  /** `requirepass`: clients must AUTH (the URL then carries it: `redis://:<password>@…`). */
  password?: string;
}

/** A private redis-server on a free port; call `stop()` in `t.teardown`. */
export async function startRedis(opts: TestRedisOptions = {}): Promise<TestRedis> {
  const persist = opts.persist ?? false;
  const dir = mkdtempSync(join(tmpdir(), 'tessera-redis-'));
  const output: string[] = [];
  let proc: ChildProcess | null = null;
  let port = 0;
  // Never leave a redis-server behind, even when the test process dies without its teardown.
  const onExit = () => {
    if (proc && !gone(proc)) proc.kill('SIGKILL');
  };
  process.on('exit', onExit);

  // The port may be taken between probing and binding: try a few.
  let lastError: unknown = null;
  for (let attempt = 0; attempt < 3 && proc === null; attempt++) {
    port = await freePort();
    try {
      proc = await launch(port, dir, output, persist, opts.password);
    } catch (err) {
      lastError = err;
    }
  }
  if (proc === null) {
    process.off('exit', onExit);
    rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const p = proc;
    if (p === null || gone(p)) return;
    const done = exited(p);
    p.kill(signal);
    await done;
  };
  let stopped = false;

  return {
    port,
    url: opts.password !== undefined ? `redis://:${encodeURIComponent(opts.password)}@127.0.0.1:${port}/0` : `redis://127.0.0.1:${port}/0`,
    dir,
    output,
    kill: () => kill('SIGKILL'),
    async restart() {
      if (stopped) throw new Error('redis-server was stopped');
      await kill('SIGKILL');
      proc = await launch(port, dir, output, persist, opts.password);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const p = proc;
      if (p !== null && !gone(p)) {
        const done = exited(p);
        p.kill('SIGTERM');
        const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
        await done;
        clearTimeout(timer);
      }
      process.off('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A key prefix of its own (`t<random>:`), so tests sharing a server never see each other's keys. */
export function uniquePrefix(): string {
  return `t${randomBytes(6).toString('hex')}:`;
}
