import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/...). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface TesseraProcess {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly ports: { gateway: number; maintenance: number; services: Record<string, number> };
  readonly dataDir: string;
  readonly output: string[];
  alive(): boolean;
  /** Signals the process (SIGKILL after 5 s), waits for it, removes its data dir; the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `node dist/bin/tessera.js start` the way `npm start` does (demo data, embedded store), on
 * free ports and a temp data dir, and waits for its `ready` log line.
 */
export async function startTesseraProcess(
  env: Record<string, string> = {},
  timeoutMs = 15_000,
  /** More arguments to `start`, e.g. `['--workers', '1']`. */
  args: readonly string[] = [],
): Promise<TesseraProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-e2e-'));
  const proc = spawn(process.execPath, ['dist/bin/tessera.js', 'start', ...args], {
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
      TESSERA_STORE: `file:${dataDir}`,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (alive()) {
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
    return proc.exitCode;
  };
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tessera did not become ready:\n${output.join('')}`)), timeoutMs);
    let buffered = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      output.push(chunk.toString());
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const obj = JSON.parse(line) as Record<string, unknown>;
          if (obj['msg'] === 'ready') {
            clearTimeout(timer);
            resolve(obj);
          }
        } catch {
          // not a log line
        }
      }
    });
    proc.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tessera exited with ${code}:\n${output.join('')}`));
    });
  }).catch(async (err: unknown) => {
    // Never leave a process that did not come up behind.
    await stop('SIGKILL');
    throw err;
  });
  const ports = {
    gateway: ready['gateway'] as number,
    maintenance: ready['maintenance'] as number,
    services: ready['services'] as Record<string, number>,
  };
  return {
    proc,
    url: `http://127.0.0.1:${ports.gateway}`,
    ports,
    dataDir,
    output,
    alive,
    stop,
  };
}

/** `node dist/bin/tessera.js <args>` with only `env` (and PATH): its exit code and output. */
export function runCli(env: Record<string, string>, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['dist/bin/tessera.js', ...args], { cwd: REPO_ROOT, env: { PATH: process.env['PATH'] ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
