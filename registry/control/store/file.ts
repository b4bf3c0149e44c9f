import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateDocument } from '../schema.js';
import type { SeedDoc } from '../seed.js';
import { DOC_KINDS, type DocByKind, type DocKind, type HostRegistration, type Tenant, type User } from '../../view/types.js';
import { registryData } from '../../view/registry-data.js';
import { lease, type RateLease, type RateWindow } from '../../view/rate-window.js';
import { compareCursors, pageEvents, parseCursor, prepareEvents, retentionMs, storedEvent, type PreparedEvent } from './outbox.js';
import {
  ACCEPT_RESET_EVENT_ID,
  ConflictError,
  DuplicateError,
  docId,
  type AcceptedReset,
  type ChangeEvent,
  type Counter,
  type EventPage,
  type EventQuery,
  type RegistryData,
  type Store,
  type StoredEvent,
  type Versioned,
  type WriteOptions,
} from './types.js';

/**
 * Documents by id in plain objects (they are what is saved as JSON): an id may be any name a
 * schema allows — `constructor`, `__proto__` — so reads look at own properties only and writes
 * define the property (an assignment to `__proto__` would set the object's prototype instead).
 */
function entryOf<T>(docs: Record<string, T>, id: string): T | undefined {
  return Object.hasOwn(docs, id) ? docs[id] : undefined;
}

function setEntry<T>(docs: Record<string, T>, id: string, entry: T): void {
  Object.defineProperty(docs, id, { value: entry, enumerable: true, writable: true, configurable: true });
}

interface Entry {
  doc: unknown;
  version: number;
}

interface PersistedState {
  format: 1;
  version: number;
  docs: Record<DocKind, Record<string, Entry>>;
  /** `kind:id` of every seed document ever applied: a deleted one is not brought back by the next start. */
  seeded: string[];
  /** Which registry this is (registry/view/store-reset.ts); files written before it had none and get one at open. */
  epoch?: string;
  acceptedEpoch?: string | null;
  /** The outbox, oldest first: written in the same file write as the change they come with. */
  events?: StoredEvent[];
  /** The newest cursor ever given, kept when trimming empties the outbox: cursors never go back. */
  lastCursor?: string;
}

export interface FileStoreOptions {
  /** Events older than this are trimmed as new ones are written. Default 30. */
  retentionDays?: number;
  /** The clock events are stamped with (tests inject one). */
  now?: () => number;
}

function emptyDocs(): Record<DocKind, Record<string, Entry>> {
  return Object.fromEntries(DOC_KINDS.map((k) => [k, {}])) as Record<DocKind, Record<string, Entry>>;
}

const newEpoch = () => randomBytes(8).toString('hex');

function emptyState(): PersistedState {
  return { format: 1, version: 0, docs: emptyDocs(), seeded: [], epoch: newEpoch(), acceptedEpoch: null };
}

/**
 * The embedded store: one process, state in memory, every change persisted atomically
 * (temp file, fsync, rename, fsync dir) to `<dir>/registry.json` before it is acknowledged.
 */
export class FileStore implements Store {
  readonly type = 'file' as const;
  /** One process: state in memory, persisted to one file. */
  static readonly shared = false;
  readonly shared = FileStore.shared;
  #state: PersistedState = emptyState();
  #hosts: HostRegistration[] = [];
  readonly #counters = new Map<string, Counter>();
  readonly #rates = new Map<string, RateWindow>();
  readonly #listeners = new Set<(e: ChangeEvent) => void>();
  /** Writes are applied one at a time, in call order. */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #retentionMs: number;
  readonly #now: () => number;

  constructor(
    readonly dir: string,
    readonly seed: readonly SeedDoc[] = [],
    opts: FileStoreOptions = {},
  ) {
    this.#retentionMs = retentionMs(opts.retentionDays);
    this.#now = opts.now ?? Date.now;
  }

