import { validateDocument, ValidationError } from '../../registry/control/schema.js';
import { ConflictError, type Store } from '../../registry/control/store/types.js';
import type { DocByKind } from '../../registry/view/types.js';
import { errors, groupId } from './context.js';

type Kind = 'user' | 'group';

/** Read-modify-write: the first try plus this many retries when another writer got there first. */
const RETRIES = 3;

/** The final document must pass the registry schema; a failure is the client's (400), naming the field. */
function validated<K extends Kind>(kind: K, doc: DocByKind[K]): DocByKind[K] {
  try {
    return validateDocument(kind, doc);
  } catch (err) {
    if (err instanceof ValidationError) throw errors.badRequest(err.message);
    throw err;
  }
}

/**
 * Reads `kind/id`, lets `change` build the next document from it (`undefined`: nothing to write),
 * and writes it only if nobody wrote in between; retried on ConflictError, then 412.
 * `change` throws the ServiceError when the document is missing or must not change.
 */
export async function mutate<K extends Kind>(
  store: Store,
  kind: K,
  id: string,
  change: (current: DocByKind[K] | null) => DocByKind[K] | undefined | Promise<DocByKind[K] | undefined>,
): Promise<DocByKind[K] | null> {
  for (let attempt = 0; attempt <= RETRIES; attempt++) {
    const current = await store.get(kind, id);
    const next = await change(current ? current.doc : null);
    if (next === undefined) return current ? current.doc : null;
    try {
      await store.put(kind, validated(kind, next), { ifVersion: current ? current.version : 0 });
      return next;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  throw errors.changed();
}

/** Writes a new document; ConflictError means one with this id exists (the store holds it). */
export async function create<K extends Kind>(store: Store, kind: K, doc: DocByKind[K]): Promise<void> {
  await store.put(kind, validated(kind, doc), { ifVersion: 0 });
}

/** Deletes `kind/id` after `check` accepts the current document; retried like `mutate`. */
export async function remove<K extends Kind>(
  store: Store,
  kind: K,
  id: string,
  check: (current: DocByKind[K] | null) => void,
): Promise<DocByKind[K]> {
  for (let attempt = 0; attempt <= RETRIES; attempt++) {
    const current = await store.get(kind, id);
    check(current ? current.doc : null);
    if (!current) throw new Error(`${kind} ${id}: check accepted a missing document`);
    try {
      await store.delete(kind, id, { ifVersion: current.version });
      return current.doc;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  throw errors.changed();
}

/** Every code must name a group of this tenant, else 420. */
export async function checkGroups(store: Store, tenantId: string, codes: readonly string[]): Promise<void> {
  for (const code of new Set(codes)) {
    if ((await store.get('group', groupId(tenantId, code))) === null) throw errors.groupNotFound();
  }
}
