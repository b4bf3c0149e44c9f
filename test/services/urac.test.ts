import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { hashPassword, verifyPassword } from '../../registry/control/password.js';
import { FileStore } from '../../registry/control/store/file.js';
import type { Versioned } from '../../registry/control/store/types.js';
import type { DocByKind, DocKind, Group, Product, Tenant, User } from '../../registry/view/types.js';
import { startUrac } from '../../services/urac/index.js';
import { signedInject } from '../helpers/inject.js';
import { randomBytes } from 'node:crypto';

const SECRET = randomBytes(32);

/** What the tenants hold: user- and group-level grants written through URAC may name only this. */
const PROD: Product = {
  code: 'PROD',
  name: 'Product',
  packages: [
    { code: 'PROD_BASIC', name: 'Basic', acl: { dev: { urac: { '3': { access: false } } } } },
    { code: 'PROD_PLUS', name: 'Plus', acl: { dev: { urac: { '3': { access: false } } } } },
    { code: 'PROD_OTHER', name: 'Held by B only', acl: { dev: { urac: { '3': { access: false } }, registry: { '1': { access: false } } } } },
  ],
};
const app = (appId: string, pkg: string, key: string) => ({ appId, product: 'PROD', package: pkg, keys: [{ key, extKeys: [] }] });
const TA: Tenant = {
  id: 'tenantA',
  code: 'TA',
  name: 'Tenant A',
  type: 'product',
  applications: [app('appTA', 'PROD_BASIC', 'a'.repeat(32)), app('appTA2', 'PROD_PLUS', 'c'.repeat(32))],
};
const TB: Tenant = { id: 'tenantB', code: 'TB', name: 'Tenant B', type: 'product', applications: [app('appTB', 'PROD_OTHER', 'b'.repeat(32))] };

const RECORD_KEYS = ['_id', 'config', 'email', 'firstName', 'groups', 'id', 'lastName', 'profile', 'status', 'tenant', 'ts', 'username'];

/** What a tap test offers that the helpers use. */
interface Asserts {
  notMatch(found: unknown, pattern: RegExp, message: string): boolean;
  teardown(fn: () => unknown): void;
}

/**
 * A FileStore where another writer gets in between the service's read of a user and its write:
 * each of the next `contend` user reads is followed by a real write to that user.
 */
class ContendedStore extends FileStore {
  contend = 0;

  override async get<K extends DocKind>(kind: K, id: string): Promise<Versioned<DocByKind[K]> | null> {
    const found = await super.get(kind, id);
    if (kind === 'user' && found !== null && this.contend > 0) {
      this.contend -= 1;
      const user = found.doc as User;
      await super.put('user', { ...user, ts: (user.ts ?? 0) + 1 });
    }
    return found;
  }
}

interface Ctx {
  store: ContendedStore;
  url: string;
  maintenanceUrl: string;
}

