import { startTesseraProcess, type TesseraProcess } from '../helpers/process.js';

/**
 * Helpers for the Redis end-to-end tests (the Redis server itself is test/helpers/redis.ts).
 */

/**
 * `tessera start --workers 1` on `store` (a redis:// URL), every port 0, loopback. One worker: a
 * gateway per process, so "gateway A" and "gateway B" are exactly two processes.
 */
export function startTesseraOnRedis(store: string, env: Record<string, string> = {}, timeoutMs = 20_000): Promise<TesseraProcess> {
  return startTesseraProcess({ TESSERA_STORE: store, ...env }, timeoutMs, ['--workers', '1']);
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
