import t from 'tap';
import { tenantEvents, userEvents } from '../../registry/control/events.js';
import type { Activation, ActivationState, Tenant, User } from '../../registry/view/types.js';

/** Which events a change makes (registry/control/events.ts): pure functions, every transition. */

function tenant(activations?: Record<string, ActivationState>, extra: Partial<Tenant> = {}): Tenant {
  const acts = activations
    ? Object.fromEntries(Object.entries(activations).map(([s, state]): [string, Activation] => [s, { state, createdAt: 1, updatedAt: 2 }]))
    : undefined;
  return {
    id: 't1',
    code: 'TNT1',
    name: 'Tenant One',
    type: 'client',
    oauth: { secret: 'do-not-leak-this-secret' },
    applications: [{ appId: 'a1', product: 'P', package: 'P_1', keys: [{ key: 'k'.repeat(32), extKeys: [{ keyHash: 'h'.repeat(64), env: 'dev' }] }] }],
    ...(acts ? { activations: acts } : {}),
    ...extra,
  };
}

const types = (events: { type: string; service?: string }[]) => events.map((e) => (e.service ? `${e.type}:${e.service}` : e.type));

t.test('tenant.created|updated|deleted', async (t) => {
  const created = tenantEvents(null, tenant());
  t.same(created, [{ type: 'tenant.created', tenantId: 't1', data: { tenant: { id: 't1', code: 'TNT1', name: 'Tenant One' } } }]);
  t.same(types(tenantEvents(tenant(), tenant({}, { name: 'Renamed' }))), ['tenant.updated']);
  t.same(tenantEvents(tenant(), tenant(undefined, { name: 'Renamed', description: 'd' }))[0]!.data['changed'], ['description', 'name'], 'changed names the fields');
  t.same(tenantEvents(tenant(), tenant(undefined, { oauth: { secret: 'another' } }))[0]!.data['changed'], ['oauth'], 'a secret change says oauth, not the secret');
  t.same(tenantEvents(tenant(), tenant()), [], 'nothing changed: no event');
  t.same(types(tenantEvents(tenant(), null)), ['tenant.deleted']);
  t.same(tenantEvents(null, null), []);
  const all = JSON.stringify([created, tenantEvents(tenant(), null), tenantEvents(tenant(), tenant(undefined, { oauth: { secret: 'another' } }))]);
  t.notOk(/do-not-leak|another|hhhh|kkkk/.test(all), 'no secret, key or key hash in any payload');
});

t.test('activations: every transition', async (t) => {
  const cases: [ActivationState | null, ActivationState | null, string[]][] = [
    [null, 'pending', ['service.activated:s']],
    [null, 'active', ['service.activated:s']],
    [null, 'failed', ['service.activated:s', 'service.provisioning.failed:s']],
    [null, 'inactive', []],
    ['inactive', 'pending', ['service.activated:s']],
    ['inactive', 'active', ['service.activated:s']],
    ['pending', 'active', ['service.provisioning.finished:s']],
    ['failed', 'active', ['service.provisioning.finished:s']],
    ['pending', 'failed', ['service.provisioning.failed:s']],
    ['active', 'failed', ['service.provisioning.failed:s']],
    ['failed', 'failed', []],
    ['active', 'active', []],
    ['active', 'pending', []],
    ['pending', 'inactive', ['service.deactivated:s']],
    ['active', 'inactive', ['service.deactivated:s']],
    ['failed', 'inactive', ['service.deactivated:s']],
    ['active', null, ['service.deactivated:s']],
    ['inactive', null, []],
  ];
  for (const [from, to, want] of cases) {
    const before = tenant(from ? { s: from } : {});
    const after = tenant(to ? { s: to } : {});
    t.same(types(tenantEvents(before, after)), want, `${from ?? 'none'} → ${to ?? 'none'}`);
  }
  const e = tenantEvents(tenant({ s: 'pending' }), { ...tenant(), activations: { s: { state: 'failed', message: 'no quota', createdAt: 1, updatedAt: 3 } } })[0]!;
  t.same(e, { type: 'service.provisioning.failed', tenantId: 't1', service: 's', data: { tenant: { id: 't1', code: 'TNT1', name: 'Tenant One' }, service: 's', state: 'failed', message: 'no quota' } });
  t.same(
    types(tenantEvents(tenant({ b: 'active' }), tenant({ a: 'pending', b: 'inactive' }))),
    ['service.activated:a', 'service.deactivated:b'],
    'an activation change alone is no tenant.updated; services in name order',
  );
  t.same(types(tenantEvents(null, tenant({ a: 'active' }))), ['tenant.created', 'service.activated:a'], 'created first');
  t.same(types(tenantEvents(tenant({ a: 'active', b: 'inactive' }), null)), ['service.deactivated:a', 'tenant.deleted'], 'a deleted tenant deactivates its live services, then goes');
  t.same(types(tenantEvents(tenant({ a: 'active' }), tenant({ a: 'active' }, { name: 'N' }))), ['tenant.updated']);
});

function user(allowed: string[] = []): User {
  return {
    id: 'u1',
    username: 'alice',
    passwordHash: 'scrypt$do-not-leak',
    firstName: 'A',
    lastName: 'L',
    email: 'a@example.com',
    status: 'active',
    groups: ['g'],
    tenant: { id: 'home', code: 'HOME' },
    config: { allowedTenants: allowed.map((id) => ({ tenant: { id, code: id.toUpperCase() }, groups: [] })) },
  };
}

t.test('user.added_to_tenant|removed_from_tenant', async (t) => {
  t.same(userEvents(null, user()), [
    { type: 'user.added_to_tenant', tenantId: 'home', data: { tenant: { id: 'home', code: 'HOME' }, user: { id: 'u1', username: 'alice' }, home: true } },
  ]);
  t.same(types(userEvents(user(), user(['b']))), ['user.added_to_tenant'], 'invited');
  t.equal(userEvents(user(), user(['b']))[0]!.tenantId, 'b');
  t.same(types(userEvents(user(['b', 'c']), user(['c']))), ['user.removed_from_tenant'], 'an invitation taken back');
  t.same(userEvents(user(['b']), { ...user(['b']), groups: ['x'], firstName: 'Z' }), [], 'groups and names are no membership');
  t.same(
    userEvents(user(['b']), null).map((e) => [e.type, e.tenantId]),
    [
      ['user.removed_from_tenant', 'home'],
      ['user.removed_from_tenant', 'b'],
    ],
    'deleted: out of every tenant',
  );
  t.notOk(JSON.stringify(userEvents(null, user(['b']))).includes('scrypt'), 'no password hash');
});
