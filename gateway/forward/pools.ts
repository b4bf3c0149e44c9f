import { Pool } from 'undici';

export interface PoolOptions {
  connectTimeoutMs: number;
  keepAliveTimeoutMs: number;
  connections: number;
}

/**
 * One keep-alive undici Pool per upstream origin, dispatched to directly: going through an Agent
 * costs a lookup and a second dispatch layer on every request. Pools of origins that left the
 * registry are closed by `prune`.
 */
export class PoolSet {
  readonly #pools = new Map<string, Pool>();
  constructor(readonly options: PoolOptions) {}

  get(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connect: { timeout: this.options.connectTimeoutMs },
        keepAliveTimeout: this.options.keepAliveTimeoutMs,
        connections: this.options.connections,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  /** Closes the pools of origins not in `active` (in-flight requests finish first). */
  prune(active: ReadonlySet<string>): void {
    for (const [origin, pool] of this.#pools) {
      if (active.has(origin)) continue;
      this.#pools.delete(origin);
      void pool.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const all = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(all.map((p) => p.close().catch(() => undefined)));
  }
}
