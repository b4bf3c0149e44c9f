import type { Redis } from 'ioredis';
import type { ChangeEvent } from './types.js';

export interface RedisFeedOptions {
  /** A connection of its own: a subscribed connection can do nothing else. */
  subscriber: Redis;
  channel: string;
  /** The registry version now (on the command connection). */
  readVersion: () => Promise<number>;
  /** Version poll, ms: pub/sub is at-most-once, the poll bounds how long a missed change can hide. */
  pollMs: number;
  onError?: (err: unknown) => void;
}

/**
 * The Redis change feed: every write PUBLISHes `{version, kind, id, op}` in its own transaction,
 * and every process follows on a dedicated subscriber connection. Pub/sub is at-most-once, so the
 * feed also polls the version: a reconnect, a gap that outlives one poll, or a Redis that went
 * back in time (replaced, restarted empty) becomes one `*` event — drop every cache, resync.
 */
export class RedisFeed {
  readonly #opts: RedisFeedOptions;
  readonly #listeners = new Set<(e: ChangeEvent) => void>();
  /** The newest version known from the messages (or a resync). */
  #lastVersion = 0;
  /** What the previous poll read. */
  #lastPolled = 0;
  /** A version a poll saw ahead of the messages; resync only if the messages still lag at the next poll. */
  #suspect: number | null = null;
  #poll: NodeJS.Timeout | null = null;
  #polling = false;
  #closed = false;

  constructor(opts: RedisFeedOptions) {
    this.#opts = opts;
    opts.subscriber.on('error', (err: unknown) => opts.onError?.(err));
  }

  async open(): Promise<void> {
    const sub = this.#opts.subscriber;
    await sub.connect();
    await sub.subscribe(this.#opts.channel);
    sub.on('message', (_channel: string, message: string) => this.#onMessage(message));
    // A re-subscribe after a reconnect may have missed changes: compare versions now (a resync only
    // if something moved; dropping caches while the command connection is still down would turn
    // served keys into 503s). If Redis is not answering yet, the next poll does it.
    sub.on('ready', () => void this.#afterReconnect());
    this.#lastVersion = await this.#opts.readVersion();
    this.#lastPolled = this.#lastVersion;
    this.#poll = setInterval(() => void this.#pollVersion(), this.#opts.pollMs);
    this.#poll.unref();
  }

  onChange(listener: (e: ChangeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#closed = true;
    if (this.#poll) clearInterval(this.#poll);
    this.#listeners.clear();
    this.#opts.subscriber.disconnect();
  }

  #onMessage(message: string): void {
    let e: ChangeEvent;
    try {
      e = JSON.parse(message) as ChangeEvent;
    } catch {
      return;
    }
    if (e.version > this.#lastVersion) this.#lastVersion = e.version;
    this.#emit(e);
  }

  /**
   * Just resubscribed: whatever moved while we were away was missed, so a different version means
   * resync now. If Redis is not answering yet, the periodic poll does it.
   */
  async #afterReconnect(): Promise<void> {
    try {
      const v = await this.#opts.readVersion();
      this.#lastPolled = v;
      this.#suspect = null;
      if (v !== this.#lastVersion) {
        this.#lastVersion = v;
        this.#emit({ version: v, kind: '*', id: '', op: 'put' });
      }
    } catch {
      // the poll will notice
    }
  }

  async #pollVersion(): Promise<void> {
    if (this.#polling || this.#closed) return;
    this.#polling = true;
    try {
      const v = await this.#opts.readVersion();
      // Less than any version seen — polled or carried by a message — means Redis lost data
      // (replaced, restarted empty). Messages count: a process that seeded the store after opening
      // it has seen its version climb only through them until its first poll.
      const replaced = v < Math.max(this.#lastPolled, this.#lastVersion);
      // A version ahead of the messages may just be a message in flight: only a gap that is still
      // there one poll later means a lost message.
      const lost = this.#suspect !== null && this.#lastVersion < this.#suspect;
      this.#lastPolled = v;
      this.#suspect = v > this.#lastVersion ? v : null;
      if (replaced || lost) {
        this.#lastVersion = v;
        this.#suspect = null;
        this.#emit({ version: v, kind: '*', id: '', op: 'put' });
      }
    } catch {
      // Redis is away: the subscriber's reconnect (or the next poll) resyncs.
    } finally {
      this.#polling = false;
    }
  }

  #emit(e: ChangeEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        // one listener's failure must not starve the others
      }
    }
  }
}
