import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { FileStore } from '../../registry/control/store/file.js';
import { StoreUnavailableError, type Versioned, type WriteOptions } from '../../registry/control/store/types.js';
import type { DocByKind, DocKind, Product } from '../../registry/view/types.js';
import { startRegistry } from '../../services/registry/index.js';
import { signedInject } from '../helpers/inject.js';
import { randomBytes } from 'node:crypto';

/* eslint-disable @typescript-eslint/no-explicit-any -- parsed JSON answers */

/**
 * The registry service against store faults and concurrent writers, called directly with the
 * context the gateway would send (the gateway path is covered by registry.test.ts).
 */

/**
 * A real FileStore that can be taken down, can lose audit writes, and can let another writer in
 * between the service's read of a product and its write (each of the next `contend` product reads
 * is followed by a real write to that product).
 */
class FaultyStore extends FileStore {
  down = false;
  auditDown = false;
  contend = 0;

  #check(): void {
    if (this.down) throw new StoreUnavailableError('store down (test)');
  }

  override async get<K extends DocKind>(kind: K, id: string): Promise<Versioned<DocByKind[K]> | null> {
    this.#check();
    const found = await super.get(kind, id);
    if (kind === 'product' && found !== null && this.contend > 0) {
      this.contend -= 1;
      const p = found.doc as Product;
      await super.put('product', { ...p, name: `${p.name}+` });
    }
    return found;
  }

  override async list<K extends DocKind>(kind: K): Promise<Versioned<DocByKind[K]>[]> {
    this.#check();
    return super.list(kind);
  }

  override async put<K extends DocKind>(kind: K, doc: DocByKind[K], opts?: WriteOptions): Promise<number> {
    this.#check();
    if (kind === 'audit' && this.auditDown) throw new StoreUnavailableError('audit down (test)');
    return super.put(kind, doc, opts);
  }

  override async delete(kind: DocKind, id: string, opts?: WriteOptions): Promise<boolean> {
    this.#check();
    return super.delete(kind, id, opts);
  }
}

const SECRET = randomBytes(32);
const INJECT = JSON.stringify({
  tenant: { id: 'ownerTenant', code: 'OWNER', name: 'Owner' },
  key: { iKey: 'a'.repeat(32), eKey: 'x', config: {} },
  application: { product: 'TSRA', package: 'TSRA_OWNER', appId: 'app' },
  urac: { _id: 'u1', username: 'root', firstName: 'R', lastName: 'R', email: 'r@x', groups: ['owner'], tenant: { id: 'ownerTenant', code: 'OWNER' } },
});

t.test('registry service: store faults and concurrent writers', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-registry-'));
  const store = new FaultyStore(dir, [{ kind: 'product', doc: { code: 'P', name: 'P', packages: [] }, origin: 'test' }]);
  await store.open();
  const svc = await startRegistry({ port: 0, store, env: 'dev', injectSecret: SECRET, ownerTenant: 'OWNER' });
  t.teardown(async () => {
    await svc.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`http://127.0.0.1:${svc.port}${path}`, {
      method,
      headers: { ...signedInject(SECRET, INJECT), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, etag: res.headers.get('etag'), body: (await res.json()) as any };
  };
  const auditOf = async (id: string) => (await store.list('audit')).map((v) => v.doc).filter((e) => e.resourceId === id);

  t.test('store unavailable: 503 code 181, nothing changed', async (t) => {
    store.down = true;
    const read = await call('GET', '/products');
    t.equal(read.status, 503);
    t.equal(read.body.errors.codes[0], 181);
    const write = await call('POST', '/products', { code: 'Q', name: 'Q' });
    t.equal(write.status, 503);
    t.equal(write.body.errors.codes[0], 181);
    store.down = false;
    t.equal((await call('GET', '/products/Q')).status, 404, 'nothing was written');
    t.same(await auditOf('Q'), [], 'nor audited');
  });

  t.test('another writer in between: retried without If-Match, 412 with it', async (t) => {
    const v = (await store.get('product', 'P'))!.version;
    store.contend = 1;
    const retried = await call('PATCH', '/products/P', { description: 'mine' });
    t.equal(retried.status, 200, 'retried on the fresh document');
    t.equal(retried.etag, `"${v + 2}"`);
    t.same(retried.body.data, { code: 'P', name: 'P+', description: 'mine', packages: [] }, 'the other writer\'s change kept');

    store.contend = 1;
    const refused = await call('PATCH', '/products/P', { description: 'lost' }, { 'if-match': `"${v + 2}"` });
    t.equal(refused.status, 412);
    t.same(refused.body.errors.details[0].message, `The document changed since you read it (version ${v + 3}); reload and retry.`);
    const now = (await store.get('product', 'P'))!;
    t.equal(now.version, v + 3, 'only the other writer wrote');
    t.equal(now.doc.description, 'mine');

    store.contend = 10;
    const busy = await call('PATCH', '/products/P', { description: 'never' });
    t.equal(busy.status, 409, 'gives up after bounded retries');
    store.contend = 0;
    t.not((await store.get('product', 'P'))!.doc.description, 'never');
    t.same(
      (await auditOf('P')).map((e) => [e.action, e.before, e.after]),
      [['patch', v + 1, v + 2]],
      'one audit entry: the write that happened',
    );
  });

  t.test('If-Match must be a version', async (t) => {
    const bad = await call('PUT', '/products/P', { name: 'x', packages: [] }, { 'if-match': 'yesterday' });
    t.equal(bad.status, 400);
    t.match(bad.body.errors.details[0].message, /If-Match/);
    const star = await call('PATCH', '/products/P', { name: 'starred' }, { 'if-match': '*' });
    t.equal(star.status, 200, '* matches any stored version');
  });

  t.test('an audit entry that cannot be written is reported, not hidden', async (t) => {
    store.auditDown = true;
    const r = await call('POST', '/products', { code: 'R', name: 'R' });
    store.auditDown = false;
    t.equal(r.status, 500);
    t.equal(r.body.errors.details[0].message, 'The change was applied (version 1) but its audit entry could not be written; check the store.');
    t.ok(await store.get('product', 'R'), 'the change is there, as the answer says');
  });
});
