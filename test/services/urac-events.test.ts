import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { hashPassword } from '../../registry/control/password.js';
import { FileStore } from '../../registry/control/store/file.js';
import type { Tenant, User } from '../../registry/view/types.js';
import { startUrac } from '../../services/urac/index.js';
import { signedInject } from '../helpers/inject.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- parsed JSON answers */

/**
 * URAC's membership writes put `user.added_to_tenant|removed_from_tenant` in the outbox with the
 * user document (issue 17 §2): a user created in a tenant, invited into another, deleted; group
 * changes and failed invitations add nothing.
 */

const SECRET = randomBytes(32);
const app = (appId: string, key: string) => ({ appId, product: 'PROD', package: 'PROD_BASIC', keys: [{ key, extKeys: [] }] });
const TA: Tenant = { id: 'tenantA', code: 'TA', name: 'Tenant A', type: 'product', applications: [app('appTA', 'a'.repeat(32))] };
const TB: Tenant = { id: 'tenantB', code: 'TB', name: 'Tenant B', type: 'product', applications: [app('appTB', 'b'.repeat(32))] };

function inject(tenant: Tenant, caller: User): string {
  return JSON.stringify({
    tenant: { id: tenant.id, code: tenant.code, name: tenant.name, type: tenant.type, locked: false },
    key: { config: {}, iKey: tenant === TA ? 'a'.repeat(32) : 'b'.repeat(32), eKey: `ext-key-of-${tenant.code}` },
    application: { product: 'PROD', package: 'PROD_BASIC', appId: `app${tenant.code}` },
    urac: { _id: caller.id, username: caller.username, firstName: 'F', lastName: 'L', email: caller.email, groups: caller.groups, tenant: caller.tenant },
  });
}

t.test('urac: membership changes are events, written with the user', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-urac-events-'));
  const store = new FileStore(dir, [
    { kind: 'product', doc: { code: 'PROD', name: 'P', packages: [{ code: 'PROD_BASIC', name: 'B', acl: { dev: { urac: { '3': { access: false } } } } }] }, origin: 'test' },
    { kind: 'tenant', doc: TA, origin: 'test' },
    { kind: 'tenant', doc: TB, origin: 'test' },
  ]);
  await store.open();
  const svc = await startUrac({ port: 0, store, injectSecret: SECRET });
  t.teardown(async () => {
    await svc.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const admin = (tenant: Tenant): User => ({
    id: `admin${tenant.code}`.padEnd(24, '0'),
    username: `admin-${tenant.code.toLowerCase()}`,
    passwordHash: 'x',
    firstName: 'A',
    lastName: 'A',
    email: 'a@example.com',
    status: 'active',
    groups: ['owner'],
    tenant: { id: tenant.id, code: tenant.code },
  });
  for (const tenant of [TA, TB]) await store.put('user', { ...admin(tenant), passwordHash: await hashPassword('admin-pw-1') });
  await store.put('group', { id: 'tenantA:staff', code: 'staff', name: 'Staff', tenant: { id: 'tenantA', code: 'TA' }, config: {} });
  await store.put('group', { id: 'tenantB:staff', code: 'staff', name: 'Staff', tenant: { id: 'tenantB', code: 'TB' }, config: {} });

  const call = async (tenant: Tenant, method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${svc.port}${path}`, {
      method,
      headers: { ...signedInject(SECRET, inject(tenant, admin(tenant))), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const events = async () => (await store.readEvents({ limit: 100 })).events.map((e) => [e.type, e.tenantId, e.data['user']]);
  t.same(await events(), [], 'users written straight to the store (as a seed) wrote none');

  const made = await call(TB, 'POST', '/admin/user', { username: 'carol', password: 'carol-pw-123', firstName: 'C', lastName: 'D', email: 'c@example.com', groups: ['staff'] });
  t.equal(made.status, 200, 'B creates carol');
  const carol = { id: made.body.data._id ?? made.body.data.id, username: 'carol' };
  t.equal((await call(TA, 'PUT', '/admin/users/invite', { username: 'carol', groups: ['staff'] })).status, 200, 'A invites carol');
  t.equal((await call(TA, 'PUT', '/admin/users/invite', { username: 'carol', groups: [] })).status, 200, 'A changes her groups by inviting again');
  t.equal((await call(TA, 'PUT', '/admin/user/groups', { id: carol.id, groups: ['staff'] })).status, 200, 'and through /admin/user/groups');
  t.equal((await call(TB, 'PUT', '/admin/users/invite', { username: 'carol', groups: [] })).status, 400, 'B cannot invite its own user');
  t.equal((await call(TB, 'DELETE', `/admin/user?id=${carol.id}`)).status, 200, 'B deletes carol');

  t.same(
    await events(),
    [
      ['user.added_to_tenant', 'tenantB', carol],
      ['user.added_to_tenant', 'tenantA', carol],
      ['user.removed_from_tenant', 'tenantB', carol],
      ['user.removed_from_tenant', 'tenantA', carol],
    ],
    'joined B (home) and A (invited), left both when deleted; group changes and the refused invite wrote nothing',
  );
  const raw = JSON.stringify((await store.readEvents({ limit: 100 })).events);
  t.notOk(/scrypt|password|carol-pw/.test(raw), 'no password material in an event');
});
