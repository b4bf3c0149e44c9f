import { randomBytes } from 'node:crypto';
import { hashPassword } from '../../registry/control/password.js';
import { ConflictError, DuplicateError, type Store } from '../../registry/control/store/types.js';
import type { TenantRef, User, UserConfig } from '../../registry/view/types.js';
import { errors } from './context.js';
import { create } from './writes.js';

export interface NewUser {
  username: string;
  password: string;
  firstName: string;
  lastName: string;
  email: string;
  status: User['status'];
  groups: string[];
  tenant: TenantRef;
  profile?: Record<string, unknown> | undefined;
  config?: UserConfig | undefined;
}

/** Attempts at a fresh random id (a clash of 96 random bits is not expected, but is not fatal). */
const ID_ATTEMPTS = 3;

/**
 * Creates a user homed in `input.tenant`; a taken username (any tenant, any case) is 402 and
 * nothing is overwritten: the store refuses a second record with the same username.
 */
export async function createUser(store: Store, input: NewUser): Promise<User> {
  if ((await store.findUserByUsername(input.username)) !== null) throw errors.userExists();
  const passwordHash = await hashPassword(input.password);
  for (let attempt = 0; attempt < ID_ATTEMPTS; attempt++) {
    const user: User = {
      id: randomBytes(12).toString('hex'),
      username: input.username,
      passwordHash,
      firstName: input.firstName,
      lastName: input.lastName,
      email: input.email,
      status: input.status,
      groups: [...new Set(input.groups)],
      tenant: { id: input.tenant.id, code: input.tenant.code },
      profile: input.profile ?? {},
      config: input.config ?? {},
      ts: Date.now(),
    };
    try {
      await create(store, 'user', user);
      return user;
    } catch (err) {
      if (err instanceof DuplicateError) throw errors.userExists();
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  throw errors.changed();
}

/** The user's groups in `tenantId`: home groups, or those of its `allowedTenants` entry. */
export function groupsIn(user: User, tenantId: string): string[] {
  if (user.tenant.id === tenantId) return user.groups;
  return user.config?.allowedTenants?.find((e) => e.tenant.id === tenantId)?.groups ?? [];
}

/** `user` with its groups in `tenantId` replaced (home groups or the allowedTenants entry). */
export function withGroupsIn(user: User, tenantId: string, groups: string[]): User {
  const unique = [...new Set(groups)];
  if (user.tenant.id === tenantId) return { ...user, groups: unique };
  const allowed = (user.config?.allowedTenants ?? []).map((e) => (e.tenant.id === tenantId ? { tenant: e.tenant, groups: unique } : e));
  return { ...user, config: { ...user.config, allowedTenants: allowed } };
}
