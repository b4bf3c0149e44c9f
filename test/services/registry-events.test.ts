import t from 'tap';
import { TNT2_ID } from '../helpers/demo.js';
import { startRegistryHarness } from '../helpers/registry-harness.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- parsed JSON answers */

/**
 * The events feed of the registry API (issue 17 §4) through a real gateway and the owner's login:
 * tenant writes put their events in the outbox with the change; `GET /registry/events` lists them
 * in order, pages from stable cursors, filters by type, and refuses bad parameters by name; a
 * refused write leaves no event; no payload carries a secret or a key.
 */

const SECRET = 'feed-test-oauth-secret-Hh27';

t.test('registry events feed through the gateway', async (t) => {
  const h = await startRegistryHarness();
  t.teardown(() => h.close());
  const { api } = h;
  const feed = async (query = '') => {
    const a = await api('GET', `/events${query}`);
    t.equal(a.status, 200, `GET /events${query}`);
    return a.body.data as { events: any[]; next: string | null };
  };

  t.same(await feed(), { events: [], next: null }, 'the seed wrote no events');

  const created = await api('POST', '/tenants', { code: 'EVT1', name: 'Events One', type: 'client', oauth: { secret: SECRET, loginMode: 'urac' } });
  t.equal(created.status, 201);
  const id = created.body.data.id as string;
  t.equal((await api('PATCH', `/tenants/${id}`, { name: 'Events Uno' })).status, 200);
  const app = await api('POST', `/tenants/${id}/applications`, { product: 'PROD1', package: 'PROD1_PCK1' });
  t.equal(app.status, 201);
  const appId = app.body.data.appId as string;
  const key = await api('POST', `/tenants/${id}/applications/${appId}/keys`, {});
  t.equal(key.status, 201);
  const ext = await api('POST', `/tenants/${id}/applications/${appId}/keys/${key.body.data.key}/extKeys`, { env: 'dev' });
  t.equal(ext.status, 201);
  const plainKey = ext.body.data.extKey as string;

  const stale = await api('PATCH', `/tenants/${id}`, { name: 'Lost' }, { 'if-match': '"1"' });
  t.equal(stale.status, 412, 'a write with a stale If-Match is refused');
  const dupCode = await api('POST', '/tenants', { code: 'EVT1', name: 'Twice', type: 'client' });
  t.equal(dupCode.status, 409, 'and one with a taken code');
  t.equal((await api('DELETE', `/tenants/${id}`)).status, 200);
  t.equal((await api('DELETE', `/tenants/${id}`)).status, 404, 'deleting it again: nothing to delete');

  const all = await feed();
  t.same(
    all.events.map((e) => [e.type, e.tenantId, e.data.tenant.name, e.data.changed]),
    [
      ['tenant.created', id, 'Events One', undefined],
      ['tenant.updated', id, 'Events Uno', ['name']],
      ['tenant.updated', id, 'Events Uno', ['applications']],
      ['tenant.updated', id, 'Events Uno', ['applications']],
      ['tenant.updated', id, 'Events Uno', ['applications']],
      ['tenant.deleted', id, 'Events Uno', undefined],
    ],
    'created, updated (name, application, key, ext key), deleted — in order; the refused writes left nothing',
  );
  t.equal(all.next, null, 'the whole outbox in one page');
  t.same(all.events[0].data.tenant, { id, code: 'EVT1', name: 'Events One' });
  for (const e of all.events) {
    t.match(e, { id: /^evt_/, cursor: /^\d+-\d+$/, timestamp: Number }, `${e.type}: id, cursor, timestamp`);
  }
  t.equal(new Set(all.events.map((e) => e.id)).size, 6, 'six ids');

  const p1 = await feed('?limit=2');
  t.same(p1.events.map((e) => e.id), all.events.slice(0, 2).map((e) => e.id), 'page 1');
  t.equal(p1.next, all.events[1].cursor);
  const p2 = await feed(`?limit=2&after=${p1.next}`);
  t.same(p2.events.map((e) => e.id), all.events.slice(2, 4).map((e) => e.id), 'page 2 from the cursor');
  const p3 = await feed(`?limit=2&after=${p2.next}`);
  t.same(p3.events.map((e) => e.id), all.events.slice(4).map((e) => e.id), 'page 3');
  t.equal(p3.next, null, 'the end');
  t.same(await feed(`?limit=2&after=${p1.next}`), p2, 'a cursor reads the same page again');

  t.same((await feed('?type=tenant.updated')).events.map((e) => e.cursor), all.events.slice(1, 5).map((e) => e.cursor), 'type filter');
  t.same((await feed('?type=tenant.*&limit=1&after=' + all.events[4].cursor)).events.map((e) => e.type), ['tenant.deleted'], 'a family, after a cursor');
  t.same((await feed(`?tenant=${TNT2_ID}`)).events, [], 'tenant filter: nothing of another tenant');
  t.same((await feed('?type=service.activated')).events, [], 'no activation was written');

  for (const [query, field] of [
    ['?limit=0', 'limit'],
    ['?limit=1001', 'limit'],
    ['?limit=ten', 'limit'],
    ['?after=yesterday', 'after'],
    ['?type=Tenant%20Created', 'type'],
    ['?service=a%20b', 'service'],
    ['?tenant=%2F..', 'tenant'],
  ] as const) {
    const bad = await api('GET', `/events${query}`);
    t.equal(bad.status, 400, `${query}: 400`);
    t.match(bad.body.errors.details[0].message, new RegExp(`^query field "${field}" must be`), `${query}: names "${field}"`);
  }

  const payloads = JSON.stringify(all.events);
  t.notOk(payloads.includes(SECRET), 'no oauth secret in an event');
  t.notOk(payloads.includes(plainKey), 'no ext key in an event');
  t.notOk(/keyHash|"secret"/.test(payloads), 'no key hash field, no secret field');
});
