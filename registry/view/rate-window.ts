/**
 * The sliding window counter (Cloudflare's): a window's count plus the previous window's, weighted
 * by how much of it still overlaps the last `windowMs`. Windows are anchored at a counter's first
 * request, not at the epoch, so a limit starts whole when it is first used. Tokens are leased in
 * batches: a gateway takes `want` at once and spends them locally, so the shared counter (Redis,
 * the same arithmetic in Lua) is touched once per batch, and what is granted never passes the
 * limit, however many gateways share it.
 */
export interface RateWindow {
  anchor: number;
  /** Index of the current window since the anchor. */
  index: number;
  current: number;
  previous: number;
}

export interface RateLease {
  /** Tokens granted now (0 … want). */
  granted: number;
  /** What is left in the window after this grant (for every holder together). */
  remaining: number;
  /** ms until the current window ends. */
  resetMs: number;
  /** When nothing is left: ms until one more token frees. */
  retryMs: number;
}

export function lease(w: RateWindow | undefined, now: number, limit: number, windowMs: number, want: number): { window: RateWindow; lease: RateLease } {
  const window = w ?? { anchor: now, index: 0, current: 0, previous: 0 };
  const index = Math.floor((now - window.anchor) / windowMs);
  if (index === window.index + 1) {
    window.previous = window.current;
    window.current = 0;
  } else if (index > window.index + 1) {
    window.previous = 0;
    window.current = 0;
  }
  if (index > window.index) window.index = index;
  const into = now - window.anchor - window.index * windowMs;
  const used = window.previous * (1 - into / windowMs) + window.current;
  const free = Math.floor(limit - used);
  const granted = Math.max(0, Math.min(want, free));
  window.current += granted;
  const remaining = Math.max(0, free - granted);
  const resetMs = windowMs - into;
  let retryMs = 0;
  if (remaining === 0) {
    // The previous window's share shrinks as time goes on: one token frees when it has lost `need`.
    const need = used + granted - limit + 1;
    retryMs = window.previous > 0 ? Math.min(resetMs, Math.ceil((need / window.previous) * windowMs)) : resetMs;
    retryMs = Math.max(1, retryMs);
  }
  return { window, lease: { granted, remaining, resetMs, retryMs } };
}
