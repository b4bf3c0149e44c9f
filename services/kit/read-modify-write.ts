import { ConflictError, type EventDraft, type Store, type Versioned } from '../../registry/control/store/types.js';
import type { DocByKind, DocKind } from '../../registry/view/types.js';
import { errors } from './errors.js';

/**
 * The events of a change (registry/control/events.ts), from the document before and after it (null:
 * absent). Asked again on every attempt: a retried write's events are those of the document it
 * finally replaced, and they are written with it or not at all.
 */
export type EventsOf<K extends DocKind> = (before: DocByKind[K] | null, after: DocByKind[K] | null) => readonly EventDraft[];

/** The first try plus this many more when another writer got in between our read and our write. */
const RETRIES = 3;

export interface RmwOptions<K extends DocKind> {
  /**
   * A client's precondition (`If-Match`): a stored version other than this is a 412; `*` only
   * asks that it exists. With either, a lost race is a 412 too, never retried on newer data.
   */
  readonly ifVersion?: number | '*' | null;
  /** The next document from the stored one (null: none stored); undefined: nothing to write. Throws to refuse. */
  change(current: Versioned<DocByKind[K]> | null): DocByKind[K] | undefined | Promise<DocByKind[K] | undefined>;
  /** The document as it will be stored (schema checked), or throws the client's error. */
  validate(doc: DocByKind[K]): DocByKind[K];
  /** What a missing document is, before any precondition is looked at (e.g. 404); absent: `change` decides. */
  missing?: () => Error;
  /** What a losing race ends in after every retry. */
  busy?: () => Error;
  /** The events to write with the change, in the same atomic write. */
  events?: EventsOf<K>;
}

/** A write's outcome: the document as stored, and its versions before and after (null: did not exist). */
export interface Written<T> {
  readonly doc: T;
  readonly before: number | null;
  readonly after: number | null;
}

function stale(ifVersion: number | '*' | null | undefined, actual: number): void {
  if (typeof ifVersion === 'number' && ifVersion !== actual) throw errors.stale(actual);
}

/**
 * Read-modify-write with the store's compare-and-set, the one loop every service writes through:
 * read `kind/id`, let `change` build the next document from it, and write it only if the stored
 * version is still the one read. A lost race is tried again on the fresh document, unless the
 * client gave a precondition (then 412). Nothing is written half: a refused change throws.
 */
export async function readModifyWrite<K extends DocKind>(store: Store, kind: K, id: string, opts: RmwOptions<K>): Promise<Written<DocByKind[K]> | null> {
  for (let attempt = 0; attempt <= RETRIES; attempt++) {
    const current = await store.get(kind, id);
    if (current === null && opts.missing) throw opts.missing();
    stale(opts.ifVersion, current?.version ?? 0);
    const changed = await opts.change(current);
    if (changed === undefined) return current === null ? null : { doc: current.doc, before: current.version, after: current.version };
    const next = opts.validate(changed);
    try {
      const events = opts.events?.(current?.doc ?? null, next) ?? [];
      const after = await store.put(kind, next, { ifVersion: current?.version ?? 0, events });
      return { doc: next, before: current?.version ?? null, after };
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      if (opts.ifVersion !== undefined && opts.ifVersion !== null) throw errors.stale(err.actual);
    }
  }
  throw (opts.busy ?? errors.busy)();
}

/** Deletes `kind/id` once `check` accepts the stored document (it throws to refuse); same rules as `readModifyWrite`. */
export async function checkedDelete<K extends DocKind>(
  store: Store,
  kind: K,
  id: string,
  opts: Pick<RmwOptions<K>, 'ifVersion' | 'missing' | 'busy' | 'events'> & { check(current: Versioned<DocByKind[K]> | null): void | Promise<void> },
): Promise<Written<DocByKind[K]>> {
  for (let attempt = 0; attempt <= RETRIES; attempt++) {
    const current = await store.get(kind, id);
    if (current === null && opts.missing) throw opts.missing();
    stale(opts.ifVersion, current?.version ?? 0);
    await opts.check(current);
    if (current === null) throw new Error(`${kind} ${id}: check accepted a missing document`);
    try {
      await store.delete(kind, id, { ifVersion: current.version, events: opts.events?.(current.doc, null) ?? [] });
      return { doc: current.doc, before: current.version, after: null };
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      if (opts.ifVersion !== undefined && opts.ifVersion !== null) throw errors.stale(err.actual);
    }
  }
  throw (opts.busy ?? errors.busy)();
}
