import { buildSnapshot, type Snapshot } from './snapshot.js';
import type { ChangeEvent, Store } from '../control/store/types.js';
import type { CacheSource } from './cache.js';
import { SNAPSHOT_KINDS, type RegistryData } from './registry-data.js';
import { judgeLoad, registryHold, RegistryHeldError, type HeldRegistry, type LoadVerdict, type RegistryHold } from './store-reset.js';

/** What the data plane reads: the current snapshot, swapped whole. */
export interface SnapshotHolder {
  current(): Snapshot;
  /** Resolves true once this holder is current with registry `version`, false when `timeoutMs` passed first. */
  catchUp(version: number, timeoutMs: number): Promise<boolean>;
  /** Non-null while a store reset is refused (`store-reset.ts`): the last good registry serves, and the gateway is not ready. */
  hold(): RegistryHold | null;
}

export interface SyncOptions {
  env: string;
  /** Called when a rebuild fails; the last good snapshot keeps serving. */
  onError?: (err: unknown) => void;
  /** Called after each swap (tests, metrics). */
  onSwap?: (snapshot: Snapshot) => void;
  /** ms since the epoch: when a host registration has lapsed. Tests inject a clock. */
  now?: () => number;
  /**
   * What a store reset (it lost the registry this gateway holds) does: `hold` (default) keeps
   * serving the last good registry, not ready, until an operator accepts the store as it is;
   * `accept` takes it at once (every cache dropped) — for a store meant to be thrown away.
   */
  resetPolicy?: 'hold' | 'accept';
  /** A reset refused: called once when the hold begins, however many loads find the store so afterwards. */
  onHold?: (hold: RegistryHold) => void;
  /** The hold ended: an operator accepted the store (`accepted`), or it again holds the registry held (`restored`). */
  onRelease?: (hold: RegistryHold, how: 'accepted' | 'restored', snapshot: Snapshot) => void;
  /** With `resetPolicy: 'accept'`: a reset taken as it is (once per reset). */
  onResetTaken?: (reset: RegistryHold, snapshot: Snapshot) => void;
  /** A resync or a hold whose load failed (the store still away) tries again after this long, ms. */
  retryMs?: number;
}

/** The resync a cache hears once a load has shown the store still holds the registry: drop everything. */
const RESYNC: Omit<ChangeEvent, 'version'> = { kind: '*', id: '', op: 'put' };

/**
 * Follows the store's change feed: a burst of changes is coalesced into one rebuild, which runs off
 * the request path; the new snapshot is swapped in atomically, and a failed build keeps the old one
 * (Kong's "stale router will be used").
 *
 * It is also what the caches hear changes from (`reader`): a change event reaches them as it comes,
 * but a resync (`*`, or a message whose version is not above the last: the store's versions started
 * again) only once a load has been judged (`store-reset.ts`) — a store that came back without the
 * registry must not empty the caches into misses that it would then answer "unknown key". While a
 * reset is held, nothing from the store reaches the caches and their misses are refused.
 */
export class RegistrySync implements SnapshotHolder {
  #snapshot: Snapshot | null = null;
  /** The version and store identity the current snapshot was loaded at: what a load is judged against. */
  #held: HeldRegistry = { version: 0, epoch: null };
  #hold: RegistryHold | null = null;
  /** Registry version this gateway is current with: the snapshot's, or later when only cached kinds changed since. */
  #current = 0;
  /** The newest change to a cached kind (tenant, user, token) seen on the feed. */
  #seenCached = 0;
  /** The highest version a change message carried: messages come in version order within one life of the store. */
  #lastMessage = 0;
  /** A resync waits for a load's verdict; the caches hear nothing meanwhile (the `*` they get then covers it). */
  #resync = false;
  /** Events withheld for a resync: one that comes during a load needs a load of its own before the verdict holds. */
  #withheld = 0;
  #pending = false;
  #building: Promise<void> | null = null;
  #unsubscribe: (() => void) | null = null;
  #expiryTimer: NodeJS.Timeout | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  /** Loads failed in a row (the store away): only the first is reported. */
  #loadFailures = 0;
  readonly #waiters: { version: number; resolve: () => void }[] = [];
  readonly #listeners = new Set<(e: ChangeEvent) => void>();

