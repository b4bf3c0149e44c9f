import { keyEntriesOf, type KeyEntry } from './key-entries.js';
import type { ChangeEvent, Store, Versioned } from '../control/store/types.js';
import type { DocByKind, DocKind, User } from './types.js';

/**
 * A bounded map that forgets entries not used lately: CLOCK ("second chance") over the Map's
 * insertion order. A hit only sets a flag — no Map mutation on the request path — and the bound
 * gives a used entry one more round before it goes.
 */
export class LruCache<K, V> {
  readonly #map = new Map<K, { value: V; used: boolean }>();
  constructor(
    readonly max: number,
    /** Called with what the bound pushes out (not with explicit deletes). */
    readonly onEvict?: (key: K, value: V) => void,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('LruCache max must be a positive integer');
  }

  get(key: K): V | undefined {
    const e = this.#map.get(key);
    if (e === undefined) return undefined;
    e.used = true;
    return e.value;
  }

  set(key: K, value: V): void {
    const e = this.#map.get(key);
    if (e !== undefined) {
      e.value = value;
      e.used = true;
      return;
    }
    this.#map.set(key, { value, used: false });
    // Oldest first: a used one is moved to the back with its flag cleared, the first unused goes.
    // Each pass clears flags, so this ends within size + 1 steps.
    while (this.#map.size > this.max) {
      const [oldKey, old] = this.#map.entries().next().value as [K, { value: V; used: boolean }];
      this.#map.delete(oldKey);
      // The entry just added is never the one to go; a used one gets its second chance.
      if (old.used || oldKey === key) {
        old.used = false;
        this.#map.set(oldKey, old);
        continue;
      }
      this.onEvict?.(oldKey, old.value);
    }
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }

  get size(): number {
    return this.#map.size;
  }
}

/**
 * The store side of a read-through cache: concurrent misses for one id share one store read, and a
 * read that overlapped an invalidation is returned to its callers but not remembered (it may have
 * seen the old document).
 */
class ReadThrough<V> {
  readonly #pending = new Map<string, Promise<V>>();
  #epoch = 0;

  load(id: string, read: () => Promise<V>, remember: (value: V) => void): Promise<V> {
    const running = this.#pending.get(id);
    if (running !== undefined) return running;
    const epoch = this.#epoch;
    const settle = () => {
      // Only this read's own entry: an invalidation may have started a newer one for the id.
      if (this.#pending.get(id) === p) this.#pending.delete(id);
    };
    const p: Promise<V> = read().then(
      (value) => {
        settle();
        if (epoch === this.#epoch) remember(value);
        return value;
      },
      (err: unknown) => {
        settle();
        throw err;
      },
    );
    this.#pending.set(id, p);
    return p;
  }

  /** Reads under way (of `id`, or all) may be stale: they are not remembered. */
  invalidate(id?: string): void {
    this.#epoch++;
    if (id === undefined) this.#pending.clear();
    else this.#pending.delete(id);
  }
}

/**
 * What a cache reads and hears changes from: a store, or (in a gateway) the RegistrySync's
 * `reader`, which passes a resync on only once it has judged the store, and refuses reads while a
 * store reset is held.
 */
export type CacheSource = Pick<Store, 'get' | 'findTenantByKeyHash' | 'onChange'>;

/** A cached user, or the knowledge that there is none (negative caching). */
export type CachedUser = Versioned<User> | null;

/**
 * Documents of one kind read through a bounded LRU filled from the store on first use (one round
 * trip, shared by concurrent misses), with negative entries, evicted by the store's change events:
 * a changed or deleted document is re-read on its next use, on every gateway that hears the event.
 */
export class DocCache<K extends DocKind> {
  readonly #lru: LruCache<string, Versioned<DocByKind[K]> | null>;
  readonly #reads = new ReadThrough<Versioned<DocByKind[K]> | null>();
  readonly #unsubscribe: () => void;

  constructor(
    readonly store: CacheSource,
    readonly kind: K,
    max = 100_000,
  ) {
    this.#lru = new LruCache(max);
    this.#unsubscribe = store.onChange((e) => {
      if (e.kind === kind) this.evict(e.id);
      else if (e.kind === '*') this.clear();
    });
  }

