import { generateKeyPairSync } from 'node:crypto';
import type { Test } from 'tap';
import { ValidationError } from '../../registry/control/schema.js';
import { INJECT_SECRET_ID, sharedSecret } from '../../registry/control/secrets.js';
import type { SeedDoc } from '../../registry/control/seed.js';
import { ConflictError, DuplicateError, type ChangeEvent, type Store } from '../../registry/control/store/types.js';
import type { Group, HostRegistration, Product, Revocation, Service, SigningKey, Tenant, User } from '../../registry/view/types.js';

export interface StoreTestOptions {
  now?: () => number;
  retentionDays?: number;
}

/**
 * The Store contract (registry/control/store/types.ts), one suite for every backend: what the
 * gateway, the services and the CLI rely on, whatever holds the data. Backend-only behaviour
 * (persistence files, Redis reconnects) is tested beside each backend.
 */
export interface Backend {
  readonly name: string;
  /**
   * A fresh store of its own (nothing shared with another test), seeded with `seed`, opened, closed
   * at teardown; `opts` reach the store's constructor (the events' clock and retention).
   */
  open(t: Test, seed: readonly SeedDoc[], opts?: StoreTestOptions): Promise<Store>;
  /** Everything the backend holds for `store`, comparable with t.same: "nothing was written" means it did not change. */
  raw(store: Store): Promise<unknown>;
  /** The backend's unique indexes, where it keeps them (Redis), to check they hold exactly the live entries. */
  indexes?(store: Store): Promise<{ username: Record<string, string>; extkey: Record<string, string> }>;
  /** A second store on the same data, for sharing checks; absent where one process owns the data (file). */
  reopen?(t: Test, store: Store): Promise<Store>;
}

export function product(): Product {
  return { code: 'PROD1', name: 'Product one', packages: [{ code: 'PROD1_PCK1', name: 'one', acl: { dev: { example03: { '1': { access: false } } } } }] };
}

export function tenant(id = 't1', hashes: string[] = ['a'.repeat(64)]): Tenant {
  return {
    id,
    code: 'TNT1',
    name: 'Client One',
    type: 'client',
    applications: [
      { appId: 'app1', product: 'PROD1', package: 'PROD1_PCK1', keys: [{ key: '0123456789abcdef0123456789abcdef', extKeys: hashes.map((keyHash) => ({ keyHash, env: 'dev' })) }] },
    ],
  };
}

export function service(name = 'example03', port = 4023): Service {
  return { name, port, versions: { '1': { extKeyRequired: true } } };
}

function user(id: string, username: string): User {
  return {
    id,
    username,
    passwordHash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==',
    firstName: 'First',
    lastName: 'Last',
    email: `${id}@example.com`,
    status: 'active',
    groups: [],
    tenant: { id: 't1', code: 'TNT1' },
  };
}

export function seed(): SeedDoc[] {
  return [
    { kind: 'product', doc: product(), origin: 'test: products[0]' },
    { kind: 'tenant', doc: tenant(), origin: 'test: tenants[0]' },
    { kind: 'service', doc: service(), origin: 'test: services[0]' },
  ];
}

/** The rejection reason of p; fails when p resolves. */
export async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('promise resolved');
}

/**
 * A store's change events from now on (without `*` resyncs, which a poll may add at any time), and
 * a bounded wait for one. "From now on" by version: a message of an earlier write (the seed) may
 * still be on its way.
 */
