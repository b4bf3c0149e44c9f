import type { EventDraft, Store } from '../../registry/control/store/types.js';
import type { DocByKind } from '../../registry/view/types.js';
import { ok } from '../kit/envelope.js';
import type { Route } from '../kit/server.js';
import { audit } from './audit.js';
import { createDoc, deleteDoc, readDoc, updateDoc, type AdminKind } from './documents.js';
import { byString, docReply, page, patchRoute, route, type Call } from './request.js';

/**
 * One document collection of the admin API (in the manner of APISIX's admin/resource.lua): what
 * differs per resource is said here, once; list, get, create, replace, merge-patch and delete —
 * with paging, ETag and If-Match, the read-modify-write loop and the audit entry — are the same
 * for every resource and written once, in `resourceRoutes`.
 */
export interface ResourceSpec<K extends AdminKind, B = unknown> {
  readonly kind: K;
  /** `/products`; a document is at `/products/:<param>`. */
  readonly collection: string;
  readonly param: string;
  /** Lists are sorted by this. */
  sortKey(doc: DocByKind[K]): string;
  /** What the wire shows of a document (secrets masked, hashes left out); default: the document. */
  view?(doc: DocByKind[K]): unknown;
  /** From a POST: the new document and its id. Throws a 400/409 to refuse. */
  create(call: Call): Promise<{ id: string; doc: DocByKind[K] }> | { id: string; doc: DocByKind[K] };
  /** A PUT's body, checked before the document is read (a bad body is a 400 whatever is stored). */
  replaceBody(call: Call, id: string): B;
  /** From a PUT: the next document, given the stored one. */
  replace(body: B, current: DocByKind[K], id: string): Promise<DocByKind[K]> | DocByKind[K];
  /** What a PATCH may never hold, checked before the document is read. */
  patchPrecheck?(patch: Record<string, unknown>): void;
  /** From a PATCH (a JSON merge patch): the next document, given the stored one. */
  patch(current: DocByKind[K], patch: Record<string, unknown>, id: string): Promise<DocByKind[K]> | DocByKind[K];
  /** Refuses a delete (409 when still in use); default: allowed. */
  beforeDelete?(current: DocByKind[K], id: string): Promise<void> | void;
  /** The events of every write (registry/control/events.ts), put in the outbox with it; default: none. */
  events?(before: DocByKind[K] | null, after: DocByKind[K] | null): readonly EventDraft[];
}

export function resourceRoutes<K extends AdminKind, B>(store: Store, spec: ResourceSpec<K, B>): Route[] {
  const { kind, collection, param } = spec;
  const one = `${collection}/:${param}`;
  const view = spec.view ?? ((doc: DocByKind[K]) => doc);
  const idOf = (call: Call) => call.req.params[param]!;
  const events = spec.events?.bind(spec);
  return [
    route('GET', collection, async (call) => {
      const all = (await store.list(kind)).map((v) => v.doc).sort(byString(spec.sortKey));
      const p = page(call.req, all);
      return ok({ ...p, records: p.records.map(view) });
    }),

    route('GET', one, async (call) => {
      const found = await readDoc(store, kind, idOf(call));
      return docReply(view(found.doc), found.version);
    }),

    route(
      'POST',
      collection,
      async (call) => {
        const { id, doc } = await spec.create(call);
        const w = await createDoc(store, kind, id, doc, events);
        await audit(store, call, 'create', { resource: kind, resourceId: id, before: w.before, after: w.after });
        return docReply(view(w.doc), w.after!, 201);
      },
      true,
    ),

    route(
      'PUT',
      one,
      async (call) => {
        const id = idOf(call);
        const body = spec.replaceBody(call, id);
        const w = await updateDoc(store, kind, id, call.ifMatch, (current) => spec.replace(body, current, id), null, events);
        await audit(store, call, 'replace', { resource: kind, resourceId: id, before: w.before, after: w.after });
        return docReply(view(w.doc), w.after!);
      },
      true,
    ),

    patchRoute(one, async (call, patch) => {
      const id = idOf(call);
      spec.patchPrecheck?.(patch);
      const w = await updateDoc(store, kind, id, call.ifMatch, (current) => spec.patch(current, patch, id), null, events);
      await audit(store, call, 'patch', { resource: kind, resourceId: id, before: w.before, after: w.after });
      return docReply(view(w.doc), w.after!);
    }),

    route('DELETE', one, async (call) => {
      const id = idOf(call);
      const w = await deleteDoc(store, kind, id, call.ifMatch, (current) => spec.beforeDelete?.(current, id), events);
      await audit(store, call, 'delete', { resource: kind, resourceId: id, before: w.before, after: null });
      return ok({ [param]: id, deleted: true });
    }),
  ];
}
