import { buildSnapshot, type Snapshot } from './snapshot.js';
import type { Store } from '../control/store/types.js';
import { SNAPSHOT_KINDS } from './registry-data.js';

/** What the data plane reads: the current snapshot, swapped whole. */
export interface SnapshotHolder {
  current(): Snapshot;
  /** Resolves true once this holder is current with registry `version`, false when `timeoutMs` passed first. */
  catchUp(version: number, timeoutMs: number): Promise<boolean>;
}

export interface SyncOptions {
  env: string;
  /** Called when a rebuild fails; the last good snapshot keeps serving. */
  onError?: (err: unknown) => void;
  /** Called after each swap (tests, metrics). */
  onSwap?: (snapshot: Snapshot) => void;
  /** ms since the epoch: when a host registration has lapsed. Tests inject a clock. */
  now?: () => number;
}

/**
 * Follows the store's change feed: a burst of changes is coalesced into one rebuild, which runs off
 * the request path; the new snapshot is swapped in atomically, and a failed build keeps the old one
 * (Kong's "stale router will be used").
 */
export class RegistrySync implements SnapshotHolder {
  #snapshot: Snapshot | null = null;
  /** Registry version this gateway is current with: the snapshot's, or later when only cached kinds changed since. */
  #current = 0;
  /** The newest change to a cached kind (tenant, user, token) seen on the feed. */
  #seenCached = 0;
  #pending = false;
  #building: Promise<void> | null = null;
  #unsubscribe: (() => void) | null = null;
  #expiryTimer: NodeJS.Timeout | null = null;
  readonly #waiters: { version: number; resolve: () => void }[] = [];

  constructor(
    readonly store: Store,
    readonly options: SyncOptions,
  ) {}

  /** Builds the first snapshot (throws if it cannot) and starts following changes. */
  async start(): Promise<this> {
    this.#snapshot = buildSnapshot(await this.store.load(), this.options.env, this.#now());
    this.#current = this.#snapshot.version;
    this.#armExpiry();
    this.#unsubscribe = this.store.onChange((e) => {
      if (SNAPSHOT_KINDS.has(e.kind)) this.#schedule();
      else if (e.version > this.#seenCached) this.#seenCached = e.version;
      if (!SNAPSHOT_KINDS.has(e.kind) && this.#building === null && e.version > this.#current) {
        // A tenant/user/token change: the caches evicted themselves; the snapshot is still current.
        this.#current = e.version;
        this.#release();
      }
    });
    return this;
  }

  current(): Snapshot {
    if (this.#snapshot === null) throw new Error('registry sync not started');
    return this.#snapshot;
  }

  /** Resolves once a snapshot at or past `version` is current. */
  waitFor(version: number): Promise<void> {
    if (this.#snapshot && this.#current >= version) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ version, resolve }));
  }

  catchUp(version: number, timeoutMs: number): Promise<boolean> {
    if (this.#snapshot && this.#current >= version) return Promise.resolve(true);
    // Not a reload of our own: the change feed delivers changes in order, and the caches evict on
    // them — a snapshot loaded ahead of the messages would release us before a key or user cache
    // had dropped what changed. A lost message is caught by the store's version poll.
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i !== -1) this.#waiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      timer.unref();
      const waiter = {
        version,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = null;
  }

  /**
   * Rebuilds when a host registration has lapsed by the clock (what the expiry timer calls; a test
   * that moves its clock past an expiry calls it instead of waiting for the timer).
   */
  expire(): Promise<void> {
    const at = this.#snapshot?.nextExpiry ?? Number.POSITIVE_INFINITY;
    if (at <= this.#now()) this.#schedule();
    else this.#armExpiry();
    return this.#building ?? Promise.resolve();
  }

  #now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** A host registration that lapses changes routing without any write: rebuild when it does. */
  #armExpiry(): void {
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = null;
    const at = this.#snapshot?.nextExpiry ?? Number.POSITIVE_INFINITY;
    if (!Number.isFinite(at)) return;
    this.#expiryTimer = setTimeout(() => void this.expire(), Math.max(0, at - this.#now()) + 5);
    this.#expiryTimer.unref();
  }

  #schedule(): void {
    this.#pending = true;
    if (this.#building) return;
    // setImmediate: every change event of the current tick (one admin call) lands in one rebuild.
    this.#building = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#rebuild());
  }

  async #rebuild(): Promise<void> {
    while (this.#pending) {
      this.#pending = false;
      try {
        const snap = buildSnapshot(await this.store.load(), this.options.env, this.#now());
        if (this.#snapshot === null || snap.version >= this.#snapshot.version) {
          this.#snapshot = snap;
          if (snap.version > this.#current) this.#current = snap.version;
          // A cache-only change seen while building (a login's refresh token, a user edit) is as
          // current as the snapshot: events come in order, so any snapshot change before it is in
          // this build or has asked for another (pending). Else a waiter could sit out its timeout.
          if (!this.#pending && this.#seenCached > this.#current) this.#current = this.#seenCached;
          this.#armExpiry();
          this.options.onSwap?.(snap);
        }
      } catch (err) {
        this.options.onError?.(err);
      }
      this.#release();
    }
    this.#building = null;
  }

  #release(): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]!;
      if (w.version <= this.#current) {
        this.#waiters.splice(i, 1);
        w.resolve();
      }
    }
  }
}