async function setup(t: Asserts): Promise<Ctx> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-urac-'));
  const store = new ContendedStore(dir, [
    { kind: 'product', doc: PROD, origin: 'test' },
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
  return { store, url: `http://127.0.0.1:${svc.port}`, maintenanceUrl: `http://127.0.0.1:${svc.maintenancePort}` };
}

let idCounter = 0;

/** Writes a user straight to the store (as seeding would). */
async function seedUser(store: FileStore, tenant: Tenant, username: string, extra: Partial<User> = {}): Promise<User> {
  idCounter += 1;
  const user: User = {
    id: `${'0'.repeat(20)}${String(idCounter).padStart(4, '0')}`,
    username,
    passwordHash: await hashPassword(`${username}-pw`),
    firstName: `First ${username}`,
    lastName: `Last ${username}`,
    email: `${username}@example.com`,
    status: 'active',
    groups: [],
    tenant: { id: tenant.id, code: tenant.code },
    profile: {},
    config: {},
    ts: 1,
    ...extra,
  };
  await store.put('user', user, { ifVersion: 0 });
  return user;
}

async function seedGroup(store: FileStore, tenant: Tenant, code: string): Promise<Group> {
  const group: Group = { id: `${tenant.id}:${code}`, code, name: `Group ${code}`, tenant: { id: tenant.id, code: tenant.code }, config: {} };
  await store.put('group', group, { ifVersion: 0 });
  return group;
}

/** The `soajsinjectobj` the gateway sends for a key of `tenant`, with `caller` logged in (or not). */
function inject(tenant: Tenant, caller?: User): string {
  return JSON.stringify({
    tenant: { id: tenant.id, code: tenant.code, name: tenant.name, type: tenant.type, locked: false },
    key: { config: {}, iKey: tenant === TA ? 'a'.repeat(32) : 'b'.repeat(32), eKey: `ext-key-of-${tenant.code}` },
    application: { product: 'PROD', package: 'PROD_BASIC', appId: `app${tenant.code}` },
    device: 'tap',
    geo: { ip: '127.0.0.1' },
    ...(caller
      ? {
          urac: {
            _id: caller.id,
            username: caller.username,
            firstName: encodeURIComponent(caller.firstName),
            lastName: encodeURIComponent(caller.lastName),
            email: caller.email,
            groups: caller.groups,
            tenant: caller.tenant,
          },
        }
      : {}),
  });
}

interface Reply {
  status: number;
  body: { result: boolean; data?: any; errors?: { codes: number[]; details: { code: number; message: string }[] } };
}

interface CallOpts {
  /** Tenant of the key; omitted: no soajsinjectobj at all. */
  tenant?: Tenant;
  caller?: User;
  body?: unknown;
}

/** Calls the service; every answer is checked for password material. */
async function call(t: Asserts, ctx: Ctx, method: string, path: string, opts: CallOpts = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (opts.tenant) Object.assign(headers, signedInject(SECRET, inject(opts.tenant, opts.caller)));
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${ctx.url}${path}`, {
    method,
    headers,
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  t.notMatch(text, /"passwordHash"\s*:|scrypt\$|-pw"|secret/, `${method} ${path}: no password material in the answer`);
  return { status: res.status, body: JSON.parse(text) as Reply['body'] };
}

function soajsError(code: number, message: string) {
  return { result: false, errors: { codes: [code], details: [{ code, message }] } };
}

/** The single error message of a failed reply. */
function messageOf(r: Reply): string {
  return r.body.errors?.details[0]?.message ?? '(no error)';
}

async function stored(store: FileStore, id: string): Promise<User | null> {
  return (await store.get('user', id))?.doc ?? null;
}

t.test('calls that did not come through the gateway: 142, nothing written', async (t) => {
  const ctx = await setup(t);
  const join = await call(t, ctx, 'POST', '/join', {
    body: { username: 'nobody', password: 'secret1', firstName: 'No', lastName: 'Body', email: 'no@example.com' },
  });
  t.equal(join.status, 500);
  t.equal(join.body.errors?.codes[0], 142);
  t.equal(await ctx.store.findUserByUsername('nobody'), null);
  const me = await call(t, ctx, 'GET', '/user/me');
  t.equal(me.body.errors?.codes[0], 142);
  const hb = await fetch(`${ctx.maintenanceUrl}/heartbeat`);
  t.equal(((await hb.json()) as { service: { service: string } }).service.service, 'urac');
});

t.test('POST /join', async (t) => {
  const ctx = await setup(t);
  const joinBody = { username: 'alice', password: 'secret1', firstName: 'Alice', lastName: 'Liddell', email: 'alice@example.com' };

  t.test('creates an active user in the key tenant', async (t) => {
    const r = await call(t, ctx, 'POST', '/join', { tenant: TA, body: joinBody });
    t.equal(r.status, 200);
    t.equal(r.body.result, true);
    const rec = r.body.data;
    t.same(Object.keys(rec).sort(), RECORD_KEYS);
    t.match(rec.id, /^[0-9a-f]{24}$/);
    t.equal(rec._id, rec.id);
    t.same(
      { username: rec.username, firstName: rec.firstName, lastName: rec.lastName, email: rec.email, status: rec.status },
      { username: 'alice', firstName: 'Alice', lastName: 'Liddell', email: 'alice@example.com', status: 'active' },
    );
    t.same(rec.groups, []);
    t.same(rec.tenant, { id: 'tenantA', code: 'TA' });
    t.same(rec.profile, {});
    t.ok(rec.ts > 0);
    const doc = await stored(ctx.store, rec.id);
    t.not(doc, null);
    t.ok(await verifyPassword('secret1', doc!.passwordHash), 'stored hash verifies');
    t.notOk(await verifyPassword('secret2', doc!.passwordHash));
  });

  t.test('a taken username (any case, any tenant): 402, the original untouched', async (t) => {
    const before = await ctx.store.findUserByUsername('alice');
    t.not(before, null);
    for (const tenant of [TA, TB]) {
      const r = await call(t, ctx, 'POST', '/join', {
        tenant,
        body: { ...joinBody, username: 'ALICE', password: 'other-password', firstName: 'Mallory' },
      });
      t.equal(r.status, 409);
      t.same(r.body, soajsError(402, 'User account already exists.'));
    }
    const after = await ctx.store.findUserByUsername('alice');
    t.equal(after!.doc.passwordHash, before!.doc.passwordHash, 'password hash unchanged');
    t.equal(after!.doc.firstName, 'Alice');
    t.equal(after!.version, before!.version);
    t.equal((await ctx.store.list('user')).length, 1);
  });

  t.test('bad bodies: 400 naming the field, nothing created', async (t) => {
    const cases: [Record<string, unknown>, string | RegExp][] = [
      [{ ...joinBody, username: undefined }, 'body field "username" is required'],
      [{ ...joinBody, username: 'bob', email: 'not-an-email' }, /^body field "email" must match pattern /],
      [{ ...joinBody, username: 'bob', password: 'short' }, 'body field "password" must NOT have fewer than 6 characters'],
      [{ ...joinBody, username: 'b o b' }, /^body field "username" must match pattern /],
      [{ ...joinBody, username: 'bob', admin: true }, 'body field "admin" is not a known field'],
      [{ ...joinBody, username: 'bob', firstName: 7 }, 'body field "firstName" must be string'],
    ];
    for (const [body, message] of cases) {
      const r = await call(t, ctx, 'POST', '/join', { tenant: TA, body });
      t.equal(r.status, 400);
      t.equal(r.body.errors?.codes[0], 400);
      if (typeof message === 'string') t.equal(messageOf(r), message);
      else t.match(messageOf(r), message);
    }
    t.equal((await ctx.store.list('user')).length, 1, 'still only alice');
  });
});

t.test('GET /account/getUser: scoped to the key tenant unless invited', async (t) => {
  const ctx = await setup(t);
  const admin = await seedUser(ctx.store, TA, 'admina', { groups: ['owner'] });
  const alice = await seedUser(ctx.store, TA, 'alice', { groups: [] });
  const bob = await seedUser(ctx.store, TB, 'bob');

  const a = await call(t, ctx, 'GET', '/account/getUser?username=alice', { tenant: TA, caller: admin });
  t.equal(a.status, 200, "an owner of the key's tenant reads its users");
  t.equal(a.body.data.id, alice.id);
  t.same(Object.keys(a.body.data).sort(), RECORD_KEYS);
  const upper = await call(t, ctx, 'GET', '/account/getUser?username=ALICE', { tenant: TA, caller: admin });
  t.equal(upper.body.data?.id, alice.id, 'usernames are case-insensitive');
  const self = await call(t, ctx, 'GET', '/account/getUser?username=alice', { tenant: TA, caller: alice });
  t.equal(self.body.data?.id, alice.id, 'a user reads itself');

  const hidden = await call(t, ctx, 'GET', '/account/getUser?username=bob', { tenant: TA, caller: admin });
  t.equal(hidden.status, 404);
  t.same(hidden.body, soajsError(520, 'User not found.'));
  const fromB = await call(t, ctx, 'GET', '/account/getUser?username=alice', { tenant: TB, caller: bob });
  t.equal(fromB.status, 404);
  const unknown = await call(t, ctx, 'GET', '/account/getUser?username=nobody', { tenant: TA, caller: admin });
  t.same(unknown.body, soajsError(520, 'User not found.'));
  const missing = await call(t, ctx, 'GET', '/account/getUser', { tenant: TA });
  t.equal(missing.status, 400);
  t.same(missing.body, soajsError(400, 'query field "username" is required'));

  const invited = await call(t, ctx, 'PUT', '/admin/users/invite', { tenant: TA, caller: admin, body: { username: 'bob', groups: [] } });
  t.equal(invited.status, 200);
  const visible = await call(t, ctx, 'GET', '/account/getUser?username=bob', { tenant: TA, caller: admin });
  t.equal(visible.status, 200);
  t.equal(visible.body.data.id, bob.id);
  t.same(visible.body.data.tenant, { id: 'tenantB', code: 'TB' }, 'home tenant unchanged');
});

t.test('GET /account/getUser: without a token of that user or an owner, known and unknown users get the same answer', async (t) => {
  const ctx = await setup(t);
  const alice = await seedUser(ctx.store, TA, 'alice', { groups: ['staff'] });
  const carol = await seedUser(ctx.store, TA, 'carol', { groups: ['staff'] });
  const answers = [];
  for (const [who, caller] of [['anonymous', undefined], ['another user of the tenant', carol]] as const) {
    const known = await call(t, ctx, 'GET', '/account/getUser?username=alice', { tenant: TA, ...(caller ? { caller } : {}) });
    const unknown = await call(t, ctx, 'GET', '/account/getUser?username=nobody-here', { tenant: TA, ...(caller ? { caller } : {}) });
    t.equal(known.status, unknown.status, `${who}: same status for a known and an unknown username`);
    t.same(known.body, unknown.body, `${who}: same body`);
    t.same(known.body, soajsError(520, 'User not found.'));
    answers.push(JSON.stringify(known.body));
  }
  t.notOk(answers.some((a) => a.includes(alice.email) || a.includes('staff')), 'no email, groups or config of another user');
});

t.test('GET /user/me', async (t) => {
  const ctx = await setup(t);
  const alice = await seedUser(ctx.store, TA, 'alice', { profile: { lang: 'en' } });

  const anon = await call(t, ctx, 'GET', '/user/me', { tenant: TA });
  t.equal(anon.status, 401);
  t.same(anon.body, soajsError(401, 'You need to be logged in.'));

  const me = await call(t, ctx, 'GET', '/user/me', { tenant: TA, caller: alice });
  t.equal(me.status, 200);
  t.equal(me.body.data.id, alice.id);
  t.same(me.body.data.profile, { lang: 'en' });
  t.same(Object.keys(me.body.data).sort(), RECORD_KEYS);

  const current = await ctx.store.get('user', alice.id);
  await ctx.store.put('user', { ...current!.doc, firstName: 'Alicia' }, { ifVersion: current!.version });
  const fresh = await call(t, ctx, 'GET', '/user/me', { tenant: TA, caller: alice });
  t.equal(fresh.body.data.firstName, 'Alicia', 'read from the store, not from the injected context');

  await ctx.store.delete('user', alice.id);
  const gone = await call(t, ctx, 'GET', '/user/me', { tenant: TA, caller: alice });
  t.same(gone.body, soajsError(520, 'User not found.'));
});

t.test('GET /user/tenants: home first, then invitations, with names', async (t) => {
  const ctx = await setup(t);
  const adminA = await seedUser(ctx.store, TA, 'admina');
  await seedGroup(ctx.store, TA, 'staff');
  const bob = await seedUser(ctx.store, TB, 'bob', { groups: ['owner'] });

  const anon = await call(t, ctx, 'GET', '/user/tenants', { tenant: TB });
  t.same(anon.body, soajsError(401, 'You need to be logged in.'));

  const before = await call(t, ctx, 'GET', '/user/tenants', { tenant: TB, caller: bob });
  t.same(before.body, { result: true, data: [{ id: 'tenantB', code: 'TB', name: 'Tenant B', groups: ['owner'], home: true, current: true }] });

  const inv = await call(t, ctx, 'PUT', '/admin/users/invite', { tenant: TA, caller: adminA, body: { username: 'bob', groups: ['staff'] } });
  t.equal(inv.status, 200);
  const after = await call(t, ctx, 'GET', '/user/tenants', { tenant: TB, caller: bob });
  t.same(after.body, {
    result: true,
    data: [
      { id: 'tenantB', code: 'TB', name: 'Tenant B', groups: ['owner'], home: true, current: true },
      { id: 'tenantA', code: 'TA', name: 'Tenant A', groups: ['staff'], home: false, current: false },
    ],
  });
  const fromA = await call(t, ctx, 'GET', '/user/tenants', { tenant: TA, caller: bob });
  t.same(
    fromA.body.data.map((d: { code: string; current: boolean }) => [d.code, d.current]),
    [
      ['TB', false],
      ['TA', true],
    ],
    'current follows the key the call came with',
  );
});

t.test('PUT /account/password', async (t) => {
  const ctx = await setup(t);
  const alice = await seedUser(ctx.store, TA, 'alice');
  const original = (await stored(ctx.store, alice.id))!.passwordHash;
  const put = (body: unknown, caller: User | null = alice) => call(t, ctx, 'PUT', '/account/password', { tenant: TA, ...(caller ? { caller } : {}), body });

  const anon = await put({ oldPassword: 'alice-pw', password: 'newpass1', confirmation: 'newpass1' }, null);
  t.equal(anon.status, 401);
  t.equal(anon.body.errors?.codes[0], 401);

  const mismatch = await put({ oldPassword: 'alice-pw', password: 'newpass1', confirmation: 'newpass2' });
  t.equal(mismatch.status, 400);
  t.same(mismatch.body, soajsError(522, 'The password and its confirmation do not match.'));

  const wrong = await put({ oldPassword: 'not-it', password: 'newpass1', confirmation: 'newpass1' });
  t.equal(wrong.status, 400);
  t.same(wrong.body, soajsError(523, 'Invalid current password.'));

  const short = await put({ oldPassword: 'alice-pw', password: 'abc', confirmation: 'abc' });
  t.equal(short.status, 400);
  t.match(messageOf(short), /^body field "password" /);
  const missing = await put({ password: 'newpass1', confirmation: 'newpass1' });
  t.equal(messageOf(missing), 'body field "oldPassword" is required');

  t.equal((await stored(ctx.store, alice.id))!.passwordHash, original, 'failed attempts changed nothing');

  const done = await put({ oldPassword: 'alice-pw', password: 'newpass1', confirmation: 'newpass1' });
  t.equal(done.status, 200);
  t.same(done.body, { result: true, data: true });
  const hash = (await stored(ctx.store, alice.id))!.passwordHash;
  t.not(hash, original);
  t.ok(await verifyPassword('newpass1', hash), 'new password verifies');
  t.notOk(await verifyPassword('alice-pw', hash), 'old password no longer does');
});

t.test('admin routes need a caller', async (t) => {
  const ctx = await setup(t);
  const routes: [string, string, unknown?][] = [
    ['GET', '/admin/user?id=x'],
    ['POST', '/admin/user', { username: 'zed' }],
    ['PUT', '/admin/user?id=x', { firstName: 'Z' }],
    ['DELETE', '/admin/user?id=x'],
    ['GET', '/admin/users'],
    ['PUT', '/admin/user/groups', { id: 'x', groups: [] }],
    ['PUT', '/admin/users/invite', { username: 'zed', groups: [] }],
    ['GET', '/admin/groups'],
    ['GET', '/admin/group?code=x'],
    ['POST', '/admin/group', { code: 'x', name: 'X' }],
    ['PUT', '/admin/group?code=x', { name: 'X' }],
    ['DELETE', '/admin/group?code=x'],
  ];
  for (const [method, path, body] of routes) {
    const r = await call(t, ctx, method, path, { tenant: TA, ...(body !== undefined ? { body } : {}) });
    t.equal(r.status, 401, `${method} ${path}`);
    t.same(r.body, soajsError(401, 'You need to be logged in.'));
  }
  t.equal((await ctx.store.list('user')).length, 0);
  t.equal((await ctx.store.list('group')).length, 0);
});

t.test('admin users', async (t) => {
  const ctx = await setup(t);
  const admin = await seedUser(ctx.store, TA, 'admina');
  const adminB = await seedUser(ctx.store, TB, 'adminb');
  const bob = await seedUser(ctx.store, TB, 'bob', { groups: ['owner'] });
  await seedGroup(ctx.store, TA, 'staff');
  await seedGroup(ctx.store, TB, 'owner');
  const as = { tenant: TA, caller: admin };
  const newUser = { username: 'carol', password: 'carol-secret', firstName: 'Carol', lastName: 'C', email: 'carol@example.com' };

  t.test('POST /admin/user', async (t) => {
    const noGroup = await call(t, ctx, 'POST', '/admin/user', { ...as, body: { ...newUser, groups: ['ghost'] } });
    t.equal(noGroup.status, 404);
    t.same(noGroup.body, soajsError(420, 'Group not found.'));
    const otherTenantsGroup = await call(t, ctx, 'POST', '/admin/user', { ...as, body: { ...newUser, groups: ['owner'] } });
    t.same(otherTenantsGroup.body, soajsError(420, 'Group not found.'), 'a group of tenant B does not exist in A');
    t.equal(await ctx.store.findUserByUsername('carol'), null);

    const foreign = await call(t, ctx, 'POST', '/admin/user', {
      ...as,
      body: { ...newUser, config: { allowedTenants: [{ tenant: { id: 'tenantB', code: 'TB' }, groups: ['owner'] }] } },
    });
    t.equal(foreign.status, 400);
    t.equal(messageOf(foreign), 'body field "config.allowedTenants" is not a known field');
    const badStatus = await call(t, ctx, 'POST', '/admin/user', { ...as, body: { ...newUser, status: 'banned' } });
    t.match(messageOf(badStatus), /^body field "status" must be equal to one of the allowed values/);
    const noEmail = await call(t, ctx, 'POST', '/admin/user', { ...as, body: { ...newUser, email: undefined } });
    t.equal(messageOf(noEmail), 'body field "email" is required');
    const badAcl = await call(t, ctx, 'POST', '/admin/user', {
      ...as,
      body: { ...newUser, config: { packages: { PROD_BASIC: { acl: { urac: { access: 'yes' } } } } } },
    });
    t.equal(badAcl.status, 400);
    t.match(messageOf(badAcl), /config\.packages\.PROD_BASIC\.acl\.urac/);
    t.equal(await ctx.store.findUserByUsername('carol'), null);

    const r = await call(t, ctx, 'POST', '/admin/user', {
      ...as,
      body: { ...newUser, groups: ['staff'], status: 'pending', profile: { dept: 'ops' }, config: { packages: { PROD_BASIC: { acl: { urac: { access: true } } } } } },
    });
    t.equal(r.status, 200);
    t.same(Object.keys(r.body.data).sort(), RECORD_KEYS);
    t.same(r.body.data.groups, ['staff']);
    t.equal(r.body.data.status, 'pending');
    t.same(r.body.data.profile, { dept: 'ops' });
    t.same(r.body.data.tenant, { id: 'tenantA', code: 'TA' });
    t.same(r.body.data.config, { packages: { PROD_BASIC: { acl: { urac: { access: true } } } } });
    const doc = await stored(ctx.store, r.body.data.id);
    t.ok(await verifyPassword('carol-secret', doc!.passwordHash));

    const dup = await call(t, ctx, 'POST', '/admin/user', { ...as, body: { ...newUser, username: 'Bob' } });
    t.same(dup.body, soajsError(402, 'User account already exists.'));
    t.equal((await stored(ctx.store, bob.id))!.passwordHash, bob.passwordHash);
  });

  t.test('GET /admin/user', async (t) => {
    const ok = await call(t, ctx, 'GET', `/admin/user?id=${admin.id}`, as);
    t.equal(ok.status, 200);
    t.equal(ok.body.data.username, 'admina');
    const other = await call(t, ctx, 'GET', `/admin/user?id=${bob.id}`, as);
    t.equal(other.status, 404);
    t.same(other.body, soajsError(520, 'User not found.'));
    const missing = await call(t, ctx, 'GET', '/admin/user', as);
    t.same(missing.body, soajsError(400, 'query field "id" is required'));
  });

  t.test('PUT /admin/user', async (t) => {
    const carol = (await ctx.store.findUserByUsername('carol'))!.doc;
    const r = await call(t, ctx, 'PUT', `/admin/user?id=${carol.id}`, {
      ...as,
      body: { firstName: 'Caroline', status: 'active', groups: [], profile: { dept: 'sales' } },
    });
    t.equal(r.status, 200);
    t.same(
      { firstName: r.body.data.firstName, lastName: r.body.data.lastName, status: r.body.data.status, groups: r.body.data.groups, profile: r.body.data.profile },
      { firstName: 'Caroline', lastName: 'C', status: 'active', groups: [], profile: { dept: 'sales' } },
    );
    const doc = (await stored(ctx.store, carol.id))!;
    t.equal(doc.firstName, 'Caroline');
    t.equal(doc.passwordHash, carol.passwordHash, 'password untouched');

    const badEmail = await call(t, ctx, 'PUT', `/admin/user?id=${carol.id}`, { ...as, body: { email: 'nope' } });
    t.equal(badEmail.status, 400);
    t.match(messageOf(badEmail), /^body field "email" must match pattern /);
    const badGroup = await call(t, ctx, 'PUT', `/admin/user?id=${carol.id}`, { ...as, body: { groups: ['ghost'] } });
    t.same(badGroup.body, soajsError(420, 'Group not found.'));
    const empty = await call(t, ctx, 'PUT', `/admin/user?id=${carol.id}`, { ...as, body: {} });
    t.equal(empty.status, 400);
    t.equal(messageOf(empty), 'body must contain at least one field');
    const pw = await call(t, ctx, 'PUT', `/admin/user?id=${carol.id}`, { ...as, body: { passwordHash: 'scrypt$x' } });
    t.equal(messageOf(pw), 'body field "passwordHash" is not a known field');
    t.equal((await stored(ctx.store, carol.id))!.email, 'carol@example.com');

    const foreign = await call(t, ctx, 'PUT', `/admin/user?id=${bob.id}`, { ...as, body: { firstName: 'Hacked' } });
    t.same(foreign.body, soajsError(520, 'User not found.'));
    t.equal((await stored(ctx.store, bob.id))!.firstName, 'First bob');

    // Carol is invited into B; A's admin replacing her config keeps that membership.
    const inv = await call(t, ctx, 'PUT', '/admin/users/invite', { tenant: TB, caller: adminB, body: { id: carol.id, groups: ['owner'] } });
    t.equal(inv.status, 200);
    const cfg = await call(t, ctx, 'PUT', `/admin/user?id=${carol.id}`, { ...as, body: { config: { packages: {} } } });
    t.same(cfg.body.data.config, { packages: {}, allowedTenants: [{ tenant: { id: 'tenantB', code: 'TB' }, groups: ['owner'] }] });
    // ...and B, which only invited her, cannot edit her account.
    const fromB = await call(t, ctx, 'PUT', `/admin/user?id=${carol.id}`, { tenant: TB, caller: adminB, body: { lastName: 'X' } });
    t.same(fromB.body, soajsError(520, 'User not found.'));
    t.equal((await stored(ctx.store, carol.id))!.lastName, 'C');
  });

  t.test('GET /admin/users: home and invited users, sorted, paged', async (t) => {
    await seedUser(ctx.store, TA, 'Zoe');
    await seedUser(ctx.store, TA, 'dave');
    await call(t, ctx, 'PUT', '/admin/users/invite', { ...as, body: { username: 'bob', groups: ['staff'] } });
    const all = await call(t, ctx, 'GET', '/admin/users', as);
    t.equal(all.status, 200);
    const names = (all.body.data.records as { username: string }[]).map((u) => u.username);
    t.same(names, ['admina', 'bob', 'carol', 'dave', 'Zoe']);
    t.equal(all.body.data.total, 5);
    for (const rec of all.body.data.records as Record<string, unknown>[]) {
      t.same(Object.keys(rec).sort(), RECORD_KEYS, `${String(rec['username'])}: the public record only`);
    }
    const page = await call(t, ctx, 'GET', '/admin/users?start=1&limit=2', as);
    t.same((page.body.data.records as { username: string }[]).map((u) => u.username), ['bob', 'carol']);
    t.equal(page.body.data.total, 5);
    const fromB = await call(t, ctx, 'GET', '/admin/users', { tenant: TB, caller: adminB });
    t.same((fromB.body.data.records as { username: string }[]).map((u) => u.username), ['adminb', 'bob', 'carol']);
    const tooMany = await call(t, ctx, 'GET', '/admin/users?limit=1001', as);
    t.equal(tooMany.status, 400);
    t.equal(messageOf(tooMany), 'query field "limit" must be an integer from 1 to 1000');
    const negative = await call(t, ctx, 'GET', '/admin/users?start=-1', as);
    t.match(messageOf(negative), /^query field "start" /);
  });

  t.test('DELETE /admin/user', async (t) => {
    const dave = (await ctx.store.findUserByUsername('dave'))!.doc;
    const invitedBob = await call(t, ctx, 'DELETE', `/admin/user?id=${bob.id}`, as);
    t.same(invitedBob.body, soajsError(520, 'User not found.'), 'an invited user is not deleted by the inviting tenant');
    t.not(await stored(ctx.store, bob.id), null);
    const r = await call(t, ctx, 'DELETE', `/admin/user?id=${dave.id}`, as);
    t.equal(r.status, 200);
    t.same(r.body, { result: true, data: true });
    t.equal(await stored(ctx.store, dave.id), null);
    const again = await call(t, ctx, 'DELETE', `/admin/user?id=${dave.id}`, as);
    t.equal(again.status, 404);
    t.same(again.body, soajsError(520, 'User not found.'));
    const get = await call(t, ctx, 'GET', `/admin/user?id=${dave.id}`, as);
    t.equal(get.status, 404);
  });
});

t.test('admin groups', async (t) => {
  const ctx = await setup(t);
  const admin = await seedUser(ctx.store, TA, 'admina');
  const adminB = await seedUser(ctx.store, TB, 'adminb');
  const as = { tenant: TA, caller: admin };

  t.test('POST /admin/group', async (t) => {
    const r = await call(t, ctx, 'POST', '/admin/group', {
      ...as,
      body: { code: 'staff', name: 'Staff', description: 'Everyone', config: { allowedPackages: { PROD: ['PROD_BASIC'] } } },
    });
    t.equal(r.status, 200);
    t.same(r.body.data, {
      _id: 'tenantA:staff',
      id: 'tenantA:staff',
      code: 'staff',
      name: 'Staff',
      description: 'Everyone',
      tenant: { id: 'tenantA', code: 'TA' },
      config: { allowedPackages: { PROD: ['PROD_BASIC'] } },
    });
    t.equal((await ctx.store.get('group', 'tenantA:staff'))?.doc.name, 'Staff');

    const dup = await call(t, ctx, 'POST', '/admin/group', { ...as, body: { code: 'staff', name: 'Other' } });
    t.equal(dup.status, 409);
    t.same(dup.body, soajsError(421, 'Group already exists.'));
    t.equal((await ctx.store.get('group', 'tenantA:staff'))?.doc.name, 'Staff', 'not overwritten');

    const badCode = await call(t, ctx, 'POST', '/admin/group', { ...as, body: { code: 'a b', name: 'X' } });
    t.equal(badCode.status, 400);
    t.match(messageOf(badCode), /^body field "code" must match pattern /);
    const noName = await call(t, ctx, 'POST', '/admin/group', { ...as, body: { code: 'ops' } });
    t.equal(messageOf(noName), 'body field "name" is required');
    const badCfg = await call(t, ctx, 'POST', '/admin/group', { ...as, body: { code: 'ops', name: 'Ops', config: { acl: {} } } });
    t.equal(messageOf(badCfg), 'body field "config.acl" is not a known field');

    const ops = await call(t, ctx, 'POST', '/admin/group', { ...as, body: { code: 'ops', name: 'Ops' } });
    t.equal(ops.status, 200);
    const inB = await call(t, ctx, 'POST', '/admin/group', { tenant: TB, caller: adminB, body: { code: 'staff', name: 'B staff' } });
    t.equal(inB.status, 200, 'the same code in another tenant is another group');
    t.equal(inB.body.data.id, 'tenantB:staff');
  });

  t.test('GET /admin/group and /admin/groups', async (t) => {
    const one = await call(t, ctx, 'GET', '/admin/group?code=staff', as);
    t.equal(one.body.data.name, 'Staff');
    const oneB = await call(t, ctx, 'GET', '/admin/group?code=staff', { tenant: TB, caller: adminB });
    t.equal(oneB.body.data.name, 'B staff');
    const none = await call(t, ctx, 'GET', '/admin/group?code=ghost', as);
    t.equal(none.status, 404);
    t.same(none.body, soajsError(420, 'Group not found.'));
    const missing = await call(t, ctx, 'GET', '/admin/group', as);
    t.same(missing.body, soajsError(400, 'query field "code" is required'));
    const list = await call(t, ctx, 'GET', '/admin/groups', as);
    t.same((list.body.data as { id: string }[]).map((g) => g.id), ['tenantA:ops', 'tenantA:staff']);
    const listB = await call(t, ctx, 'GET', '/admin/groups', { tenant: TB, caller: adminB });
    t.same((listB.body.data as { id: string }[]).map((g) => g.id), ['tenantB:staff']);
  });

  t.test('PUT /admin/group', async (t) => {
    const r = await call(t, ctx, 'PUT', '/admin/group?code=ops', {
      ...as,
      body: { name: 'Operations', config: { allowedPackages: { PROD: ['PROD_BASIC', 'PROD_PLUS'] } } },
    });
    t.equal(r.status, 200);
    t.equal(r.body.data.name, 'Operations');
    const doc = (await ctx.store.get('group', 'tenantA:ops'))!.doc;
    t.equal(doc.name, 'Operations');
    t.same(doc.config, { allowedPackages: { PROD: ['PROD_BASIC', 'PROD_PLUS'] } });
    const none = await call(t, ctx, 'PUT', '/admin/group?code=ghost', { ...as, body: { name: 'X' } });
    t.same(none.body, soajsError(420, 'Group not found.'));
    const bad = await call(t, ctx, 'PUT', '/admin/group?code=ops', { ...as, body: { code: 'renamed' } });
    t.equal(bad.status, 400);
    t.equal(messageOf(bad), 'body field "code" is not a known field');
    const longName = await call(t, ctx, 'PUT', '/admin/group?code=ops', { ...as, body: { name: 'x'.repeat(101) } });
    t.equal(messageOf(longName), 'body field "name" must NOT have more than 100 characters');
    t.equal((await ctx.store.get('group', 'tenantA:ops'))!.doc.name, 'Operations');
  });

  t.test('DELETE /admin/group cascades to users of this tenant only', async (t) => {
    const home = await seedUser(ctx.store, TA, 'homer', { groups: ['staff', 'ops'] });
    const guest = await seedUser(ctx.store, TB, 'guest', {
      groups: ['staff'],
      config: { allowedTenants: [{ tenant: { id: 'tenantA', code: 'TA' }, groups: ['ops', 'staff'] }] },
    });
    const r = await call(t, ctx, 'DELETE', '/admin/group?code=staff', as);
    t.equal(r.status, 200);
    t.same(r.body, { result: true, data: true });
    t.equal(await ctx.store.get('group', 'tenantA:staff'), null);
    t.not(await ctx.store.get('group', 'tenantB:staff'), null, "B's group of the same code stays");
    t.same((await stored(ctx.store, home.id))!.groups, ['ops']);
    const g = (await stored(ctx.store, guest.id))!;
    t.same(g.groups, ['staff'], "the guest's home groups (tenant B) are not touched");
    t.same(g.config?.allowedTenants, [{ tenant: { id: 'tenantA', code: 'TA' }, groups: ['ops'] }]);
    const again = await call(t, ctx, 'DELETE', '/admin/group?code=staff', as);
    t.equal(again.status, 404);
    t.same(again.body, soajsError(420, 'Group not found.'));
  });
});

t.test('PUT /admin/user/groups and PUT /admin/users/invite', async (t) => {
  const ctx = await setup(t);
  const admin = await seedUser(ctx.store, TA, 'admina');
  const alice = await seedUser(ctx.store, TA, 'alice');
  const bob = await seedUser(ctx.store, TB, 'bob', { groups: ['owner'] });
  const carl = await seedUser(ctx.store, TB, 'carl');
  await seedGroup(ctx.store, TA, 'staff');
  await seedGroup(ctx.store, TA, 'ops');
  await seedGroup(ctx.store, TB, 'owner');
  const as = { tenant: TA, caller: admin };

  t.test('invite', async (t) => {
    const neither = await call(t, ctx, 'PUT', '/admin/users/invite', { ...as, body: { groups: [] } });
    t.equal(neither.status, 400);
    t.equal(messageOf(neither), 'body field "username" is required');
    const noGroups = await call(t, ctx, 'PUT', '/admin/users/invite', { ...as, body: { username: 'bob' } });
    t.equal(messageOf(noGroups), 'body field "groups" is required');
    const home = await call(t, ctx, 'PUT', '/admin/users/invite', { ...as, body: { username: 'alice', groups: [] } });
    t.equal(home.status, 400);
    t.same(home.body, soajsError(527, 'User already belongs to this tenant.'));
    const unknown = await call(t, ctx, 'PUT', '/admin/users/invite', { ...as, body: { username: 'nobody', groups: [] } });
    t.same(unknown.body, soajsError(520, 'User not found.'));
    const ghost = await call(t, ctx, 'PUT', '/admin/users/invite', { ...as, body: { username: 'bob', groups: ['owner'] } });
    t.same(ghost.body, soajsError(420, 'Group not found.'), "B's group is not a group of A");
    t.same((await stored(ctx.store, bob.id))!.config, {}, 'no failed attempt wrote anything');

    const byName = await call(t, ctx, 'PUT', '/admin/users/invite', { ...as, body: { username: 'BOB', groups: ['staff'] } });
    t.equal(byName.status, 200);
    t.same(byName.body.data.config.allowedTenants, [{ tenant: { id: 'tenantA', code: 'TA' }, groups: ['staff'] }]);
    const byId = await call(t, ctx, 'PUT', '/admin/users/invite', { ...as, body: { id: bob.id, groups: ['ops'] } });
    t.equal(byId.status, 200);
    const doc = (await stored(ctx.store, bob.id))!;
    t.same(doc.config?.allowedTenants, [{ tenant: { id: 'tenantA', code: 'TA' }, groups: ['ops'] }], 'the entry is replaced, not repeated');
    t.same(doc.groups, ['owner']);
    t.same(doc.tenant, { id: 'tenantB', code: 'TB' });
  });

  t.test('user groups', async (t) => {
    const homeR = await call(t, ctx, 'PUT', '/admin/user/groups', { ...as, body: { id: alice.id, groups: ['staff', 'ops'] } });
    t.equal(homeR.status, 200);
    t.same(homeR.body.data.groups, ['staff', 'ops']);
    t.same((await stored(ctx.store, alice.id))!.groups, ['staff', 'ops']);

    const guestR = await call(t, ctx, 'PUT', '/admin/user/groups', { ...as, body: { id: bob.id, groups: ['staff'] } });
    t.equal(guestR.status, 200);
    const b = (await stored(ctx.store, bob.id))!;
    t.same(b.groups, ['owner'], 'home groups untouched');
    t.same(b.config?.allowedTenants, [{ tenant: { id: 'tenantA', code: 'TA' }, groups: ['staff'] }]);

    const stranger = await call(t, ctx, 'PUT', '/admin/user/groups', { ...as, body: { id: carl.id, groups: [] } });
    t.same(stranger.body, soajsError(520, 'User not found.'));
    t.same((await stored(ctx.store, carl.id))!.config, {});
    const ghost = await call(t, ctx, 'PUT', '/admin/user/groups', { ...as, body: { id: alice.id, groups: ['ghost'] } });
    t.same(ghost.body, soajsError(420, 'Group not found.'));
    const noId = await call(t, ctx, 'PUT', '/admin/user/groups', { ...as, body: { groups: [] } });
    t.equal(noId.status, 400);
    t.equal(messageOf(noId), 'body field "id" is required');
    const badItem = await call(t, ctx, 'PUT', '/admin/user/groups', { ...as, body: { id: alice.id, groups: ['a b'] } });
    t.match(messageOf(badItem), /^body field "groups\[0\]" must match pattern /);
    t.same((await stored(ctx.store, alice.id))!.groups, ['staff', 'ops']);
  });
});

t.test('concurrent writers: the write is retried three times, then 412', async (t) => {
  const ctx = await setup(t);
  const admin = await seedUser(ctx.store, TA, 'admina');
  const alice = await seedUser(ctx.store, TA, 'alice');
  const as = { tenant: TA, caller: admin };

  ctx.store.contend = 3;
  const retried = await call(t, ctx, 'PUT', `/admin/user?id=${alice.id}`, { ...as, body: { firstName: 'Third time lucky' } });
  t.equal(retried.status, 200);
  t.equal(ctx.store.contend, 0);
  t.equal((await stored(ctx.store, alice.id))!.firstName, 'Third time lucky');

  ctx.store.contend = 4;
  const gaveUp = await call(t, ctx, 'PUT', `/admin/user?id=${alice.id}`, { ...as, body: { firstName: 'Never' } });
  t.equal(gaveUp.status, 409);
  t.same(gaveUp.body, soajsError(412, 'The record changed meanwhile; try again.'));
  t.equal(ctx.store.contend, 0, 'four reads: the first try and three retries');
  t.equal((await stored(ctx.store, alice.id))!.firstName, 'Third time lucky');
});
