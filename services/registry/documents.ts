import { validateDocument, ValidationError } from '../../registry/control/schema.js';
import { ConflictError, DuplicateError, type Store, type Versioned } from '../../registry/control/store/types.js';
import { checkedDelete, readModifyWrite, type EventsOf, type Written } from '../kit/read-modify-write.js';
import type { DocByKind } from '../../registry/view/types.js';
import { errors } from './errors.js';
import type { IfMatch } from './request.js';

/** The documents this service administers. */
export type AdminKind = 'product' | 'tenant' | 'service';

const LABEL: Readonly<Record<AdminKind, string>> = { product: 'Product', tenant: 'Tenant', service: 'Service' };

export function describeDoc(kind: AdminKind, id: string): string {
  return `${LABEL[kind]} "${id}"`;
}

export type { EventsOf, Written } from '../kit/read-modify-write.js';

/**
 * Where a sub-resource sits in its document, so validation errors name the field as the request
 * did: `packages[2].acl.dev` → `acl.dev` for a package written through /products/:code/packages.
 */
export interface Rebase {
  readonly label: string;
  readonly prefix: string;
}

/** The final document passes the registry schema, or a 400 naming the field. */
export function validated<K extends AdminKind>(kind: K, doc: DocByKind[K], rebase?: Rebase | null): DocByKind[K] {
  try {
    return validateDocument(kind, doc);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const head = `${kind}: field "${err.field}" `;
    const tail = err.message.startsWith(head) ? err.message.slice(head.length) : err.message;
    let label: string = kind;
    let field = err.field;
    if (rebase && (field === rebase.prefix || field.startsWith(`${rebase.prefix}.`))) {
      label = rebase.label;
      field = field === rebase.prefix ? '(root)' : field.slice(rebase.prefix.length + 1);
    }
    throw errors.badRequest(`${label}: field "${field}" ${tail}`);
  }
}

/** The stored document, or 404. */
export async function readDoc<K extends AdminKind>(store: Store, kind: K, id: string): Promise<Versioned<DocByKind[K]>> {
  const found = await store.get(kind, id);
  if (found === null) throw errors.notFound(describeDoc(kind, id));
  return found;
}

function duplicate(err: DuplicateError): Error {
  return errors.inUse(`${err.message}.`);
}

/** Creates `doc` (with the events `events` gives, in the same write); 409 when one with its id exists. */
export async function createDoc<K extends AdminKind>(store: Store, kind: K, id: string, doc: DocByKind[K], events?: EventsOf<K>): Promise<Written<DocByKind[K]>> {
  const valid = validated(kind, doc);
  try {
    const after = await store.put(kind, valid, { ifVersion: 0, events: events?.(null, valid) ?? [] });
    return { doc: valid, before: null, after };
  } catch (err) {
    if (err instanceof ConflictError) throw errors.exists(describeDoc(kind, id));
    if (err instanceof DuplicateError) throw duplicate(err);
    throw err;
  }
}

/**
 * Reads `kind/id` (404 if missing), lets `change` build the next document, and writes it only if
 * the stored version is still the one read (services/kit/read-modify-write.ts). With `If-Match`,
 * a different version is a 412 and nothing is written; without, a lost race is retried on the
 * fresh document.
 */
export async function updateDoc<K extends AdminKind>(
  store: Store,
  kind: K,
  id: string,
  ifMatch: IfMatch,
  change: (current: DocByKind[K], version: number) => DocByKind[K] | Promise<DocByKind[K]>,
  /** Asked after `change`: where the changed sub-resource sits. */
  rebase?: (() => Rebase | null) | null,
  /** The events of the change, written with it. */
  events?: EventsOf<K>,
): Promise<Written<DocByKind[K]>> {
  try {
    return (await readModifyWrite(store, kind, id, {
      ifVersion: ifMatch,
      events,
      missing: () => errors.notFound(describeDoc(kind, id)),
      change: (current) => change(current!.doc, current!.version),
      validate: (doc) => validated(kind, doc, rebase?.()),
    }))!;
  } catch (err) {
    if (err instanceof DuplicateError) throw duplicate(err);
    throw err;
  }
}

/** Deletes `kind/id` after `check` accepts it (it throws to refuse); same precondition rules as `updateDoc`. */
export async function deleteDoc<K extends AdminKind>(
  store: Store,
  kind: K,
  id: string,
  ifMatch: IfMatch,
  check: (current: DocByKind[K]) => void | Promise<void>,
  events?: EventsOf<K>,
): Promise<Written<DocByKind[K]>> {
  return checkedDelete(store, kind, id, {
    ifVersion: ifMatch,
    events,
    missing: () => errors.notFound(describeDoc(kind, id)),
    check: (current) => check(current!.doc),
  });
}

/** `obj` without its undefined members (optional fields a body left out are absent, not undefined). */
export function compact<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
