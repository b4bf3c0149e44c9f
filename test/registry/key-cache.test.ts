import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { KeyCache } from '../../registry/view/cache.js';
import { hashExtKey } from '../../registry/view/keys.js';
import { FileStore } from '../../registry/control/store/file.js';
import { StoreUnavailableError, type ChangeEvent, type Versioned } from '../../registry/control/store/types.js';
import type { Tenant } from '../../registry/view/types.js';
import { extKey } from '../helpers/gateway.js';

/** Plaintext ext keys (hex, as the gateway accepts them). */
const A1 = 'a1'.repeat(32);
const A2 = 'a2'.repeat(32);
const B1 = 'b1'.repeat(32);
const C1 = 'c1'.repeat(32);
const NEW = 'ee'.repeat(32);
const UNKNOWN = 'ff'.repeat(32);

function tenantDoc(id: string, code: string, plains: readonly string[], name = `Tenant ${code}`): Tenant {
  return {
    id,
    code,
    name,
    type: 'client',
    applications: [
      {
        appId: `app_${id}`,
        product: 'PROD1',
        package: 'PROD1_PCK1',
        keys: [
          {
            key: '0123456789abcdef0123456789abcdef',
            config: { dev: { svc: { who: code } }, prod: { svc: { who: 'prod' } } },
            extKeys: plains.map((p) => extKey(p)),
          },
        ],
      },
    ],
  };
}

/**
 * The real FileStore with two test hooks: `emit` replays an event to the listeners registered through
 * onChange (a '*' cannot be produced by the file store itself), and findTenantByKeyHash counts its
 * calls and can be made to fail.
 */
class HookedStore extends FileStore {
  readonly #captured = new Set<(e: ChangeEvent) => void>();
  finds = 0;
  failWith: Error | null = null;

  override onChange(listener: (e: ChangeEvent) => void): () => void {
    this.#captured.add(listener);
    const off = super.onChange(listener);
    return () => {
      this.#captured.delete(listener);
      off();
    };
  }

  emit(event: ChangeEvent): void {
    for (const l of this.#captured) l(event);
  }

  get listeners(): number {
    return this.#captured.size;
  }

  override async findTenantByKeyHash(keyHash: string): Promise<Versioned<Tenant> | null> {
    this.finds++;
    if (this.failWith) throw this.failWith;
    return super.findTenantByKeyHash(keyHash);
  }
}

async function setup(
  t: { teardown(fn: () => unknown): void },
  max = 100,
  tenants: Tenant[] = [tenantDoc('ta', 'TA', [A1, A2]), tenantDoc('tb', 'TB', [B1])],
): Promise<{ store: HookedStore; cache: KeyCache }> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-keycache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new HookedStore(
    dir,
    tenants.map((doc) => ({ kind: 'tenant' as const, doc, origin: 'test' })),
  );
  await store.open();
  t.teardown(() => store.close());
  const cache = new KeyCache(store, 'dev', max);
  t.teardown(() => cache.close());
  return { store, cache };
}

const h = hashExtKey;

t.test('get() is undefined before load(); load() returns the entry and caches it', async (t) => {
  const { store, cache } = await setup(t);
  t.equal(cache.get(h(A1)), undefined, 'nothing cached yet');
  t.equal(cache.size, 0);
  t.equal(store.finds, 0);

  const entry = await cache.load(h(A1));
  t.equal(store.finds, 1, 'one store call');
  t.equal(entry?.tenant.id, 'ta');
  t.equal(entry?.tenant.code, 'TA');
  t.equal(entry?.appId, 'app_ta');
  t.equal(entry?.packageCode, 'PROD1_PCK1');
  t.equal(entry?.env, 'dev');
  t.equal(entry?.expires, Number.POSITIVE_INFINITY);
  t.same(entry?.config, { svc: { who: 'TA' } }, 'compiled for the cache env');
  t.equal(cache.size, 1, 'only the requested key is cached, not the whole tenant');

  t.equal(cache.get(h(A1)), entry, 'a hit returns the same object');
  t.equal(cache.get(h(A1)), entry);
  t.equal(store.finds, 1, 'hits do not ask the store');
  t.equal(cache.get(A1), undefined, 'never cached by plaintext');
  t.equal(cache.get(h(A2)), undefined, 'a sibling key of the same tenant is not cached by the load');
});

