import type { Store } from '../../registry/control/store/types.js';
import type { User, UserConfig } from '../../registry/view/types.js';
import { ok } from '../kit/envelope.js';
import type { Route } from '../kit/server.js';
import { belongsTo, callerOf, errors, tenantOf, userRecord } from './context.js';
import { bodies, checkBody, patterns, queryField, queryInt, type AdminUserConfig } from './schemas.js';
import { checkUserConfig } from './holdings.js';
import { createUser, withGroupsIn } from './users.js';
import { checkGroups, mutate, remove } from './writes.js';

/** Admin config replaces keys/packages; the user's memberships elsewhere are kept as they are. */
function mergeConfig(current: UserConfig | undefined, given: AdminUserConfig): UserConfig {
  const allowed = current?.allowedTenants;
  return { ...given, ...(allowed !== undefined ? { allowedTenants: allowed } : {}) };
}

function byUsername(a: User, b: User): number {
  const x = a.username.toLowerCase();
  const y = b.username.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

/** User administration, scoped to the tenant of the key; every route needs a logged-in caller. */
export function adminUserRoutes(store: Store): Route[] {
  return [
    {
      method: 'GET',
      path: '/admin/user',
      async handler(req) {
        callerOf(req);
        const id = queryField(req.query, 'id', patterns.id);
        const found = await store.get('user', id);
        if (found === null || !belongsTo(found.doc, tenantOf(req).id)) throw errors.userNotFound();
        return ok(userRecord(found.doc));
      },
    },
    {
      method: 'GET',
      path: '/admin/users',
      async handler(req) {
        callerOf(req);
        const start = queryInt(req.query, 'start', 0, 0, Number.MAX_SAFE_INTEGER);
        const limit = queryInt(req.query, 'limit', 100, 1, 1000);
        const tenantId = tenantOf(req).id;
        const users = (await store.list('user'))
          .map((v) => v.doc)
          .filter((u) => belongsTo(u, tenantId))
          .sort(byUsername);
        return ok({ records: users.slice(start, start + limit).map(userRecord), total: users.length });
      },
    },
    {
      method: 'POST',
      path: '/admin/user',
      body: true,
      async handler(req) {
        callerOf(req);
        const body = checkBody(bodies.addUser, req.body);
        const tenant = tenantOf(req);
        await checkGroups(store, tenant.id, body.groups ?? []);
        await checkUserConfig(store, tenant.id, body.config);
        const user = await createUser(store, {
          username: body.username,
          password: body.password,
          firstName: body.firstName,
          lastName: body.lastName,
          email: body.email,
          status: body.status ?? 'active',
          groups: body.groups ?? [],
          tenant: { id: tenant.id, code: tenant.code },
          profile: body.profile,
          config: body.config,
        });
        return ok(userRecord(user));
      },
    },
    {
      method: 'PUT',
      path: '/admin/user',
      body: true,
      async handler(req) {
        callerOf(req);
        const id = queryField(req.query, 'id', patterns.id);
        const body = checkBody(bodies.editUser, req.body);
        const tenantId = tenantOf(req).id;
        if (body.groups !== undefined) await checkGroups(store, tenantId, body.groups);
        await checkUserConfig(store, tenantId, body.config);
        const user = await mutate(store, 'user', id, (u) => {
          // Only the home tenant edits a user's account; a tenant that invited it manages its groups there.
          if (u === null || u.tenant.id !== tenantId) throw errors.userNotFound();
          const next: User = { ...u };
          if (body.firstName !== undefined) next.firstName = body.firstName;
          if (body.lastName !== undefined) next.lastName = body.lastName;
          if (body.email !== undefined) next.email = body.email;
          if (body.status !== undefined) next.status = body.status;
          if (body.profile !== undefined) next.profile = body.profile;
          if (body.config !== undefined) next.config = mergeConfig(u.config, body.config);
          if (body.groups !== undefined) next.groups = [...new Set(body.groups)];
          return next;
        });
        return ok(userRecord(user!));
      },
    },
    {
      method: 'DELETE',
      path: '/admin/user',
      async handler(req) {
        callerOf(req);
        const id = queryField(req.query, 'id', patterns.id);
        const tenantId = tenantOf(req).id;
        await remove(store, 'user', id, (u) => {
          // An invited user's account belongs to its home tenant.
          if (u === null || u.tenant.id !== tenantId) throw errors.userNotFound();
        });
        return ok(true);
      },
    },
    {
      method: 'PUT',
      path: '/admin/user/groups',
      body: true,
      async handler(req) {
        callerOf(req);
        const body = checkBody(bodies.userGroups, req.body);
        const tenantId = tenantOf(req).id;
        await checkGroups(store, tenantId, body.groups);
        const user = await mutate(store, 'user', body.id, (u) => {
          if (u === null || !belongsTo(u, tenantId)) throw errors.userNotFound();
          return withGroupsIn(u, tenantId, body.groups);
        });
        return ok(userRecord(user!));
      },
    },
    {
      method: 'PUT',
      path: '/admin/users/invite',
      body: true,
      async handler(req) {
        callerOf(req);
        const body = checkBody(bodies.invite, req.body);
        if ((body.id === undefined) === (body.username === undefined)) {
          throw errors.badRequest(body.id === undefined ? 'body field "username" is required' : 'body fields "id" and "username" are exclusive');
        }
        const tenant = tenantOf(req);
        let id = body.id;
        if (id === undefined) {
          const found = await store.findUserByUsername(body.username!);
          if (found === null) throw errors.userNotFound();
          id = found.doc.id;
        }
        await checkGroups(store, tenant.id, body.groups);
        const user = await mutate(store, 'user', id, (u) => {
          if (u === null) throw errors.userNotFound();
          if (u.tenant.id === tenant.id) throw errors.alreadyMember();
          const others = (u.config?.allowedTenants ?? []).filter((e) => e.tenant.id !== tenant.id);
          const entry = { tenant: { id: tenant.id, code: tenant.code }, groups: [...new Set(body.groups)] };
          return { ...u, config: { ...u.config, allowedTenants: [...others, entry] } };
        });
        return ok(userRecord(user!));
      },
    },
  ];
}
