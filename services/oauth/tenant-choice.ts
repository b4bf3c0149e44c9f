import type { Store } from '../../registry/control/store/types.js';
import type { TenantRef, User } from '../../registry/view/types.js';
import { auditId } from '../kit/audit-id.js';
import type { ServiceError } from '../kit/envelope.js';
import { errors } from '../kit/errors.js';

/** The tenant a token is issued for. */
export interface ChosenTenant extends TenantRef {
  readonly name: string;
}

/**
 * The tenant a user named (`tenant`: id or code) among its own: its home tenant or one it was
 * invited to. Only the user's memberships are searched, so a tenant that is not the user's and a
 * tenant that does not exist get the same 403: naming codes teaches nothing. A membership whose
 * tenant document is gone is no tenant either; a locked tenant gets no token through a choice.
 */
export async function chooseTenant(store: Store, user: User, named: string): Promise<ChosenTenant> {
  const memberships = [user.tenant, ...(user.config?.allowedTenants ?? []).map((e) => e.tenant)];
  const ref = memberships.find((m) => m.id === named) ?? memberships.find((m) => m.code === named);
  const doc = ref === undefined ? null : (await store.get('tenant', ref.id))?.doc ?? null;
  if (doc === null) throw errors.tenantForbidden(named);
  if (doc.locked === true) throw errors.tenantLocked(doc.code);
  return { id: doc.id, code: doc.code, name: doc.name };
}

/** Who asked for a token for another tenant than the one it proved itself in, and the answer. */
export interface TenantChoiceAudit {
  action: 'token-exchange' | 'login-tenant-choice';
  user: User;
  /** The tenant the user proved itself in (the subject token's, or the key's at a password login). */
  from: TenantRef;
  /** The tenant asked for, as named (`tenant`), or the key's. */
  to: string;
  /** The tenant of the key the call came with. */
  via: TenantRef;
  ip: string;
  /** Absent: the token was issued. */
  refused?: ServiceError;
  details?: Record<string, unknown>;
}

/**
 * Every crossing of a tenant boundary by a tenant choice is audited (`resource: login`, beside the
 * throttled logins), before the token is sent: an entry that cannot be written fails the call, so
 * no token leaves unrecorded.
 */
export async function auditTenantChoice(store: Store, a: TenantChoiceAudit, now: number): Promise<void> {
  await store.put('audit', {
    id: auditId(now),
    ts: now,
    actor: { userId: a.user.id, username: a.user.username, tenantId: a.from.id, tenantCode: a.from.code },
    action: a.action,
    resource: 'login',
    resourceId: a.user.username.toLowerCase().slice(0, 256),
    before: null,
    after: null,
    details: {
      to: a.to.slice(0, 64),
      via: { id: a.via.id, code: a.via.code },
      ip: a.ip,
      ...(a.refused === undefined ? { outcome: 'issued' } : { outcome: 'refused', code: a.refused.code, message: a.refused.message }),
      ...a.details,
    },
  });
}