t.test('an unknown hash loads null and is cached negatively', async (t) => {
  const { store, cache } = await setup(t);
  t.equal(await cache.load(h(UNKNOWN)), null);
  t.equal(cache.get(h(UNKNOWN)), null, 'null (known unknown), not undefined (ask the store)');
  t.equal(cache.size, 1, 'the negative entry takes a slot');
  t.equal(store.finds, 1);
  cache.get(h(UNKNOWN));
  t.equal(store.finds, 1, 'a negative hit does not ask the store');
});

t.test('putting any tenant clears the negative entries: a new key resolves at once', async (t) => {
  const { store, cache } = await setup(t);
  t.equal(await cache.load(h(NEW)), null);
  t.equal(await cache.load(h(UNKNOWN)), null);
  const a1 = await cache.load(h(A1));
  t.equal(cache.size, 3);

  // An unrelated tenant's change clears every negative entry (a new key may be among them).
  await store.put('tenant', tenantDoc('tc', 'TC', [C1]));
  t.equal(cache.get(h(NEW)), undefined, 'negative entry dropped');
  t.equal(cache.get(h(UNKNOWN)), undefined, 'negative entry dropped');
  t.equal(cache.get(h(A1)), a1, 'positive entries of other tenants stay');
  t.equal(cache.size, 1);
  t.equal((await cache.load(h(C1)))?.tenant.code, 'TC', "the new tenant's key resolves");

  t.equal(await cache.load(h(NEW)), null, 'still unknown');
  t.equal(cache.get(h(NEW)), null);
  await store.put('tenant', tenantDoc('tb', 'TB', [B1, NEW]));
  t.equal(cache.get(h(NEW)), undefined, 'the put evicted the negative entry');
  const fresh = await cache.load(h(NEW));
  t.equal(fresh?.tenant.id, 'tb', 'a newly added ext key is resolvable at once');
  t.equal(cache.get(h(NEW)), fresh);
});

t.test('changing a tenant evicts its keys: the next load sees the change', async (t) => {
  const { store, cache } = await setup(t);
  const a1 = await cache.load(h(A1));
  const a2 = await cache.load(h(A2));
  t.equal(a1?.tenant.name, 'Tenant TA');
  t.equal(a2?.tenant.id, 'ta', 'both keys of the tenant cached');
  t.equal(cache.size, 2);

  await store.put('tenant', tenantDoc('ta', 'TA', [A1, A2], 'Renamed'));
  t.equal(cache.get(h(A1)), undefined, 'evicted');
  t.equal(cache.get(h(A2)), undefined, 'every cached key of the tenant evicted');
  const renamed = await cache.load(h(A1));
  t.not(renamed, a1);
  t.equal(renamed?.tenant.name, 'Renamed', 'the change is seen');

  // Revoke A2 by removing it from the tenant.
  await cache.load(h(A2));
  t.ok(cache.get(h(A2)));
  await store.put('tenant', tenantDoc('ta', 'TA', [A1], 'Renamed'));
  t.equal(cache.get(h(A2)), undefined);
  t.equal(await cache.load(h(A2)), null, 'a revoked key is unknown on the next load');
  t.equal(cache.get(h(A2)), null, 'and cached negatively');
  t.equal((await cache.load(h(A1)))?.tenant.name, 'Renamed', 'the kept key still resolves');

  // Deleting the tenant revokes all its keys.
  t.ok(cache.get(h(A1)));
  t.equal(await store.delete('tenant', 'ta'), true);
  t.equal(cache.get(h(A1)), undefined);
  t.equal(await cache.load(h(A1)), null, 'a deleted tenant holds no key');
});

t.test("an unrelated tenant's change does not evict another tenant's keys", async (t) => {
  const { store, cache } = await setup(t);
  const a1 = await cache.load(h(A1));
  const b1 = await cache.load(h(B1));
  const finds = store.finds;
  await store.put('tenant', tenantDoc('tb', 'TB', [B1], 'B renamed'));
  t.equal(cache.get(h(A1)), a1, "TA's entry is the same object");
  t.equal(cache.get(h(B1)), undefined, "TB's entry is evicted");
  t.not(await cache.load(h(B1)), b1);
  t.equal(cache.get(h(B1))?.tenant.name, 'B renamed');

  // Non-tenant changes evict nothing.
  await store.put('service', { name: 'svc', port: 4100, versions: { '1': { extKeyRequired: true } } });
  await store.registerHost({ service: 'svc', version: '1', host: '127.0.0.1', port: 4100 });
  t.equal(cache.get(h(A1)), a1, 'a service or host change does not evict keys');
  t.equal(cache.size, 2);
  t.equal(store.finds, finds + 1, 'only the evicted key was read again');
});

