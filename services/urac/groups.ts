import { ConflictError, type Store } from '../../registry/control/store/types.js';
import type { Group, User } from '../../registry/view/types.js';
import { ok } from '../kit/envelope.js';
import type { Route } from '../kit/server.js';
import { callerOf, errors, groupId, groupRecord, tenantOf } from './context.js';
import { checkAllowedPackages } from './holdings.js';
import { bodies, checkBody, patterns, queryField } from './schemas.js';
import { create, mutate, remove } from './writes.js';

/** `user` without group `code` in `tenantId` (home groups and the allowedTenants entry), or undefined if it had none. */
function withoutGroup(user: User, tenantId: string, code: string): User | undefined {
  let changed = false;
  let next = user;
  if (user.tenant.id === tenantId && user.groups.includes(code)) {
    next = { ...next, groups: user.groups.filter((g) => g !== code) };
    changed = true;
  }
  const allowed = user.config?.allowedTenants;
  if (allowed?.some((e) => e.tenant.id === tenantId && e.groups.includes(code))) {
    const entries = allowed.map((e) => (e.tenant.id === tenantId ? { tenant: e.tenant, groups: e.groups.filter((g) => g !== code) } : e));
    next = { ...next, config: { ...user.config, allowedTenants: entries } };
    changed = true;
  }
  return changed ? next : undefined;
}

/** Group administration, scoped to the tenant of the key; every route needs a logged-in caller. */
export function groupRoutes(store: Store): Route[] {
  return [
    {
      method: 'GET',
      path: '/admin/groups',
      async handler(req) {
        callerOf(req);
        const tenantId = tenantOf(req).id;
        const groups = (await store.list('group'))
          .map((v) => v.doc)
          .filter((g) => g.tenant.id === tenantId)
          .sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
        return ok(groups.map(groupRecord));
      },
    },
    {
      method: 'GET',
      path: '/admin/group',
      async handler(req) {
        callerOf(req);
        const code = queryField(req.query, 'code', patterns.code);
        const found = await store.get('group', groupId(tenantOf(req).id, code));
        if (found === null) throw errors.groupNotFound();
        return ok(groupRecord(found.doc));
      },
    },
    {
      method: 'POST',
      path: '/admin/group',
      body: true,
      async handler(req) {
        callerOf(req);
        const body = checkBody(bodies.addGroup, req.body);
        const tenant = tenantOf(req);
        await checkAllowedPackages(store, tenant.id, body.config?.allowedPackages);
        const group: Group = {
          id: groupId(tenant.id, body.code),
          code: body.code,
          name: body.name,
          ...(body.description !== undefined ? { description: body.description } : {}),
          tenant: { id: tenant.id, code: tenant.code },
          config: { allowedPackages: body.config?.allowedPackages ?? {} },
        };
        try {
          await create(store, 'group', group);
        } catch (err) {
          if (err instanceof ConflictError) throw errors.groupExists();
          throw err;
        }
        return ok(groupRecord(group));
      },
    },
    {
      method: 'PUT',
      path: '/admin/group',
      body: true,
      async handler(req) {
        callerOf(req);
        const code = queryField(req.query, 'code', patterns.code);
        const body = checkBody(bodies.editGroup, req.body);
        await checkAllowedPackages(store, tenantOf(req).id, body.config?.allowedPackages);
        const group = await mutate(store, 'group', groupId(tenantOf(req).id, code), (g) => {
          if (g === null) throw errors.groupNotFound();
          const next: Group = { ...g };
          if (body.name !== undefined) next.name = body.name;
          if (body.description !== undefined) next.description = body.description;
          if (body.config !== undefined) next.config = { allowedPackages: body.config.allowedPackages ?? {} };
          return next;
        });
        return ok(groupRecord(group!));
      },
    },
    {
      method: 'DELETE',
      path: '/admin/group',
      async handler(req) {
        callerOf(req);
        const code = queryField(req.query, 'code', patterns.code);
        const tenantId = tenantOf(req).id;
        await remove(store, 'group', groupId(tenantId, code), (g) => {
          if (g === null) throw errors.groupNotFound();
        });
        // Then nobody of this tenant keeps the code: home users' groups and invitations to this tenant.
        for (const { doc } of await store.list('user')) {
          if (withoutGroup(doc, tenantId, code) === undefined) continue;
          await mutate(store, 'user', doc.id, (u) => (u === null ? undefined : withoutGroup(u, tenantId, code)));
        }
        return ok(true);
      },
    },
  ];
}
