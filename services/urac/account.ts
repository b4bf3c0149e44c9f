import { hashPassword, verifyPassword } from '../../registry/control/password.js';
import type { Store } from '../../registry/control/store/types.js';
import { ok } from '../kit/envelope.js';
import type { Route } from '../kit/server.js';
import { belongsTo, callerOf, errors, tenantOf, userRecord } from './context.js';
import { bodies, checkBody, patterns, queryField } from './schemas.js';
import { createUser } from './users.js';
import { mutate } from './writes.js';

/** Self-service: join, look-ups, the caller's own account. */
export function accountRoutes(store: Store): Route[] {
  async function loadCaller(id: string) {
    const found = await store.get('user', id);
    if (found === null) throw errors.userNotFound();
    return found.doc;
  }

  return [
    {
      method: 'GET',
      path: '/account/getUser',
      async handler(req) {
        const username = queryField(req.query, 'username', patterns.username);
        // Only the user or an owner of the key's tenant learns anything, and everyone else gets the
        // answer an unknown username gets — without even a look-up, so its timing says nothing either.
        const caller = req.soajs?.urac ?? null;
        const self = caller !== null && caller.username.toLowerCase() === username.toLowerCase();
        if (!self && !(caller?.groups.includes('owner') ?? false)) throw errors.userNotFound();
        const found = await store.findUserByUsername(username);
        if (found === null || !belongsTo(found.doc, tenantOf(req).id)) throw errors.userNotFound();
        return ok(userRecord(found.doc));
      },
    },
    {
      method: 'GET',
      path: '/user/me',
      async handler(req) {
        return ok(userRecord(await loadCaller(callerOf(req)._id)));
      },
    },
    {
      method: 'GET',
      path: '/user/tenants',
      async handler(req) {
        const user = await loadCaller(callerOf(req)._id);
        const current = tenantOf(req).id;
        const memberships = [
          { tenant: user.tenant, groups: user.groups, home: true },
          ...(user.config?.allowedTenants ?? []).map((e) => ({ tenant: e.tenant, groups: e.groups, home: false })),
        ];
        // One entry per tenant, the first wins as at the gateway (registry/view/user-acl.ts groupsIn).
        const seen = new Set<string>();
        const unique = memberships.filter((m) => !seen.has(m.tenant.id) && seen.add(m.tenant.id));
        const tenants = await Promise.all(
          unique.map(async (m) => ({
            id: m.tenant.id,
            code: m.tenant.code,
            /** null when the tenant document no longer exists. */
            name: (await store.get('tenant', m.tenant.id))?.doc.name ?? null,
            groups: [...m.groups],
            home: m.home,
            /** The tenant of this call's key, which is the caller's token's (the gateway checks it, 146). */
            current: m.tenant.id === current,
          })),
        );
        return ok(tenants);
      },
    },
    {
      method: 'POST',
      path: '/join',
      body: true,
      async handler(req) {
        const body = checkBody(bodies.join, req.body);
        const tenant = tenantOf(req);
        const user = await createUser(store, {
          ...body,
          status: 'active',
          groups: [],
          tenant: { id: tenant.id, code: tenant.code },
        });
        return ok(userRecord(user));
      },
    },
    {
      method: 'PUT',
      path: '/account/password',
      body: true,
      async handler(req) {
        const caller = callerOf(req);
        const body = checkBody(bodies.password, req.body);
        if (body.password !== body.confirmation) throw errors.passwordMismatch();
        let hash: string | null = null;
        await mutate(store, 'user', caller._id, async (user) => {
          if (user === null) throw errors.userNotFound();
          if (!(await verifyPassword(body.oldPassword, user.passwordHash))) throw errors.wrongPassword();
          hash ??= await hashPassword(body.password);
          return { ...user, passwordHash: hash };
        });
        return ok(true);
      },
    },
  ];
}
