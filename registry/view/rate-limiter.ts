import type { RateLease, RateWindow } from './rate-window.js';
import { lease as localLease } from './rate-window.js';
import type { RateRule } from './rate-rules.js';

/** Where counters are shared between gateways (the Redis store): one atomic lease per call, on the server's clock. */
export interface SharedRateCounters {
  leaseRate(key: string, limit: number, windowMs: number, want: number): Promise<RateLease>;
}

/** Largest batch a gateway takes at once: what it may hold unspent when traffic moves elsewhere. */
const MAX_BATCH = 100;

/** One rule's count for one subject (a tenant, an application, …) in this process. */
export class RateCounter {
  /** Leased and not spent yet; usable until `validUntil` (the window they were counted in). */
  tokens = 0;
  validUntil = 0;
  /** What the shared counter had left after our last lease (others may have spent it since). */
  remaining = -1;
  resetAt = 0;
  /** Nothing left: refused locally until then, no round trip. */
  blockedUntil = 0;
  lastUsed = 0;
  pending: Promise<void> | null = null;
  /** The counter when it is counted here alone (no shared store, or the shared one failed). */
  local: RateWindow | undefined = undefined;

  constructor(
    readonly rule: RateRule,
    readonly key: string,
  ) {}

  /** Tokens to ask for: a tenth of what is left, so N gateways near the limit hold little each. */
  want(): number {
    const left = this.remaining < 0 ? this.rule.limit : this.remaining;
    return Math.max(1, Math.min(MAX_BATCH, Math.floor(left / 10)));
  }
}

export interface RateLimiterOptions {
  /** ms since the epoch; tests inject a clock (for local counting; a shared store uses its own time). */
  now?: () => number;
  /** The shared store failed, or is back: called once per change, not per request. */
  onSharedState?: (up: boolean, err?: unknown) => void;
  /** Counters kept per rule in this process (subjects beyond are counted afresh). */
  maxCountersPerRule?: number;
}

/**
 * Rate limits with a local fast path. A request spends a token this process already holds — no
 * I/O, synchronous; only an empty counter leases a batch from the shared store (one round trip,
 * coalesced for every request waiting on that counter), and a counter with nothing left refuses
 * locally until a token frees. Without a shared store (the embedded file store, one process) the
 * same window is counted here. While the shared store fails each gateway counts on its own:
 * the limit is then enforced per gateway (so up to N× across N gateways), never lifted.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, Map<string, RateCounter>>();
  readonly #now: () => number;
  readonly #maxPerRule: number;
  #sharedUp = true;
  #sweep: NodeJS.Timeout;
  allowed = 0;
  denied = 0;
  leases = 0;

  constructor(
    readonly shared: SharedRateCounters | null,
    readonly options: RateLimiterOptions = {},
  ) {
    this.#now = options.now ?? Date.now;
    this.#maxPerRule = options.maxCountersPerRule ?? 100_000;
    this.#sweep = setInterval(() => this.sweep(), 10_000);
    this.#sweep.unref();
  }

  now(): number {
    return this.#now();
  }

  counter(rule: RateRule, subject: string): RateCounter {
    let bucket = this.#buckets.get(rule.id);
    if (bucket === undefined) this.#buckets.set(rule.id, (bucket = new Map()));
    let c = bucket.get(subject);
    if (c === undefined) {
      // Bounded whatever the subjects: past the cap the oldest counter goes. With a shared store
      // it lives on there (its next lease reads it back); counted locally, it starts afresh.
      if (bucket.size >= this.#maxPerRule) bucket.delete(bucket.keys().next().value!);
      bucket.set(subject, (c = new RateCounter(rule, `${rule.id}|${subject}`)));
    }
    return c;
  }

  /** Spends one token: true/false at once when this process can tell, else once a lease is in. */
  take(c: RateCounter, now: number): boolean | Promise<boolean> {
    c.lastUsed = now;
    if (c.tokens > 0 && now < c.validUntil) {
      c.tokens--;
      this.allowed++;
      return true;
    }
    if (now < c.blockedUntil) {
      this.denied++;
      return false;
    }
    if (this.shared === null) {
      this.#apply(c, this.#leaseLocally(c, now), now);
      return this.take(c, now);
    }
    c.pending ??= this.#leaseShared(c);
    return c.pending.then(() => this.take(c, this.#now()));
  }

  /** Returns a token `take` spent (the request was refused by another limit). */
  giveBack(c: RateCounter, now: number): void {
    if (now < c.validUntil) {
      c.tokens++;
      this.allowed--;
    }
  }

  #leaseLocally(c: RateCounter, now: number): RateLease {
    const r = localLease(c.local, now, c.rule.limit, c.rule.windowMs, c.want());
    c.local = r.window;
    return r.lease;
  }

  async #leaseShared(c: RateCounter): Promise<void> {
    let l: RateLease;
    try {
      l = await this.shared!.leaseRate(c.key, c.rule.limit, c.rule.windowMs, c.want());
      if (!this.#sharedUp) {
        this.#sharedUp = true;
        this.options.onSharedState?.(true);
      }
    } catch (err) {
      if (this.#sharedUp) {
        this.#sharedUp = false;
        this.options.onSharedState?.(false, err);
      }
      l = this.#leaseLocally(c, this.#now());
    } finally {
      c.pending = null;
    }
    this.leases++;
    this.#apply(c, l, this.#now());
  }

  #apply(c: RateCounter, l: RateLease, now: number): void {
    c.tokens = l.granted;
    c.validUntil = now + l.resetMs;
    c.resetAt = now + l.resetMs;
    c.remaining = l.remaining;
    c.blockedUntil = l.granted === 0 ? now + l.retryMs : 0;
  }

  /** Counters unused for two of their windows are dropped: memory follows the active subjects. */
  sweep(now = this.#now()): void {
    for (const [id, bucket] of this.#buckets) {
      for (const [subject, c] of bucket) if (c.pending === null && now - c.lastUsed > 2 * c.rule.windowMs) bucket.delete(subject);
      if (bucket.size === 0) this.#buckets.delete(id);
    }
  }

  get counters(): number {
    let n = 0;
    for (const b of this.#buckets.values()) n += b.size;
    return n;
  }

  close(): void {
    clearInterval(this.#sweep);
  }
}