  get #file(): string {
    return join(this.dir, 'registry.json');
  }

  async open(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    let text: string | null = null;
    try {
      text = readFileSync(this.#file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== null) {
      let state: PersistedState;
      try {
        state = JSON.parse(text) as PersistedState;
      } catch (err) {
        throw new Error(`${this.#file}: not valid JSON (${(err as Error).message}); restore it from a backup or remove it to reseed`);
      }
      if (state.format !== 1) throw new Error(`${this.#file}: unknown format ${String(state.format)}`);
      if (state.events !== undefined && !Array.isArray(state.events)) throw new Error(`${this.#file}: "events" is not a list`);
      if (state.lastCursor !== undefined) parseCursor(state.lastCursor);
      state.docs = { ...emptyDocs(), ...state.docs };
      for (const kind of Object.keys(state.docs) as DocKind[]) {
        for (const [id, entry] of Object.entries(state.docs[kind])) {
          try {
            validateDocument(kind, entry.doc);
          } catch (err) {
            throw new Error(`${this.#file}: ${kind} "${id}": ${(err as Error).message}`);
          }
        }
      }
      this.#state = state;
    }
    let changed = text === null;
    if (this.#state.epoch === undefined) {
      this.#state.epoch = newEpoch();
      changed = true;
    }
    const seeded = new Set(this.#state.seeded);
    for (const s of this.seed) {
      const id = docId(s.kind, s.doc);
      const tag = `${s.kind}:${id}`;
      if (seeded.has(tag)) continue;
      seeded.add(tag);
      changed = true;
      if (entryOf(this.#state.docs[s.kind], id)) continue;
      if (s.kind === 'user' && this.#findUser((s.doc as User).username)) continue;
      this.#state.version += 1;
      setEntry(this.#state.docs[s.kind], id, { doc: structuredClone(s.doc), version: 1 });
    }
    this.#state.seeded = [...seeded];
    if (changed) this.#persist(this.#state);
  }

  async countFailure(key: string, at: number, windowMs: number): Promise<Counter> {
    const prev = this.#counters.get(key);
    const next = { count: prev !== undefined && at - prev.last <= windowMs ? prev.count + 1 : 1, last: at };
    // One process: in memory is shared enough, and a restart forgetting failures is no loss of data.
    this.#counters.set(key, next);
    // Forgotten once their window is over: bounded by the keys failing within one window.
    if (this.#counters.size > 100_000) for (const [k, c] of this.#counters) if (at - c.last > windowMs) this.#counters.delete(k);
    return next;
  }

  async leaseRate(key: string, limit: number, windowMs: number, want: number): Promise<RateLease> {
    const now = Date.now();
    const r = lease(this.#rates.get(key), now, limit, windowMs, want);
    this.#rates.set(key, r.window);
    if (this.#rates.size > 100_000) for (const [k, w] of this.#rates) if (now - w.anchor - (w.index + 2) * windowMs > 0) this.#rates.delete(k);
    return r.lease;
  }

  async readCounter(key: string): Promise<Counter | null> {
    return this.#counters.get(key) ?? null;
  }

  async clearCounter(key: string): Promise<void> {
    this.#counters.delete(key);
  }

  async registryVersion(): Promise<number> {
    return this.#state.version;
  }

  async load(): Promise<RegistryData> {
    const identity = { epoch: this.#state.epoch ?? null, acceptedEpoch: this.#state.acceptedEpoch ?? null };
    return registryData(this.#state.version, identity, [...this.#hosts], (kind) => Object.values(this.#state.docs[kind]).map((e) => e.doc));
  }

  /**
   * One process holds the file, so its data cannot go from under a running gateway; kept for the
   * contract (and a test of the gateway's acceptance), as Redis does it: a new accepted epoch and a resync.
   */
  acceptReset(): Promise<AcceptedReset> {
    return this.#write(() => {
      const epoch = newEpoch();
      const next: PersistedState = { ...this.#state, version: this.#state.version + 1, epoch, acceptedEpoch: epoch };
      this.#commit(next, { version: next.version, kind: '*', id: ACCEPT_RESET_EVENT_ID, op: 'put' });
      return { epoch, version: next.version };
    });
  }

  async findTenantByKeyHash(keyHash: string): Promise<Versioned<Tenant> | null> {
    for (const e of Object.values(this.#state.docs.tenant)) {
      const t = e.doc as Tenant;
      if (t.applications.some((a) => a.keys.some((k) => k.extKeys.some((x) => x.keyHash === keyHash)))) {
        return { doc: structuredClone(t), version: e.version };
      }
    }
    return null;
  }

  async findUserByUsername(username: string): Promise<Versioned<User> | null> {
    const e = this.#findUser(username);
    return e ? { doc: structuredClone(e.doc) as User, version: e.version } : null;
  }

  /** An ext key opens one application: a hash held by another tenant is refused. */
  #checkKeysUnique(tenant: Tenant): void {
    const mine = new Set(tenant.applications.flatMap((a) => a.keys.flatMap((k) => k.extKeys.map((e) => e.keyHash))));
    for (const [id, e] of Object.entries(this.#state.docs.tenant)) {
      if (id === tenant.id) continue;
      for (const app of (e.doc as Tenant).applications) {
        for (const k of app.keys) {
          for (const x of k.extKeys) if (mine.has(x.keyHash)) throw new DuplicateError('tenant', 'ext key', `…${x.hint ?? ''} (held by ${id})`);
        }
      }
    }
  }

  #findUser(username: string): Entry | undefined {
    const wanted = username.toLowerCase();
    return Object.values(this.#state.docs.user).find((e) => (e.doc as User).username.toLowerCase() === wanted);
  }

  async get<K extends DocKind>(kind: K, id: string): Promise<Versioned<DocByKind[K]> | null> {
    const e = entryOf(this.#state.docs[kind], id);
    return e ? { doc: structuredClone(e.doc) as DocByKind[K], version: e.version } : null;
  }

  async list<K extends DocKind>(kind: K): Promise<Versioned<DocByKind[K]>[]> {
    return Object.values(this.#state.docs[kind]).map((e) => ({ doc: structuredClone(e.doc) as DocByKind[K], version: e.version }));
  }

  put<K extends DocKind>(kind: K, doc: DocByKind[K], opts: WriteOptions = {}): Promise<number> {
    return this.#write(() => {
      const events = prepareEvents(opts.events);
      const valid = validateDocument(kind, structuredClone(doc));
      const id = docId(kind, valid);
      const current = entryOf(this.#state.docs[kind], id);
      const actual = current?.version ?? 0;
      if (opts.ifVersion !== undefined && opts.ifVersion !== actual) throw new ConflictError(kind, id, opts.ifVersion, actual);
      if (kind === 'user') {
        const other = this.#findUser((valid as User).username);
        if (other && (other.doc as User).id !== id) throw new DuplicateError('user', 'username', (valid as User).username);
      }
      if (kind === 'tenant') this.#checkKeysUnique(valid as Tenant);
      const next = this.#next(kind, events);
      setEntry(next.docs[kind] as Record<string, Entry>, id, { doc: valid, version: actual + 1 });
      this.#commit(next, { version: next.version, kind, id, op: 'put' });
      return actual + 1;
    });
  }

  delete(kind: DocKind, id: string, opts: WriteOptions = {}): Promise<boolean> {
    return this.#write(() => {
      const events = prepareEvents(opts.events);
      const current = entryOf(this.#state.docs[kind], id);
      const actual = current?.version ?? 0;
      if (opts.ifVersion !== undefined && opts.ifVersion !== actual) throw new ConflictError(kind, id, opts.ifVersion, actual);
      if (!current) return false;
      const next = this.#next(kind, events);
      delete next.docs[kind][id];
      this.#commit(next, { version: next.version, kind, id, op: 'delete' });
      return true;
    });
  }

  registerHost(host: HostRegistration): Promise<void> {
    return this.#write(() => {
      this.#hosts = [...this.#hosts.filter((h) => !sameHost(h, host)), { ...host }];
      this.#state.version += 1;
      this.#emit({ version: this.#state.version, kind: 'host', id: host.service, op: 'put' });
    });
  }

  unregisterHost(host: HostRegistration): Promise<void> {
    return this.#write(() => {
      this.#hosts = this.#hosts.filter((h) => !sameHost(h, host));
      this.#state.version += 1;
      this.#emit({ version: this.#state.version, kind: 'host', id: host.service, op: 'delete' });
    });
  }

  onChange(listener: (e: ChangeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.#queue.catch(() => undefined);
    this.#listeners.clear();
  }

  #write<T>(fn: () => T): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The next state, copied only as deep as a write to `kind` changes it. Stored documents are never
   * shared with callers (writes clone in, reads clone out), so untouched kinds and documents can be
   * shared between the two states; a failed persist leaves the current state as it was. The
   * write's events go into the same state, so one file write persists both.
   */
  #next(kind: DocKind, events: readonly PreparedEvent[]): PersistedState {
    const cur = this.#state;
    const next = { ...cur, version: cur.version + 1, docs: { ...cur.docs, [kind]: { ...cur.docs[kind] } } };
    return events.length === 0 ? next : this.#withEvents(next, events);
  }

  /**
   * Stamps the events as Redis stamps stream entries (ms never goes back, seq counts within one
   * ms) and trims what is older than the retention, counted from the newest event.
   */
  #withEvents(next: PersistedState, events: readonly PreparedEvent[]): PersistedState {
    let [ms, seq] = next.lastCursor === undefined ? [0, 0] : parseCursor(next.lastCursor);
    const now = this.#now();
    const added = events.map((p) => {
      if (now > ms) [ms, seq] = [now, 0];
      else seq += 1;
      return storedEvent(`${ms}-${seq}`, { ...p.draft, json: p.json, nonce: p.nonce });
    });
    const horizon = ms - this.#retentionMs;
    const old = next.events ?? [];
    const firstKept = old.findIndex((e) => e.timestamp >= horizon);
    const kept = firstKept === -1 ? [] : firstKept === 0 ? old : old.slice(firstKept);
    return { ...next, events: [...kept, ...added], lastCursor: `${ms}-${seq}` };
  }

  async readEvents(query: EventQuery): Promise<EventPage> {
    return pageEvents(query, async (after, count) => {
      const all = this.#state.events ?? [];
      let lo = 0;
      if (after !== null) {
        // The first event after `after`: the outbox is in cursor order.
        let hi = all.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (compareCursors(all[mid]!.cursor, after) <= 0) lo = mid + 1;
          else hi = mid;
        }
      }
      return all.slice(lo, lo + count).map((e) => structuredClone(e));
    });
  }

  /** Persist first: a write that cannot reach the disk is not applied (nothing half-written). */
  #commit(next: PersistedState, event: ChangeEvent): void {
    this.#persist(next);
    this.#state = next;
    this.#emit(event);
  }

  #emit(event: ChangeEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch {
        // A listener's failure is its own; the write has happened and others must hear of it.
      }
    }
  }

  #persist(state: PersistedState): void {
    const tmp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(state));
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.#file);
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
}

function sameHost(a: HostRegistration, b: HostRegistration): boolean {
  return a.service === b.service && a.version === b.version && a.host === b.host && a.port === b.port;
}
