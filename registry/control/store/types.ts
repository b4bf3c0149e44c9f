import type { RateLease } from '../../view/rate-window.js';
import type { DocByKind, DocKind, HostRegistration, Product, Service, SigningKey, Tenant, User } from '../../view/types.js';
import type { RegistryData } from '../../view/registry-data.js';

export type { RegistryData };

export interface ChangeEvent {
  /** Registry version after the change. */
  readonly version: number;
  /** `*`: changes may have been missed (reconnect, gap seen by the poll); drop every cache. */
  readonly kind: DocKind | 'host' | '*';
  readonly id: string;
  readonly op: 'put' | 'delete';
}

export interface Versioned<T> {
  readonly doc: T;
  /** Version of this document: bumped by every write to it; `If-Match` compares it. */
  readonly version: number;
}

export interface WriteOptions {
  /** Fail with ConflictError unless the stored document has this version (0: must not exist). */
  readonly ifVersion?: number;
  /**
   * Events of this change, put in the outbox in the same atomic write as the document: the change
   * and its events exist together or not at all (a refused write, or a delete of nothing, writes none).
   */
  readonly events?: readonly EventDraft[];
}

/** An event as a writer gives it (registry/control/events.ts makes them): the store adds id, time and cursor. */
export interface EventDraft {
  /** `tenant.created`, `service.activated`, …: lower case, dot-separated. */
  readonly type: string;
  /** The tenant the event is about (the feed filters on it). */
  readonly tenantId?: string;
  /** The service the event is about (the feed filters on it). */
  readonly service?: string;
  /** The payload: plain JSON, never a secret or a key hash. */
  readonly data: Record<string, unknown>;
}

/** An event in the outbox. */
export interface StoredEvent extends EventDraft {
  /** `evt_<time><random>`: unique and time-ordered; the Standard Webhooks `webhook-id`. */
  readonly id: string;
  /** When it was written, ms since epoch (never earlier than the event before it). */
  readonly timestamp: number;
  /** Its place in the outbox, `<ms>-<seq>`: `readEvents({after: cursor})` goes on after it. */
  readonly cursor: string;
}

export interface EventQuery {
  /** Only events after this cursor; absent: from the oldest one kept. */
  readonly after?: string;
  /** Only this type, or a family of them with a trailing `.*` (`service.*`). */
  readonly type?: string;
  readonly service?: string;
  readonly tenantId?: string;
  /** At most this many events (1 to 1000). */
  readonly limit: number;
}

export interface EventPage {
  /** In outbox order. */
  readonly events: StoredEvent[];
  /**
   * Where to go on from (as `after`) when more may follow; null once the end of the outbox was
   * reached: poll again later from the last event's cursor (or the same `after`).
   */
  readonly next: string | null;
}

export class ConflictError extends Error {
  override name = 'ConflictError';
  constructor(
    readonly kind: string,
    readonly id: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`${kind} "${id}" is at version ${actual}, not ${expected}`);
  }
}

/** A unique field (e.g. a username) is taken by another document. */
export class DuplicateError extends Error {
  override name = 'DuplicateError';
  constructor(
    readonly kind: string,
    readonly field: string,
    readonly value: string,
  ) {
    super(`${kind} with ${field} "${value}" already exists`);
  }
}

export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/**
 * A write refused because the store lost the registry this process opened it with (a Redis
 * restarted without persistence): writing would build a new registry the gateways refuse. A kind
 * of unavailability (services answer 503, code 181, and nothing changed) until an operator runs
 * `tessera store accept-reset`; the store then writes again.
 */
export class StoreResetError extends StoreUnavailableError {
  override name = 'StoreResetError';
}

/** The `id` of the resync (`*`) an `acceptReset` announces: what lets a process tell it from a reconnect's. */
export const ACCEPT_RESET_EVENT_ID = 'accept-reset';

/** What `acceptReset` did: the store's new identity and the registry version the acceptance reached. */
export interface AcceptedReset {
  readonly epoch: string;
  readonly version: number;
}

/** Failures counted under one key (a username, a client address): how many, and when the latest was. */
export interface Counter {
  readonly count: number;
  /** ms epoch of the latest failure counted. */
  readonly last: number;
}

/** The id of a document: products by code, services by name, signing keys by kid, the rest by id. */
export function docId<K extends DocKind>(kind: K, doc: DocByKind[K]): string {
  if (kind === 'product') return (doc as Product).code;
  if (kind === 'service') return (doc as Service).name;
  if (kind === 'signingKey') return (doc as SigningKey).kid;
  return (doc as Tenant | User).id;
}

/**
 * One interface, two implementations (file: embedded default; redis: many gateways). Writes are
 * validated by the caller with `validateDocument`, versioned, and announced on the change feed.
 */
export interface Store {
  readonly type: 'file' | 'redis';
  /** Shared by many processes (and so many gateways): what `--workers` and the cluster need. */
  readonly shared: boolean;
  open(): Promise<void>;
  load(): Promise<RegistryData>;
  /** The registry version now: at least that of every write acknowledged before the call. */
  registryVersion(): Promise<number>;
  get<K extends DocKind>(kind: K, id: string): Promise<Versioned<DocByKind[K]> | null>;
  list<K extends DocKind>(kind: K): Promise<Versioned<DocByKind[K]>[]>;
  /** Returns the document's new version. */
  put<K extends DocKind>(kind: K, doc: DocByKind[K], opts?: WriteOptions): Promise<number>;
  /** Returns false when there was nothing to delete. */
  delete(kind: DocKind, id: string, opts?: WriteOptions): Promise<boolean>;
  /** The tenant holding an ext key (by SHA-256), in one round trip. */
  findTenantByKeyHash(keyHash: string): Promise<Versioned<Tenant> | null>;
  /** Usernames are unique across tenants. */
  findUserByUsername(username: string): Promise<Versioned<User> | null>;
  /**
   * The outbox (events written with `WriteOptions.events`), oldest first, from a stable cursor.
   * Events older than the store's retention (`events.retentionDays`) are trimmed as new ones are
   * written. Not documents: not versioned, not in `load()`, not on the change feed.
   */
  readEvents(query: EventQuery): Promise<EventPage>;
  /**
   * Counts one failure under `key` at `at` (ms) and returns the counter: one counted more than
   * `windowMs` after the previous starts again from 1. Shared by every process of the store (login
   * throttling on many gateways); not a document: not versioned, not on the change feed.
   */
  countFailure(key: string, at: number, windowMs: number): Promise<Counter>;
  readCounter(key: string): Promise<Counter | null>;
  clearCounter(key: string): Promise<void>;
  /**
   * Leases up to `want` tokens of the rate limit `key` (`limit` per sliding `windowMs`, anchored at
   * its first use), atomically and on the store's own clock: what all callers are granted together
   * never passes the limit (registry/view/rate-window.ts). Not a document either.
   */
  leaseRate(key: string, limit: number, windowMs: number, want: number): Promise<RateLease>;
  /**
   * The operator's word that the store as it is now is the registry (after it lost data: see
   * registry/view/store-reset.ts): gives the store a new identity marked accepted, bumps the
   * version and announces a resync (`*`), so that every gateway holding the old registry takes this
   * one and every writer that was refused writes again.
   */
  acceptReset(): Promise<AcceptedReset>;
  registerHost(host: HostRegistration): Promise<void>;
  unregisterHost(host: HostRegistration): Promise<void>;
  onChange(listener: (event: ChangeEvent) => void): () => void;
  close(): Promise<void>;
}