t.test('LRU bound: max=2 keeps the two most recently used', async (t) => {
  const { store, cache } = await setup(t, 2);
  t.equal(cache.size, 0);
  const a1 = await cache.load(h(A1));
  await cache.load(h(A2));
  t.equal(cache.size, 2);
  t.equal(cache.get(h(A1)), a1, 'A1 is now the most recently used');
  await cache.load(h(B1));
  t.equal(cache.size, 2, 'loading 3 keys keeps size 2');
  t.equal(cache.get(h(A2)), undefined, 'the least recently used (A2) was dropped');
  t.equal(cache.get(h(A1)), a1);
  t.ok(cache.get(h(B1)));

  await cache.load(h(UNKNOWN));
  t.equal(cache.size, 2, 'negative entries count against the bound');
  t.equal(cache.get(h(UNKNOWN)), null);
  // CLOCK, not exact LRU: both were used since the last round, so each gets a second chance and
  // one of them goes (a hit never reorders the map on the request path).
  t.equal([cache.get(h(A1)), cache.get(h(B1))].filter((e) => e === undefined).length, 1, 'one of the two used entries made room');
  const dropped = cache.get(h(A1)) === undefined ? A1 : B1;

  const finds = store.finds;
  t.ok(await cache.load(h(dropped)), 'a dropped key loads again from the store');
  t.equal(store.finds, finds + 1);

  t.throws(() => new KeyCache(store, 'dev', 0), RangeError, 'max must be a positive integer');
});

t.test('concurrent load() of one hash shares one promise and one store call', async (t) => {
  const { store, cache } = await setup(t);
  const p1 = cache.load(h(A1));
  const p2 = cache.load(h(A1));
  t.equal(p1, p2, 'the same promise');
  const p3 = cache.load(h(UNKNOWN));
  t.equal(cache.load(h(UNKNOWN)), p3, 'also for an unknown hash');
  const [e1, e2, u] = await Promise.all([p1, p2, p3]);
  t.equal(e1, e2, 'the same entry');
  t.equal(u, null);
  t.equal(store.finds, 2, 'one store call per hash');
  t.equal(cache.get(h(A1)), e1);

  const p4 = cache.load(h(A1));
  t.not(p4, p1, 'a settled load is not reused: a later load asks again');
  await p4;
});

t.test('a load racing an eviction is answered but not cached', async (t) => {
  const { store, cache } = await setup(t);
  const p = cache.load(h(A1));
  // The store has already been asked; the tenant changes before the answer is remembered.
  store.emit({ version: 99, kind: 'tenant', id: 'ta', op: 'put' });
  t.equal((await p)?.tenant.id, 'ta', 'the caller gets its answer');
  t.equal(cache.get(h(A1)), undefined, 'a possibly stale answer is not cached');
  t.equal(cache.size, 0);
  const again = cache.load(h(A1));
  t.not(again, p, 'the eviction dropped the pending read');
  t.ok(await again);
  t.ok(cache.get(h(A1)), 'the next load is cached');
});

t.test("a '*' change event clears everything", async (t) => {
  const { store, cache } = await setup(t);
  await cache.load(h(A1));
  await cache.load(h(B1));
  await cache.load(h(UNKNOWN));
  t.equal(cache.size, 3);
  t.equal(store.listeners, 1, 'the cache listens to the store');

  store.emit({ version: 99, kind: '*', id: '*', op: 'put' });
  t.equal(cache.size, 0);
  t.equal(cache.get(h(A1)), undefined);
  t.equal(cache.get(h(B1)), undefined);
  t.equal(cache.get(h(UNKNOWN)), undefined, 'negative entries too');
  t.equal((await cache.load(h(A1)))?.tenant.id, 'ta', 'loads again afterwards');
  t.equal(cache.size, 1);
});

