import type { Test } from 'tap';
import { ValidationError } from '../../registry/control/schema.js';
import { compareCursors } from '../../registry/control/store/outbox.js';
import { ConflictError, DuplicateError, type EventDraft, type Store, type StoredEvent } from '../../registry/control/store/types.js';
import { rejectionOf, seed, service, tenant, type Backend } from './store-contract.js';

/**
 * The outbox part of the Store contract (issue 17 §2): events are written in the same atomic write
 * as their change, or not at all; the feed reads them in order from stable cursors, filters them,
 * and forgets them after the retention. Run against every backend by store-contract.test.ts.
 */

const DAY = 86_400_000;
const T0 = Date.UTC(2030, 0, 1);

function ev(type: string, n = 0, extra: Partial<EventDraft> = {}): EventDraft {
  return { type, tenantId: 't1', data: { n }, ...extra };
}

/** Every event in the store, paging through it `limit` at a time. */
async function all(store: Store, limit = 1000): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.readEvents({ limit, ...(after ? { after } : {}) });
    out.push(...page.events);
    if (page.next === null) return out;
    after = page.next;
  }
}

/** A clock the test moves. */
function clock(start = T0) {
  const c = { at: start, now: () => c.at };
  return c;
}

export function eventContract(t: Test, backend: Backend): void {
  t.test(`${backend.name}: events are written with their change, stamped, in order`, async (t) => {
    const c = clock();
    const store = await backend.open(t, seed(), { now: c.now });
    const version = await store.registryVersion();
    t.same(await store.readEvents({ limit: 10 }), { events: [], next: null }, 'an empty outbox');

    await store.put('tenant', { ...tenant(), name: 'Renamed' }, { events: [ev('tenant.updated', 1), ev('service.activated', 2, { service: 'example03' })] });
    c.at += 5;
    t.equal(await store.delete('service', 'example03', { events: [{ type: 'service.removed', service: 'example03', data: { n: 3 } }] }), true);
    t.equal(await store.registryVersion(), version + 2, 'events are no registry changes of their own: one version per write');
    t.equal((await store.load()).version, version + 2);

    const got = await all(store);
    t.same(
      got.map((e) => [e.type, e.tenantId, e.service, e.data, e.timestamp]),
      [
        ['tenant.updated', 't1', undefined, { n: 1 }, T0],
        ['service.activated', 't1', 'example03', { n: 2 }, T0],
        ['service.removed', undefined, 'example03', { n: 3 }, T0 + 5],
      ],
      'type, tenant, service, data; stamped with the store clock',
    );
    t.same(
      got.map((e) => e.cursor),
      [`${T0}-0`, `${T0}-1`, `${T0 + 5}-0`],
      'cursors <ms>-<seq>: seq counts the events of one ms',
    );
    for (const e of got) t.match(e.id, /^evt_[0-9a-z]{9}[0-9a-f]{16}$/, 'evt_<time><random>');
    t.equal(new Set(got.map((e) => e.id)).size, 3, 'ids are unique');
    t.ok(got[0]!.id.slice(4, 13) <= got[2]!.id.slice(4, 13), 'and time-ordered');

    c.at = T0 - DAY;
    await store.put('service', service('later', 4200), { events: [ev('service.added', 4)] });
    const last = (await all(store)).at(-1)!;
    t.ok(compareCursors(last.cursor, got[2]!.cursor) > 0, 'a clock going back never makes a cursor go back');
    t.equal(last.timestamp, T0 + 5, 'nor a timestamp');
  });

  t.test(`${backend.name}: a refused write writes no event`, async (t) => {
    const store = await backend.open(t, seed(), { now: clock().now });
    const before = await backend.raw(store);
    const events = [ev('tenant.updated')];

    t.ok((await rejectionOf(store.put('tenant', { ...tenant(), name: 'Stale' }, { ifVersion: 7, events }))) instanceof ConflictError, 'a failed ifVersion');
    t.ok((await rejectionOf(store.put('tenant', tenant(), { ifVersion: 0, events }))) instanceof ConflictError, 'ifVersion 0 on an existing one');
    t.ok((await rejectionOf(store.delete('tenant', 't1', { ifVersion: 3, events }))) instanceof ConflictError, 'a delete with a failed ifVersion');
    t.equal(await store.delete('tenant', 'ghost', { events }), false, 'a delete of nothing');
    t.ok((await rejectionOf(store.put('tenant', { ...tenant('t2'), code: 'TNT2' }, { events }))) instanceof DuplicateError, 'an ext key held by another tenant');
    const bad = tenant();
    bad.applications[0]!.keys[0]!.key = 'short';
    t.ok((await rejectionOf(store.put('tenant', bad, { events }))) instanceof ValidationError, 'an invalid document');
    const badEvent = await rejectionOf(store.put('tenant', { ...tenant(), name: 'Bad event' }, { events: [{ type: 'Not A Type', data: {} }] }));
    t.ok(badEvent instanceof TypeError, 'an invalid event fails the whole write');
    t.match(badEvent.message, /event type "Not A Type"/);
    t.ok((await rejectionOf(store.put('tenant', tenant(), { events: [{ type: 'x.y', data: [] as unknown as Record<string, unknown> }] }))) instanceof TypeError, 'data must be an object');

    t.same(await backend.raw(store), before, 'nothing the backend holds changed');
    t.same(await store.readEvents({ limit: 10 }), { events: [], next: null }, 'no event in the outbox');
    t.equal((await store.get('tenant', 't1'))?.doc.name, 'Client One', 'and no change');

    await store.put('tenant', { ...tenant(), name: 'Fresh' }, { ifVersion: 1, events });
    t.same((await all(store)).map((e) => e.type), ['tenant.updated'], 'the write that passed wrote its event');
  });

  t.test(`${backend.name}: paging: stable cursors, next until the end`, async (t) => {
    const c = clock();
    const store = await backend.open(t, [], { now: c.now });
    for (let n = 1; n <= 7; n++) {
      c.at += n % 2; // some in the same ms, some not
      await store.put('service', service(`s${n}`, 4100 + n), { events: [ev('service.added', n)] });
    }
    const p1 = await store.readEvents({ limit: 3 });
    t.same(p1.events.map((e) => e.data['n']), [1, 2, 3]);
    t.equal(p1.next, p1.events[2]!.cursor, 'next: the last cursor of a full page');
    const p2 = await store.readEvents({ limit: 3, after: p1.next! });
    t.same(p2.events.map((e) => e.data['n']), [4, 5, 6]);
    const p3 = await store.readEvents({ limit: 3, after: p2.next! });
    t.same(p3.events.map((e) => e.data['n']), [7]);
    t.equal(p3.next, null, 'null at the end');
    const exact = await store.readEvents({ limit: 4, after: p1.next! });
    t.equal(exact.next, null, 'a page that ends exactly at the last event says so');
    t.same(await store.readEvents({ limit: 3, after: p1.next! }), p2, 'the same cursor reads the same page again');
    t.same(await store.readEvents({ limit: 5, after: p3.events[0]!.cursor }), { events: [], next: null }, 'after the newest: nothing yet');
    await store.put('service', service('s8', 4108), { events: [ev('service.added', 8)] });
    t.same((await store.readEvents({ limit: 5, after: p3.events[0]!.cursor })).events.map((e) => e.data['n']), [8], 'then the new one');
    t.same((await store.readEvents({ limit: 100, after: '1-0' })).events.length, 8, 'a cursor before all of them reads all');
    for (const q of [{ limit: 0 }, { limit: 1001 }, { limit: 1.5 }, { limit: 5, after: 'yesterday' }, { limit: 5, type: 'Bad Type' }]) {
      t.ok((await rejectionOf(store.readEvents(q))) instanceof Error, `refused: ${JSON.stringify(q)}`);
    }
  });

  t.test(`${backend.name}: filters: type (exact or family), service, tenant`, async (t) => {
    const store = await backend.open(t, [], { now: clock().now });
    const drafts: EventDraft[] = [
      ev('tenant.created', 1),
      ev('service.activated', 2, { service: 'a' }),
      ev('service.provisioning.finished', 3, { service: 'a' }),
      ev('service.activated', 4, { service: 'b', tenantId: 't2' }),
      ev('tenant.updated', 5, { tenantId: 't2' }),
      ev('service.deactivated', 6, { service: 'a' }),
    ];
    for (const [n, d] of drafts.entries()) await store.put('service', service(`f${n}`, 4300 + n), { events: [d] });
    const ns = async (q: Parameters<Store['readEvents']>[0]) => (await store.readEvents(q)).events.map((e) => e.data['n']);
    t.same(await ns({ limit: 10, type: 'service.activated' }), [2, 4], 'exact type');
    t.same(await ns({ limit: 10, type: 'service.*' }), [2, 3, 4, 6], 'a family');
    t.same(await ns({ limit: 10, type: 'service.provisioning.*' }), [3]);
    t.same(await ns({ limit: 10, type: 'tenant.*', tenantId: 't2' }), [5], 'type and tenant');
    t.same(await ns({ limit: 10, service: 'a' }), [2, 3, 6], 'service');
    t.same(await ns({ limit: 10, type: 'user.added_to_tenant' }), [], 'nothing of a type never written');
    const first = await store.readEvents({ limit: 1, type: 'service.activated' });
    t.same(first.events.map((e) => e.data['n']), [2]);
    t.not(first.next, null, 'more may follow a full filtered page');
    const second = await store.readEvents({ limit: 1, type: 'service.activated', after: first.next! });
    t.same(second.events.map((e) => e.data['n']), [4], 'filtered paging goes on from next');
    const third = await store.readEvents({ limit: 1, type: 'service.activated', after: second.next! });
    t.same(third, { events: [], next: null }, 'and ends');
  });

  t.test(`${backend.name}: events older than the retention are trimmed as new ones are written`, async (t) => {
    const c = clock();
    const store = await backend.open(t, [], { now: c.now, retentionDays: 30 });
    await store.put('service', service('r1', 4401), { events: [ev('x.old', 1), ev('x.old', 2)] });
    c.at = T0 + 10 * DAY;
    await store.put('service', service('r2', 4402), { events: [ev('x.mid', 3)] });
    c.at = T0 + 30 * DAY;
    await store.put('service', service('r3', 4403), { events: [ev('x.edge', 4)] });
    t.same((await all(store)).map((e) => e.data['n']), [1, 2, 3, 4], 'exactly 30 days old: still kept');
    c.at = T0 + 31 * DAY;
    await store.put('service', service('r4', 4404));
    t.same((await all(store)).map((e) => e.data['n']), [1, 2, 3, 4], 'a write without events trims nothing');
    await store.put('service', service('r5', 4405), { events: [ev('x.new', 5)] });
    t.same((await all(store)).map((e) => e.data['n']), [3, 4, 5], 'older than 30 days: gone');
    t.same((await all(store, 1)).map((e) => e.data['n']), [3, 4, 5], 'paging one at a time reads the same');
    const stale = await store.readEvents({ limit: 10, after: `${T0}-0` });
    t.same(stale.events.map((e) => e.data['n']), [3, 4, 5], 'a cursor into the trimmed part reads on from the oldest kept');
    c.at = T0 + 100 * DAY;
    await store.put('service', service('r6', 4406), { events: [ev('x.alone', 6)] });
    t.same((await all(store)).map((e) => e.data['n']), [6], 'everything older trimmed');
  });
}
