import type { Store, Versioned } from './store/types.js';
import type { User } from './types.js';

/** A bounded map that forgets the least recently used entry first (Map keeps insertion order). */
export class LruCache<K, V> {
  readonly #map = new Map<K, V>();
  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('LruCache max must be a positive integer');
  }

  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.max) this.#map.delete(this.#map.keys().next().value as K);
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

/** A cached user, or the knowledge that there is none (negative caching). */
export type CachedUser = Versioned<User> | null;

/**
 * Users read through a bounded LRU filled from the store on first use (one round trip, shared by
 * concurrent misses), with negative entries, evicted by the store's change events: a changed or
 * deleted user is re-read on its next request, on every gateway that hears the event.
 */
export class UserCache {
  readonly #lru: LruCache<string, CachedUser>;
  readonly #pending = new Map<string, Promise<CachedUser>>();
  /** Bumped by every eviction: a read that started before one may be stale and is not cached. */
  #epoch = 0;
  readonly #unsubscribe: () => void;

  constructor(
    readonly store: Store,
    max = 100_000,
  ) {
    this.#lru = new LruCache(max);
    this.#unsubscribe = store.onChange((e) => {
      if (e.kind === 'user') this.evict(e.id);
    });
  }

  /** The user from memory, or a promise of it from the store. Rejects when the store fails. */
  lookup(id: string): CachedUser | Promise<CachedUser> {
    const hit = this.#lru.get(id);
    if (hit !== undefined) return hit;
    let p = this.#pending.get(id);
    if (p === undefined) {
      const epoch = this.#epoch;
      p = this.store.get('user', id).then(
        (v) => {
          this.#pending.delete(id);
          if (epoch === this.#epoch) this.#lru.set(id, v);
          return v;
        },
        (err: unknown) => {
          this.#pending.delete(id);
          throw err;
        },
      );
      this.#pending.set(id, p);
    }
    return p;
  }

  evict(id: string): void {
    this.#epoch++;
    this.#lru.delete(id);
    this.#pending.delete(id);
  }

  get size(): number {
    return this.#lru.size;
  }

  close(): void {
    this.#unsubscribe();
    this.#lru.clear();
  }
}