  /** The document from memory, or a promise of it from the store. Rejects when the store fails. */
  lookup(id: string): Versioned<DocByKind[K]> | null | Promise<Versioned<DocByKind[K]> | null> {
    const hit = this.#lru.get(id);
    if (hit !== undefined) return hit;
    return this.#reads.load(
      id,
      () => this.store.get(this.kind, id),
      (v) => this.#lru.set(id, v),
    );
  }

  /** The cached document (null: known missing), or undefined when it is not in memory. Never reads the store. */
  peek(id: string): Versioned<DocByKind[K]> | null | undefined {
    return this.#lru.get(id);
  }

  evict(id: string): void {
    this.#reads.invalidate(id);
    this.#lru.delete(id);
  }

  /** After missed change events (a resync): nothing cached can be trusted. */
  clear(): void {
    this.#reads.invalidate();
    this.#lru.clear();
  }

  get size(): number {
    return this.#lru.size;
  }

  close(): void {
    this.#unsubscribe();
    this.#lru.clear();
  }
}

/** Users by id. */
export class UserCache extends DocCache<'user'> {
  constructor(store: CacheSource, max = 100_000) {
    super(store, 'user', max);
  }
}

/**
 * Ext keys read through a bounded LRU (by SHA-256), filled on first use with one store round trip
 * (`findTenantByKeyHash`), with negative entries. A tenant change evicts that tenant's keys and every
 * negative entry (a new key may be among them); a resync clears all. Memory is bounded by `max`, not
 * by the number of keys in the registry.
 */
export class KeyCache {
  readonly #lru: LruCache<string, KeyEntry | null>;
  readonly #reads = new ReadThrough<KeyEntry | null>();
  /** tenant id -> hashes cached for it (for eviction). */
  readonly #byTenant = new Map<string, Set<string>>();
  readonly #negative = new Set<string>();
  readonly #unsubscribe: () => void;

  constructor(
    readonly store: CacheSource,
    readonly env: string,
    max = 100_000,
  ) {
    // Side indexes follow the LRU's bound: what it forgets, they forget.
    this.#lru = new LruCache(max, (hash, entry) => {
      if (entry === null) this.#negative.delete(hash);
      else {
        const set = this.#byTenant.get(entry.tenant.id);
        set?.delete(hash);
        if (set?.size === 0) this.#byTenant.delete(entry.tenant.id);
      }
    });
    this.#unsubscribe = store.onChange((e: ChangeEvent) => {
      if (e.kind === 'tenant') this.evictTenant(e.id);
      else if (e.kind === '*') this.clear();
    });
  }

  /** A cached answer (entry or null for unknown), or undefined when the store must be asked. */
  get(hash: string): KeyEntry | null | undefined {
    return this.#lru.get(hash);
  }

  /** Reads the key's tenant from the store. Rejects when the store fails: the caller denies (503). */
  load(hash: string): Promise<KeyEntry | null> {
    return this.#reads.load(
      hash,
      async () => {
        const found = await this.store.findTenantByKeyHash(hash);
        return found === null ? null : (keyEntriesOf(found.doc, this.env).get(hash) ?? null);
      },
      (entry) => this.#remember(hash, entry),
    );
  }

  #remember(hash: string, entry: KeyEntry | null): void {
    this.#lru.set(hash, entry);
    if (entry === null) {
      this.#negative.add(hash);
      return;
    }
    let set = this.#byTenant.get(entry.tenant.id);
    if (set === undefined) this.#byTenant.set(entry.tenant.id, (set = new Set()));
    set.add(hash);
  }

  evictTenant(tenantId: string): void {
    // A read under way may be for a new key of this tenant, or a negative one it now makes wrong.
    this.#reads.invalidate();
    for (const h of this.#byTenant.get(tenantId) ?? []) this.#lru.delete(h);
    this.#byTenant.delete(tenantId);
    for (const h of this.#negative) this.#lru.delete(h);
    this.#negative.clear();
  }

  clear(): void {
    this.#reads.invalidate();
    this.#lru.clear();
    this.#byTenant.clear();
    this.#negative.clear();
  }

  get size(): number {
    return this.#lru.size;
  }

  /** Hashes held by the eviction indexes: never more than `size` (what bounds memory). */
  get tracked(): number {
    let n = this.#negative.size;
    for (const set of this.#byTenant.values()) n += set.size;
    return n;
  }

  close(): void {
    this.#unsubscribe();
    this.clear();
  }
}
export type { KeyEntry, TenantEntry } from './key-entries.js';