async function feed(store: Store) {
  const since = await store.registryVersion();
  const events: ChangeEvent[] = [];
  const waiters = new Set<{ pred: (e: ChangeEvent) => boolean; resolve: () => void }>();
  const off = store.onChange((e) => {
    if (e.kind === '*' || e.version <= since) return;
    events.push(e);
    for (const w of waiters) if (w.pred(e)) (waiters.delete(w), w.resolve());
  });
  return {
    events,
    off,
    list: () => events.map((e) => [e.version, e.kind, e.id, e.op]),
    until(pred: (e: ChangeEvent) => boolean, what: string, ms = 3000): Promise<void> {
      if (events.some(pred)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${what} event within ${ms} ms; saw ${JSON.stringify(events)}`)), ms);
        waiters.add({ pred, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
  };
}

export function storeContract(t: Test, backend: Backend): void {
  const open = (t: Test, docs: readonly SeedDoc[] = seed()) => backend.open(t, docs);

  t.test(`${backend.name}: put/get/list/delete keep per-document versions and copies`, async (t) => {
    const store = await open(t, []);
    t.equal(await store.put('service', service('a', 4101)), 1);
    t.equal(await store.put('service', service('a', 4102)), 2);
    t.equal(await store.put('service', service('b', 4103)), 1, 'versions are per document');
    t.same(await store.get('service', 'a'), { doc: service('a', 4102), version: 2 });
    t.same(
      (await store.list('service')).map((v) => [v.doc.name, v.doc.port, v.version]).sort(),
      [
        ['a', 4102, 2],
        ['b', 4103, 1],
      ],
    );
    t.same(await store.list('tenant'), [], 'an empty kind lists nothing');

    const doc = service('copy', 4300);
    await store.put('service', doc);
    doc.port = 1;
    t.equal((await store.get('service', 'copy'))?.doc.port, 4300, 'later edits to the caller object do not leak in');
    const got = await store.get('service', 'copy');
    if (got) (got.doc as Service).port = 2;
    t.equal((await store.get('service', 'copy'))?.doc.port, 4300, 'get returns a copy');

    t.equal(await store.delete('service', 'a'), true);
    t.equal(await store.get('service', 'a'), null);
    t.equal(await store.delete('service', 'a'), false, 'nothing left to delete');
    t.equal((await store.load()).version, 5, '4 puts + 1 delete; the no-op delete is not a change');
    t.equal(await store.registryVersion(), 5, 'registryVersion: the same version, without loading');
    t.equal(await store.put('service', service('a', 4104)), 1, 'a re-created document starts again at 1');
  });

  t.test(`${backend.name}: a mismatched ifVersion throws ConflictError and changes nothing`, async (t) => {
    const store = await open(t);
    const f = await feed(store);
    const before = await backend.raw(store);

    const err = await rejectionOf(store.put('tenant', { ...tenant(), name: 'Stale' }, { ifVersion: 7 }));
    t.ok(err instanceof ConflictError, 'ConflictError');
    t.match(err, { kind: 'tenant', id: 't1', expected: 7, actual: 1 });
    const zero = await rejectionOf(store.put('tenant', tenant(), { ifVersion: 0 }));
    t.ok(zero instanceof ConflictError, 'ifVersion 0: must not exist');
    t.equal((zero as ConflictError).actual, 1);
    const missing = await rejectionOf(store.put('service', service('ghost'), { ifVersion: 1 }));
    t.ok(missing instanceof ConflictError, 'ifVersion 1 on a missing document');
    t.equal((missing as ConflictError).actual, 0);
    const del = await rejectionOf(store.delete('service', 'example03', { ifVersion: 5 }));
    t.ok(del instanceof ConflictError, 'delete honours ifVersion');

    t.same(await backend.raw(store), before, 'nothing the backend holds changed');
    t.not(await store.get('service', 'example03'), null, 'still there after the conflict');
    t.equal(await store.get('service', 'ghost'), null);
    t.equal((await store.get('tenant', 't1'))?.doc.name, 'Client One');
    t.equal((await store.load()).version, 3);

    t.equal(await store.put('tenant', { ...tenant(), name: 'Fresh' }, { ifVersion: 1 }), 2, 'the right ifVersion passes');
    t.equal(await store.put('service', service('brand-new'), { ifVersion: 0 }), 1, 'ifVersion 0 creates');
    const again = await rejectionOf(store.put('service', service('brand-new', 4999), { ifVersion: 0 }));
    t.ok(again instanceof ConflictError, 'ifVersion 0 creates only');
    t.equal((await store.get('service', 'brand-new'))?.doc.port, 4023);
    t.equal(await store.delete('service', 'example03', { ifVersion: 1 }), true);
    await f.until((e) => e.kind === 'service' && e.op === 'delete', 'delete');
    t.same(
      f.list(),
      [
        [4, 'tenant', 't1', 'put'],
        [5, 'service', 'brand-new', 'put'],
        [6, 'service', 'example03', 'delete'],
      ],
      'the failed writes announced nothing',
    );
  });

  t.test(`${backend.name}: put validates; an invalid document is rejected and nothing is written`, async (t) => {
    const store = await open(t);
    const f = await feed(store);
    const before = await backend.raw(store);
    const bad = tenant();
    bad.applications[0]!.keys[0]!.key = 'short';
    const err = await rejectionOf(store.put('tenant', bad));
    t.ok(err instanceof ValidationError, 'ValidationError');
    t.equal((err as ValidationError).field, 'applications[0].keys[0].key');
    t.ok((await rejectionOf(store.put('service', { ...service('other'), port: 0 }))) instanceof ValidationError);
    t.ok((await rejectionOf(store.put('user', user('u1', 'x')))) instanceof ValidationError, 'a too-short username is invalid');
    t.ok((await rejectionOf(store.put('secret', { id: 'inject-hmac', value: 'short', createdAt: 0 }))) instanceof ValidationError, 'a weak secret is invalid');
    t.equal(await store.findUserByUsername('x'), null, 'and not indexed');
    t.same(await backend.raw(store), before, 'nothing the backend holds changed');
    t.equal((await store.load()).version, 3);
    await store.put('service', service('marker', 4400));
    await f.until((e) => e.id === 'marker', 'marker');
    t.same(f.list(), [[4, 'service', 'marker', 'put']], 'no event for the rejected writes');
  });

  t.test(`${backend.name}: usernames are unique (case-insensitive); findUserByUsername follows renames and deletes`, async (t) => {
    const store = await open(t);
    t.equal(await store.put('user', user('u1', 'Alice')), 1);
    const found = await store.findUserByUsername('alice');
    t.equal(found?.doc.id, 'u1', 'found case-insensitively');
    t.equal(found?.version, 1);
    t.equal((await store.findUserByUsername('ALICE'))?.doc.username, 'Alice', 'stored as written');
    t.equal(await store.findUserByUsername('bob'), null);

    const versionBefore = (await store.load()).version;
    const dup = await rejectionOf(store.put('user', user('u2', 'aLiCe')));
    t.ok(dup instanceof DuplicateError, 'a username taken by another user: DuplicateError');
    t.equal((dup as DuplicateError).field, 'username');
    t.equal(await store.get('user', 'u2'), null, 'the duplicate is not written');
    t.same((await store.get('user', 'u1'))?.doc, user('u1', 'Alice'), 'the original is untouched');
    t.equal((await store.findUserByUsername('alice'))?.doc.id, 'u1');
    t.equal((await store.load()).version, versionBefore, 'no version spent');

    t.equal(await store.put('user', { ...user('u1', 'Alice'), firstName: 'Al' }), 2, 'the holder may rewrite itself');
    t.equal(await store.put('user', user('u1', 'ALICE')), 3, 'and change the case of its own name');
    t.equal(await store.put('user', user('u1', 'Bob')), 4, 'rename');
    t.equal(await store.findUserByUsername('alice'), null, 'the old name is free');
    t.equal((await store.findUserByUsername('bob'))?.doc.id, 'u1');
    t.equal(await store.put('user', user('u2', 'alice')), 1, 'and can be taken by another user');
    t.equal(await store.delete('user', 'u1'), true);
    t.equal(await store.findUserByUsername('bob'), null, 'a deleted user is not found');
    if (backend.indexes) t.same((await backend.indexes(store)).username, { alice: 'u2' }, 'the index holds exactly the live usernames');

    const race = await Promise.allSettled([store.put('user', user('u3', 'carol')), store.put('user', user('u4', 'Carol'))]);
    t.equal(race.filter((r) => r.status === 'fulfilled').length, 1, 'concurrent claims of one username: one wins');
    t.ok(race.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason instanceof DuplicateError, 'the other gets DuplicateError');
    t.equal((await store.list('user')).length, 2, 'alice and one carol');
  });

  t.test(`${backend.name}: ext key hashes are unique across tenants; findTenantByKeyHash follows writes`, async (t) => {
    const store = await open(t);
    const [A, B, C] = ['a', 'b', 'c'].map((c) => c.repeat(64)) as [string, string, string];
    const found = await store.findTenantByKeyHash(A);
    t.equal(found?.version, 1);
    t.same(found?.doc, tenant());
    t.equal(await store.findTenantByKeyHash(B), null, 'unknown hash: null');
    t.equal(await store.findTenantByKeyHash('A'.repeat(64)), null, 'hashes are compared exactly');
    if (found) found.doc.name = 'mutated';
    t.equal((await store.findTenantByKeyHash(A))?.doc.name, 'Client One', 'returns a copy');

    t.equal(await store.put('tenant', tenant('t1', [A, B])), 2);
    t.equal((await store.findTenantByKeyHash(B))?.doc.id, 't1', 'a key added by put is found at once');
    t.equal((await store.findTenantByKeyHash(A))?.version, 2);
    t.equal(await store.put('tenant', { ...tenant('t2', [C]), code: 'TNT2' }), 1);
    t.equal((await store.findTenantByKeyHash(C))?.doc.id, 't2', 'each hash finds its own tenant');

    const versionBefore = (await store.load()).version;
    t.ok((await rejectionOf(store.put('tenant', { ...tenant('t3', [A]), code: 'TNT3' }))) instanceof DuplicateError, 'a hash held by another tenant: DuplicateError');
    t.equal(await store.get('tenant', 't3'), null, 'not written');
    t.ok((await rejectionOf(store.put('tenant', { ...tenant('t2', [C, B]), code: 'TNT2' }))) instanceof DuplicateError, 'an existing tenant cannot take a key either');
    t.same((await store.get('tenant', 't2'))?.doc.applications[0]?.keys[0]?.extKeys.map((x) => x.keyHash), [C], 't2 untouched');
    t.equal((await store.findTenantByKeyHash(B))?.doc.id, 't1');
    t.equal((await store.load()).version, versionBefore, 'no version spent');

    t.equal(await store.put('tenant', tenant('t1', [A])), 3, 'remove key B from t1');
    t.equal(await store.findTenantByKeyHash(B), null, 'a key removed by put is gone');
    t.equal(await store.put('tenant', { ...tenant('t2', [C, B]), code: 'TNT2' }), 2, 'the freed key can move to another tenant');
    t.equal((await store.findTenantByKeyHash(B))?.doc.id, 't2');
    t.equal(await store.delete('tenant', 't1'), true);
    t.equal(await store.findTenantByKeyHash(A), null, 'a deleted tenant holds no key');
    if (backend.indexes) t.same((await backend.indexes(store)).extkey, { [B]: 't2', [C]: 't2' }, 'the index holds exactly the live keys');
    t.same((await store.list('tenant')).map((x) => x.doc.id), ['t2']);
  });

  t.test(`${backend.name}: load() returns the snapshot kinds, the hosts and the registry version`, async (t) => {
    const store = await open(t);
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const sk: SigningKey = {
      kid: 'k1',
      alg: 'ES256',
      publicJwk: publicKey.export({ format: 'jwk' }) as Record<string, unknown>,
      privateJwk: privateKey.export({ format: 'jwk' }) as Record<string, unknown>,
      createdAt: 1_700_000_000_000,
    };
    const group: Group = { id: 't1:admins', code: 'admins', name: 'Admins', tenant: { id: 't1', code: 'TNT1' } };
    const revocation: Revocation = { id: 'jti:abc', expiresAt: 1_900_000_000_000 };
    const host: HostRegistration = { service: 'example03', version: '1', host: '127.0.0.1', port: 4023 };
    await store.put('signingKey', sk);
    await store.put('group', group);
    await store.put('revocation', revocation);
    await store.put('user', user('u1', 'alice'));
    await store.registerHost(host);
    const data = await store.load();
    t.equal(data.version, 8, '3 seeds + 4 puts + 1 host');
    t.same(data.products, [product()]);
    t.same(data.services, [service()]);
    t.same(data.groups, [group]);
    t.same(data.signingKeys, [sk]);
    t.same(data.revocations, [revocation]);
    t.same(data.hosts, [host]);
    t.notOk('users' in data || 'tenants' in data, 'users and tenants are cached, not snapshotted');
  });

  t.test(`${backend.name}: a store has an identity; acceptReset gives it a new, accepted one and announces a resync`, async (t) => {
    const store = await open(t);
    const before = await store.load();
    t.match(before.identity.epoch, /^[0-9a-f]{16}$/, 'an opened store carries its registry identity');
    t.equal(before.identity.acceptedEpoch, null, 'none accepted yet');
    const resyncs: ChangeEvent[] = [];
    let heard: () => void = () => undefined;
    const announced = new Promise<void>((resolve) => (heard = resolve));
    const off = store.onChange((e) => {
      if (e.kind === '*' && e.id === 'accept-reset') (resyncs.push(e), heard());
    });
    t.teardown(off);
    const accepted = await store.acceptReset();
    const after = await store.load();
    t.not(accepted.epoch, before.identity.epoch, 'a new identity');
    t.same(after.identity, { epoch: accepted.epoch, acceptedEpoch: accepted.epoch }, 'marked accepted');
    t.equal(accepted.version, before.version + 1, 'one version further');
    t.equal(after.version, accepted.version);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([announced, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no accept-reset resync within 3 s')), 3000)))]);
    clearTimeout(timer);
    t.same(resyncs.map((e) => [e.version, e.op]), [[accepted.version, 'put']], 'one resync at that version');
    t.same(after.products, before.products, 'the data is taken as it is');
    t.equal(await store.put('service', service('after', 4105)), 1, 'and written to as before');
  });

  t.test(`${backend.name}: registerHost/unregisterHost: host events, load().hosts, no duplicates`, async (t) => {
    const store = await open(t);
    const f = await feed(store);
    const reg: HostRegistration = { service: 'example03', version: '1', host: '127.0.0.1', port: 4023 };
    await store.registerHost(reg);
    t.same((await store.load()).hosts, [reg]);
    t.equal((await store.load()).version, 4);
    await store.registerHost({ ...reg });
    t.equal((await store.load()).hosts.length, 1, 're-registering the same host does not duplicate it');
    const second = { ...reg, port: 4024, maintenancePort: 5024 };
    await store.registerHost(second);
    t.same([...(await store.load()).hosts].sort((a, b) => a.port - b.port), [reg, second]);
    await store.unregisterHost(reg);
    t.same((await store.load()).hosts, [second]);
    await store.unregisterHost(second);
    t.same((await store.load()).hosts, []);
    await f.until((e) => e.version === 8, 'last unregister');
    t.same(f.list(), [
      [4, 'host', 'example03', 'put'],
      [5, 'host', 'example03', 'put'],
      [6, 'host', 'example03', 'put'],
      [7, 'host', 'example03', 'delete'],
      [8, 'host', 'example03', 'delete'],
    ]);
  });

  t.test(`${backend.name}: change events carry increasing versions, until unsubscribed`, async (t) => {
    const store = await open(t);
    const f = await feed(store);
    await store.put('service', service('a', 4101));
    await store.put('service', service('a', 4102));
    await store.put('tenant', { ...tenant(), name: 'x' });
    await store.delete('service', 'a');
    await f.until((e) => e.version === 7, 'the delete');
    t.same(f.list(), [
      [4, 'service', 'a', 'put'],
      [5, 'service', 'a', 'put'],
      [6, 'tenant', 't1', 'put'],
      [7, 'service', 'a', 'delete'],
    ]);
    t.equal((await store.load()).version, 7, 'last event version = registry version');
    f.off();
    await store.put('service', service('b', 4103));
    // Events arrive in order: once a later write's event is in, the one before it would have been.
    const later = await feed(store);
    await store.put('service', service('c', 4104));
    await later.until((e) => e.id === 'c', 'a later write');
    t.equal(f.events.length, 4, 'no events after unsubscribing');
  });

  t.test(`${backend.name}: failure counters count within a window, restart after it, clear on demand`, async (t) => {
    const store = await open(t, []);
    const version = await store.registryVersion();
    t.equal(await store.readCounter('login:user:alice'), null, 'nothing counted yet');
    t.same(await store.countFailure('login:user:alice', 1_000, 60_000), { count: 1, last: 1_000 });
    t.same(await store.countFailure('login:user:alice', 2_000, 60_000), { count: 2, last: 2_000 });
    t.same(await store.countFailure('login:user:bob', 2_500, 60_000), { count: 1, last: 2_500 }, 'keys count apart');
    t.same(await store.readCounter('login:user:alice'), { count: 2, last: 2_000 });
    t.same(await store.countFailure('login:user:alice', 62_001, 60_000), { count: 1, last: 62_001 }, 'a failure past the window starts again');
    await store.clearCounter('login:user:alice');
    t.equal(await store.readCounter('login:user:alice'), null, 'cleared');
    t.same(await store.readCounter('login:user:bob'), { count: 1, last: 2_500 }, 'the others stay');
    t.equal(await store.registryVersion(), version, 'counters are no registry change');
  });

  t.test(`${backend.name}: a shared secret is created once and read back by every process of the store`, async (t) => {
    const store = await open(t, []);
    const first = await sharedSecret(store, INJECT_SECRET_ID);
    t.equal(first.length, 32, '32 random bytes');
    t.same(await sharedSecret(store, INJECT_SECRET_ID), first, 'the same value next time');
    t.same(await sharedSecret(store, INJECT_SECRET_ID, 'a configured secret of at least 32 characters'), Buffer.from('a configured secret of at least 32 characters'), 'a configured one wins');
    if (backend.reopen) {
      const other = await backend.reopen(t, store);
      t.same(await sharedSecret(other, INJECT_SECRET_ID), first, 'another process on the same store reads the same secret');
      const fresh = await Promise.all([sharedSecret(other, 'race'), sharedSecret(store, 'race')]);
      t.same(fresh[0], fresh[1], 'two processes creating it at once end up with one value');
    }
    t.equal(store.shared, backend.reopen !== undefined, 'shared says whether many processes may use the store');
  });
}
