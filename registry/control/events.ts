import { isDeepStrictEqual } from 'node:util';
import type { ActivationState, Tenant, User } from '../view/types.js';
import type { EventDraft } from './store/types.js';

/**
 * Which events a change makes (issue 17 §2): pure functions of a document before and after the
 * write (null: absent), so that every writer passes the same events in the same atomic write as the
 * change itself (`WriteOptions.events`). Payloads name the tenant and the service — never a
 * secret, a key or a key hash.
 *
 *   activation state            before → after                         event
 *   none|inactive → pending|active|failed                               service.activated
 *   pending|active|failed → inactive|none (also the tenant deleted)     service.deactivated
 *   pending|failed → active                                             service.provisioning.finished
 *   anything but failed → failed                                        service.provisioning.failed
 */

type Live = ActivationState | 'none';

const LIVE: ReadonlySet<Live> = new Set(['pending', 'active', 'failed']);

function tenantRef(t: Tenant): { id: string; code: string; name: string } {
  return { id: t.id, code: t.code, name: t.name };
}

/** Top-level fields whose value differs, activations left out (they have events of their own). */
function changedFields(before: Tenant, after: Tenant): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  names.delete('activations');
  return [...names].filter((f) => !isDeepStrictEqual(before[f as keyof Tenant], after[f as keyof Tenant])).sort();
}

function activationEvents(before: Tenant | null, after: Tenant | null): EventDraft[] {
  const t = (after ?? before)!;
  const was = before?.activations ?? {};
  const is = after?.activations ?? {};
  const out: EventDraft[] = [];
  for (const service of [...new Set([...Object.keys(was), ...Object.keys(is)])].sort()) {
    const from: Live = was[service]?.state ?? 'none';
    const to: Live = is[service]?.state ?? 'none';
    if (from === to) continue;
    const message = is[service]?.message;
    const event = (type: string): EventDraft => ({
      type,
      tenantId: t.id,
      service,
      data: { tenant: tenantRef(t), service, state: to === 'none' ? 'inactive' : to, ...(message !== undefined ? { message } : {}) },
    });
    if (!LIVE.has(from) && LIVE.has(to)) out.push(event('service.activated'));
    if (LIVE.has(from) && !LIVE.has(to)) out.push(event('service.deactivated'));
    if ((from === 'pending' || from === 'failed') && to === 'active') out.push(event('service.provisioning.finished'));
    if (to === 'failed') out.push(event('service.provisioning.failed'));
  }
  return out;
}

/**
 * The events of a tenant write: `tenant.created|updated|deleted` (updated only when something
 * other than its activations changed; `data.changed` names the fields) and the `service.*` events
 * of its activations. A created tenant's event comes first, a deleted one's last (after the
 * deactivations its deletion means).
 *
 * @example
 * await store.put('tenant', next, { ifVersion, events: tenantEvents(current, next) });
 */
export function tenantEvents(before: Tenant | null, after: Tenant | null): EventDraft[] {
  if (before === null && after === null) return [];
  const t = (after ?? before)!;
  const services = activationEvents(before, after);
  const event = (type: string, extra: Record<string, unknown> = {}): EventDraft => ({ type, tenantId: t.id, data: { tenant: tenantRef(t), ...extra } });
  if (before === null) return [event('tenant.created'), ...services];
  if (after === null) return [...services, event('tenant.deleted')];
  const changed = changedFields(before, after);
  return changed.length > 0 ? [event('tenant.updated', { changed }), ...services] : services;
}

/** The tenants a user belongs to: its home tenant and its `allowedTenants` entries. */
function memberships(u: User | null): Map<string, { id: string; code: string; home: boolean }> {
  const m = new Map<string, { id: string; code: string; home: boolean }>();
  if (u === null) return m;
  m.set(u.tenant.id, { id: u.tenant.id, code: u.tenant.code, home: true });
  for (const e of u.config?.allowedTenants ?? []) if (!m.has(e.tenant.id)) m.set(e.tenant.id, { id: e.tenant.id, code: e.tenant.code, home: false });
  return m;
}

/**
 * The events of a user write: `user.added_to_tenant` for every tenant it joined (its home tenant
 * when created, one it was invited to), `user.removed_from_tenant` for every one it left (all of
 * them when deleted). Groups changing within a tenant are no membership change.
 */
export function userEvents(before: User | null, after: User | null): EventDraft[] {
  const u = after ?? before;
  if (u === null) return [];
  const was = memberships(before);
  const is = memberships(after);
  const event = (type: string, m: { id: string; code: string; home: boolean }): EventDraft => ({
    type,
    tenantId: m.id,
    data: { tenant: { id: m.id, code: m.code }, user: { id: u.id, username: u.username }, home: m.home },
  });
  const out: EventDraft[] = [];
  for (const [id, m] of was) if (!is.has(id)) out.push(event('user.removed_from_tenant', m));
  for (const [id, m] of is) if (!was.has(id)) out.push(event('user.added_to_tenant', m));
  return out;
}
