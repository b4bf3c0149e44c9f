import { validateDocument, ValidationError } from '../../registry/control/schema.js';
import { userEvents } from '../../registry/control/events.js';
import type { Store } from '../../registry/control/store/types.js';
import { checkedDelete, readModifyWrite, type EventsOf } from '../kit/read-modify-write.js';
import type { DocByKind } from '../../registry/view/types.js';
import { errors, groupId } from './context.js';

type Kind = 'user' | 'group';

/** A user's memberships are tenants' business: joining or leaving one goes to the outbox with the write. */
function eventsOf<K extends Kind>(kind: K): EventsOf<K> | undefined {
  return kind === 'user' ? (userEvents as unknown as EventsOf<K>) : undefined;
}

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
 * and writes it only if nobody wrote in between (services/kit/read-modify-write.ts); 412 once the
 * retries are spent. `change` throws the ServiceError when the document is missing or must not change.
 */
export async function mutate<K extends Kind>(
  store: Store,
  kind: K,
  id: string,
  change: (current: DocByKind[K] | null) => DocByKind[K] | undefined | Promise<DocByKind[K] | undefined>,
): Promise<DocByKind[K] | null> {
  const written = await readModifyWrite(store, kind, id, {
    change: (current) => change(current ? current.doc : null),
    validate: (doc) => validated(kind, doc),
    busy: errors.changed,
    events: eventsOf(kind),
  });
  return written?.doc ?? null;
}

/** Writes a new document; ConflictError means one with this id exists (the store holds it). */
export async function create<K extends Kind>(store: Store, kind: K, doc: DocByKind[K]): Promise<void> {
  const valid = validated(kind, doc);
  await store.put(kind, valid, { ifVersion: 0, events: eventsOf(kind)?.(null, valid) ?? [] });
}

/** Deletes `kind/id` after `check` accepts the current document; retried like `mutate`. */
export async function remove<K extends Kind>(store: Store, kind: K, id: string, check: (current: DocByKind[K] | null) => void): Promise<DocByKind[K]> {
  return (await checkedDelete(store, kind, id, { check: (current) => check(current ? current.doc : null), busy: errors.changed, events: eventsOf(kind) })).doc;
}

/** Every code must name a group of this tenant, else 420. */
export async function checkGroups(store: Store, tenantId: string, codes: readonly string[]): Promise<void> {
  for (const code of new Set(codes)) {
    if ((await store.get('group', groupId(tenantId, code))) === null) throw errors.groupNotFound();
  }
}