  /**
   * The store as the caches must read it: change events as this sync passes them on, and reads
   * refused with RegistryHeldError while a reset is held (the key stage answers that 503, code 181).
   */
  readonly reader: CacheSource = {
    get: (kind, id) => (this.#hold ? Promise.reject(new RegistryHeldError(this.#hold)) : this.store.get(kind, id)),
    findTenantByKeyHash: (hash) => (this.#hold ? Promise.reject(new RegistryHeldError(this.#hold)) : this.store.findTenantByKeyHash(hash)),
    onChange: (listener) => {
      this.#listeners.add(listener);
      return () => this.#listeners.delete(listener);
    },
  };

  constructor(
    readonly store: Store,
    readonly options: SyncOptions,
  ) {}

  /**
   * Builds the first snapshot (throws if it cannot) and starts following changes. A gateway that
   * starts has nothing to judge a store by: it takes what the store holds, empty or not.
   */
  async start(): Promise<this> {
    const data = await this.store.load();
    this.#snapshot = buildSnapshot(data, this.options.env, this.#now());
    this.#held = heldOf(data);
    this.#current = this.#lastMessage = this.#snapshot.version;
    this.#armExpiry();
    this.#unsubscribe = this.store.onChange((e) => this.#onChange(e));
    return this;
  }

  current(): Snapshot {
    if (this.#snapshot === null) throw new Error('registry sync not started');
    return this.#snapshot;
  }

  hold(): RegistryHold | null {
    return this.#hold;
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
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
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

  #onChange(e: ChangeEvent): void {
    let suspect = e.kind === '*';
    if (!suspect && this.#hold === null) {
      if (e.version > this.#lastMessage) this.#lastMessage = e.version;
      else suspect = true;
    }
    if (this.#hold !== null) {
      // Nothing a reset store says reaches the caches; a load looks for the operator's accept.
      this.#schedule();
      return;
    }
    if (suspect || this.#resync) {
      this.#resync = true;
      this.#withheld++;
      this.#schedule();
      return;
    }
    this.#emit(e);
    if (SNAPSHOT_KINDS.has(e.kind)) this.#schedule();
    else {
      if (e.version > this.#seenCached) this.#seenCached = e.version;
      if (this.#building === null && e.version > this.#current) {
        // A tenant/user/token change: the caches evicted themselves; the snapshot is still current.
        this.#current = e.version;
        this.#release();
      }
    }
  }

  #emit(e: ChangeEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        // one cache's failure must not starve the others
      }
    }
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
      const withheld = this.#withheld;
      let data: RegistryData | null = null;
      try {
        data = await this.store.load();
        this.#loadFailures = 0;
      } catch (err) {
        // The store is away: said once per outage, not once per retry.
        if (++this.#loadFailures === 1) this.options.onError?.(err);
        // A resync or a hold must end in a verdict; nothing else may come to ask for one.
        if (this.#resync || this.#hold !== null) this.#retry();
      }
      if (data !== null) {
        try {
          this.#apply(data, withheld);
        } catch (err) {
          this.options.onError?.(err);
        }
      }
      this.#release();
    }
    this.#building = null;
  }

  /** Judges one load against the registry held, and swaps it in or refuses it. */
  #apply(data: RegistryData, withheld: number): void {
    const verdict: LoadVerdict = judgeLoad(this.#held, data);
    if (verdict.kind === 'reset' && this.options.resetPolicy !== 'accept') {
      if (this.#hold === null) {
        this.#hold = registryHold(verdict, this.#held, data, this.#now(), 'hold');
        this.#resync = false;
        this.options.onHold?.(this.#hold);
      }
      return;
    }
    const snap = buildSnapshot(data, this.options.env, this.#now());
    const hold = this.#hold;
    const taken = verdict.kind === 'reset' ? registryHold(verdict, this.#held, data, this.#now(), 'accept') : null;
    // Another life of the store: its versions started again, and nothing the caches hold is known to it.
    const newLife = verdict.kind !== 'follow';
    this.#snapshot = snap;
    this.#held = heldOf(data);
    this.#hold = null;
    if (newLife) {
      this.#current = this.#lastMessage = snap.version;
      this.#seenCached = 0;
    } else if (snap.version > this.#current) this.#current = snap.version;
    // A cache-only change seen while building (a login's refresh token, a user edit) is as
    // current as the snapshot: events come in order, so any snapshot change before it is in
    // this build or has asked for another (pending). Else a waiter could sit out its timeout.
    if (!this.#pending && this.#seenCached > this.#current) this.#current = this.#seenCached;
    this.#armExpiry();
    // The caches drop everything when the store is another life, a hold ended (what they missed
    // meanwhile was not passed on), or a resync is judged — unless an event withheld during this
    // load asks for a load of its own first.
    if (newLife || hold !== null || (this.#resync && this.#withheld === withheld)) {
      this.#resync = false;
      this.#emit({ ...RESYNC, version: snap.version });
    }
    this.options.onSwap?.(snap);
    if (hold !== null) this.options.onRelease?.(hold, verdict.kind === 'accepted' ? 'accepted' : 'restored', snap);
    else if (taken !== null) this.options.onResetTaken?.(taken, snap);
  }

  #retry(): void {
    if (this.#retryTimer) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#schedule();
    }, this.options.retryMs ?? 1000);
    this.#retryTimer.unref();
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

function heldOf(data: RegistryData): HeldRegistry {
  return { version: data.version, epoch: data.identity.epoch };
}
