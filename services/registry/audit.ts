import { auditId } from '../kit/audit-id.js';
import type { Store } from '../../registry/control/store/types.js';
import type { AuditEntry } from '../../registry/view/types.js';
import { ok } from '../kit/envelope.js';
import type { Route } from '../kit/server.js';
import { errors } from './errors.js';
import { page, route, type Call } from './request.js';

export type AuditAction =
  | 'create'
  | 'replace'
  | 'patch'
  | 'delete'
  | 'create-key'
  | 'create-ext-key'
  | 'rotate-ext-key'
  | 'revoke-ext-key'
  | 'set-key-config'
  | 'activate'
  | 'deactivate'
  | 'report-provisioning';

/** What was changed: `product`, `package`, `tenant`, `application`, `key`, `extKey`, `service`. */
export interface AuditTarget {
  readonly resource: string;
  readonly resourceId: string;
  /** Versions of the stored document holding the resource (the product of a package, the tenant of a key). */
  readonly before: number | null;
  readonly after: number | null;
  /** Where the resource lives and what it is called; never a secret. */
  readonly details?: Record<string, unknown>;
}

export { auditId };

/**
 * Appends the audit entry of a successful write. The change is already stored: if the entry cannot
 * be written, the answer says so (500) instead of the kit's "nothing was changed" (503).
 */
export async function audit(store: Store, call: Call, action: AuditAction, target: AuditTarget): Promise<void> {
  const ts = Date.now();
  const entry: AuditEntry = {
    id: auditId(ts),
    ts,
    actor: { ...call.actor },
    action,
    resource: target.resource,
    resourceId: target.resourceId,
    before: target.before,
    after: target.after,
    ...(target.details ? { details: target.details } : {}),
  };
  try {
    await store.put('audit', entry, { ifVersion: 0 });
  } catch {
    throw errors.auditFailed(target.after);
  }
}

/** `?since=`/`?until=`: ms since epoch or an ISO date. */
function timeQuery(call: Call, field: string): number | null {
  const v = call.req.query.get(field);
  if (v === null || v === '') return null;
  const ms = /^\d{1,15}$/.test(v) ? Number(v) : Date.parse(v);
  if (Number.isNaN(ms)) throw errors.badRequest(`query field "${field}" must be ms since epoch or an ISO date`);
  return ms;
}

export function auditRoutes(store: Store): Route[] {
  return [
    route('GET', '/audit', async (call) => {
      const q = call.req.query;
      const resource = q.get('resource') || null;
      const resourceId = q.get('resourceId') || null;
      const actor = q.get('actor') || null;
      const since = timeQuery(call, 'since');
      const until = timeQuery(call, 'until');
      const entries = (await store.list('audit'))
        .map((v) => v.doc)
        .filter(
          (e) =>
            (resource === null || e.resource === resource) &&
            (resourceId === null || e.resourceId === resourceId) &&
            (actor === null || e.actor.userId === actor || e.actor.username === actor) &&
            (since === null || e.ts >= since) &&
            (until === null || e.ts <= until),
        )
        .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      return ok(page(call.req, entries));
    }),
  ];
}
