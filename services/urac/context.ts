import type { Group, TenantRef, User } from '../../registry/view/types.js';
import type { SoajsContext } from '../kit/inject.js';
import type { ServiceRequest } from '../kit/server.js';

/** URAC answers from the services' one error table (URAC:`config.js` codes). */
export { errors } from '../kit/errors.js';
import { errors } from '../kit/errors.js';

/** The tenant of the key the client used. The kit has already refused calls without a context (142). */
export function tenantOf(req: ServiceRequest): TenantRef & { name: string } {
  const soajs = req.soajs as SoajsContext;
  return { id: soajs.tenant.id, code: soajs.tenant.code, name: soajs.tenant.name };
}

/** The logged-in caller, or 401. */
export function callerOf(req: ServiceRequest): NonNullable<SoajsContext['urac']> {
  const urac = req.soajs?.urac;
  if (!urac) throw errors.notLoggedIn();
  return urac;
}

/** Home tenant, or an `allowedTenants` entry for it. */
export function belongsTo(user: User, tenantId: string): boolean {
  return user.tenant.id === tenantId || (user.config?.allowedTenants ?? []).some((e) => e.tenant.id === tenantId);
}

/** What a user record looks like on the wire: never the password hash. */
export interface UserRecord {
  _id: string;
  id: string;
  username: string;
  firstName: string;
  lastName: string;
  email: string;
  status: User['status'];
  groups: string[];
  tenant: TenantRef;
  profile: Record<string, unknown>;
  config: NonNullable<User['config']>;
  ts: number;
}

export function userRecord(u: User): UserRecord {
  return {
    _id: u.id,
    id: u.id,
    username: u.username,
    firstName: u.firstName,
    lastName: u.lastName,
    email: u.email,
    status: u.status,
    groups: [...u.groups],
    tenant: { id: u.tenant.id, code: u.tenant.code },
    profile: u.profile ?? {},
    config: u.config ?? {},
    ts: u.ts ?? 0,
  };
}

export interface GroupRecord {
  _id: string;
  id: string;
  code: string;
  name: string;
  description?: string;
  tenant: TenantRef;
  config: { allowedPackages: Record<string, string[]> };
}

export function groupRecord(g: Group): GroupRecord {
  return {
    _id: g.id,
    id: g.id,
    code: g.code,
    name: g.name,
    ...(g.description !== undefined ? { description: g.description } : {}),
    tenant: { id: g.tenant.id, code: g.tenant.code },
    config: { allowedPackages: g.config?.allowedPackages ?? {} },
  };
}

export function groupId(tenantId: string, code: string): string {
  return `${tenantId}:${code}`;
}
