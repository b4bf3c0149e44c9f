import { validateDocument, ValidationError } from '../../registry/control/schema.js';
import { ConflictError, DuplicateError, type Store, type Versioned } from '../../registry/control/store/types.js';
import type { DocByKind } from '../../registry/view/types.js';
import { errors } from './errors.js';
import type { IfMatch } from './request.js';

/** The documents this service administers. */
export type AdminKind = 'product' | 'tenant' | 'service';

const LABEL: Readonly<Record<AdminKind, string>> = { product: 'Product', tenant: 'Tenant', service: 'Service' };

export function describeDoc(kind: AdminKind, id: string): string {
  return `${LABEL[kind]} "${id}"`;
}

/** Read-modify-write without `If-Match`: the first try plus this many when another writer got in between. */
const RETRIES = 3;

/** A write's outcome: the document as stored and its versions (null: did not / no longer exists). */
export interface Written<T> {
  readonly doc: T;
  readonly before: number | null;
  readonly after: number | null;
}

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

function checkIfMatch(ifMatch: IfMatch, version: number): void {
  if (typeof ifMatch === 'number' && ifMatch !== version) throw errors.stale(version);
}

function duplicate(err: DuplicateError): Error {
  return errors.inUse(`${err.message}.`);
}

/** Creates `doc`; 409 when one with its id exists. */
export async function createDoc<K extends AdminKind>(store: Store, kind: K, id: string, doc: DocByKind[K]): Promise<Written<DocByKind[K]>> {
  const valid = validated(kind, doc);
  try {
    const after = await store.put(kind, valid, { ifVersion: 0 });
    return { doc: valid, before: null, after };
  } catch (err) {
    if (err instanceof ConflictError) throw errors.exists(describeDoc(kind, id));
    if (err instanceof DuplicateError) throw duplicate(err);
    throw err;
  }
}

/**
 * Reads `kind/id` (404 if missing), lets `change` build the next document, and writes it only if
 * the stored version is still the one read. With `If-Match`, a different version is a 412 and
 * nothing is written; without, a lost race is retried on the fresh document.
 */
export async function updateDoc<K extends AdminKind>(
  store: Store,
  kind: K,
  id: string,
  ifMatch: IfMatch,
  change: (current: DocByKind[K], version: number) => DocByKind[K] | Promise<DocByKind[K]>,
  /** Asked after `change`: where the changed sub-resource sits. */
  rebase?: () => Rebase | null,
): Promise<Written<DocByKind[K]>> {
  for (let attempt = 0; attempt <= RETRIES; attempt++) {
    const current = await readDoc(store, kind, id);
    checkIfMatch(ifMatch, current.version);
    const changed = await change(current.doc, current.version);
    const next = validated(kind, changed, rebase?.());
    try {
      const after = await store.put(kind, next, { ifVersion: current.version });
      return { doc: next, before: current.version, after };
    } catch (err) {
      if (err instanceof DuplicateError) throw duplicate(err);
      if (!(err instanceof ConflictError)) throw err;
      if (ifMatch !== null) throw errors.stale(err.actual);
    }
  }
  throw errors.busy();
}

/** Deletes `kind/id` after `check` accepts it (it throws to refuse); same precondition rules as `updateDoc`. */
export async function deleteDoc<K extends AdminKind>(
  store: Store,
  kind: K,
  id: string,
  ifMatch: IfMatch,
  check: (current: DocByKind[K]) => void | Promise<void>,
): Promise<Written<DocByKind[K]>> {
  for (let attempt = 0; attempt <= RETRIES; attempt++) {
    const current = await readDoc(store, kind, id);
    checkIfMatch(ifMatch, current.version);
    await check(current.doc);
    try {
      await store.delete(kind, id, { ifVersion: current.version });
      return { doc: current.doc, before: current.version, after: null };
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      if (ifMatch !== null) throw errors.stale(err.actual);
    }
  }
  throw errors.busy();
}

/** `obj` without its undefined members (optional fields a body left out are absent, not undefined). */
export function compact<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