t.test('a failing store: load() rejects and nothing is cached', async (t) => {
  const { store, cache } = await setup(t);
  store.failWith = new StoreUnavailableError('store down');
  await t.rejects(cache.load(h(A1)), StoreUnavailableError);
  await t.rejects(cache.load(h(UNKNOWN)), { name: 'StoreUnavailableError', message: 'store down' });
  t.equal(cache.size, 0, 'nothing cached');
  t.equal(cache.get(h(A1)), undefined, 'not even a negative entry');
  t.equal(cache.get(h(UNKNOWN)), undefined);

  const finds = store.finds;
  store.failWith = null;
  const entry = await cache.load(h(A1));
  t.equal(entry?.tenant.id, 'ta', 'the failed read is not stuck in flight: the store is asked again');
  t.equal(store.finds, finds + 1);
  t.equal(cache.get(h(A1)), entry);
});

t.test('close() stops listening and empties the cache', async (t) => {
  const { store, cache } = await setup(t);
  const a1 = await cache.load(h(A1));
  t.ok(a1);
  const other = new KeyCache(store, 'prod', 10);
  const prod = await other.load(h(A1));
  t.same(prod?.config, { svc: { who: 'prod' } }, 'each cache compiles for its own env');
  t.equal(store.listeners, 2);
  other.close();
  t.equal(store.listeners, 1, 'unsubscribed');
  t.equal(other.size, 0);
  cache.close();
  t.equal(store.listeners, 0);
  t.equal(cache.size, 0);
});

t.test('the eviction indexes stay within the LRU bound (random unknown keys cannot grow memory)', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { createHash } = await import('node:crypto');
  const { FileStore: Store } = await import('../../registry/control/store/file.js');
  const { KeyCache: Cache } = await import('../../registry/view/cache.js');
  const dir = mkdtempSync(join(tmpdir(), 'tessera-kc-bound-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new Store(dir, []);
  await store.open();
  t.teardown(() => store.close());
  const cache = new Cache(store, 'dev', 10);
  t.teardown(() => cache.close());
  for (let i = 0; i < 500; i++) await cache.load(createHash('sha256').update(`unknown-${i}`).digest('hex'));
  t.equal(cache.size, 10);
  t.ok(cache.tracked <= 10, `tracked ${cache.tracked} <= 10`);
});

t.test('RegistrySync.waitFor resolves for changes that need no rebuild (tenants, users)', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { FileStore: Store } = await import('../../registry/control/store/file.js');
  const { RegistrySync } = await import('../../registry/view/sync.js');
  const dir = mkdtempSync(join(tmpdir(), 'tessera-kc-wait-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new Store(dir, []);
  await store.open();
  t.teardown(() => store.close());
  const sync = await new RegistrySync(store, { env: 'dev' }).start();
  t.teardown(() => sync.stop());
  await store.put('tenant', { id: 'tw1', code: 'TW1', name: 'tw', type: 'product', applications: [] });
  const v = (await store.load()).version;
  const waited = await Promise.race([sync.waitFor(v).then(() => 'resolved'), new Promise((r) => setTimeout(() => r('timeout'), 2000))]);
  t.equal(waited, 'resolved');
});

t.test('a stale read finishing never drops the newer read of the same id', async (t) => {
  const { mkdtempSync: mk, rmSync: rm } = await import('node:fs');
  const { tmpdir: td } = await import('node:os');
  const { join: j } = await import('node:path');
  const { FileStore: Store } = await import('../../registry/control/store/file.js');
  const { UserCache } = await import('../../registry/view/cache.js');
  /** The real store, each read held until the test lets it go. */
  class HeldStore extends Store {
    readonly gates: (() => void)[] = [];
    override async get<K extends import('../../registry/view/types.js').DocKind>(kind: K, id: string) {
      await new Promise<void>((resolve) => this.gates.push(resolve));
      return super.get(kind, id);
    }
  }
  const dir = mk(j(td(), 'tessera-readthrough-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = new HeldStore(dir, []);
  await store.open();
  t.teardown(() => store.close());
  const users = new UserCache(store, 10);
  t.teardown(() => users.close());
  const first = users.lookup('u1') as Promise<unknown>;
  users.evict('u1');
  const second = users.lookup('u1') as Promise<unknown>;
  t.not(first, second, 'an eviction starts a new read');
  await new Promise((r) => setImmediate(r));
  store.gates.shift()!();
  await first;
  t.equal(users.lookup('u1'), second, 'the newer read is still the one shared');
  store.gates.shift()!();
  await second;
  t.equal(users.lookup('u1'), null, 'and its answer is cached (no user: a negative entry)');
  t.equal(store.gates.length, 0, 'no third store read');
});
