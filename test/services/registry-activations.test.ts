import t from 'tap';
import { Client } from 'undici';
import { DEMO_KEYS, soajsError, TNT2_ID } from '../helpers/demo.js';
import { settle } from '../helpers/gateway.js';
import { startRegistryHarness } from '../helpers/registry-harness.js';
import { startEchoService } from '../helpers/servers.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- parsed JSON answers */

/**
 * Activations (issue 17 §1, §4, §5) through a real gateway and the registry API: a service with
 * external provisioning activated in a tenant is pending — the tenant's requests to it get
 * 503/191 with Retry-After — until the service reports `finished`; the very next request passes
 * (on the same connection, whose decision was kept). `failed` gives 503/194, deactivation 403/195.
 * The reconciliation list names every tenant where the service is active, recorded or implied by
 * a package grant.
 */

t.test('activate, pending, report, pass; failed; deactivated; reconciliation', async (t) => {
  const h = await startRegistryHarness({ services: (all) => all.map((s) => (s.name === 'example03' ? { ...s, provisioning: 'external' as const } : s)) });
  t.teardown(() => h.close());
  const { gw, api } = h;
  const echo = await startEchoService();
  t.teardown(() => echo.close());
  await gw.store.registerHost({ service: 'example03', version: '1', host: '127.0.0.1', port: echo.port, maintenancePort: echo.maintenance.port });
  await settle(gw);
  // TNT2's key on example03, over one keep-alive connection: its decision is kept between calls.
  const client = new Client(gw.url);
  t.teardown(() => client.close());
  const tenantCall = async () => {
    const res = await client.request({ method: 'GET', path: '/example03/buildName?lastName=Smith', headers: { key: DEMO_KEYS.TNT2 } });
    const text = await res.body.text();
    return { status: res.statusCode, code: res.statusCode >= 400 ? (JSON.parse(text) as any).errors.codes[0] : null, retryAfter: res.headers['retry-after'] };
  };

  t.equal((await tenantCall()).status, 200, 'before: TNT2’s package grants example03 — implied active');
  const implied = await api('GET', `/tenants/${TNT2_ID}/activations`);
  t.match(implied.body.data.find((a: any) => a.service === 'example03'), { state: 'active', implied: true }, 'listed as active, implied');

  const created = await api('POST', `/tenants/${TNT2_ID}/activations`, { service: 'example03' });
  t.equal(created.status, 201);
  t.match(created.body.data, { service: 'example03', state: 'pending', implied: false, tenant: { id: TNT2_ID } }, 'external provisioning: pending');
  t.match(await tenantCall(), { status: 503, code: 191, retryAfter: '5' }, 'the tenant waits: 503/191 with Retry-After');
  t.equal((await api('POST', `/tenants/${TNT2_ID}/activations`, { service: 'example03' })).status, 409, 'a second activation: 409');
  t.match((await api('POST', `/tenants/${TNT2_ID}/activations`, { service: 'nope' })).body, soajsError(400, 'body field "service" names no registered service ("nope")'));

  const pending = await api('GET', '/services/example03/tenants?state=pending');
  t.same(pending.body.data.tenants.map((r: any) => r.tenant.id), [TNT2_ID], 'reconciliation: the pending tenant');

  const report = await api('PUT', `/services/example03/tenants/${TNT2_ID}/provisioning`, { status: 'finished' });
  t.match(report, { status: 200, body: { data: { state: 'active' } } });
  t.equal((await tenantCall()).status, 200, 'the very next request passes');
  const again = await api('PUT', `/services/example03/tenants/${TNT2_ID}/provisioning`, { status: 'finished' });
  t.equal(again.status, 200, 'the same report again: idempotent');
  const audits = await api('GET', '/audit?resource=activation');
  t.equal(audits.status, 200);

  t.match((await api('PUT', `/services/example03/tenants/${TNT2_ID}/provisioning`, { status: 'failed', message: 'no database' })).body.data, { state: 'failed', message: 'no database' });
  t.match(await tenantCall(), { status: 503, code: 194 }, 'failed: 503/194');
  t.match((await api('PUT', `/services/example03/tenants/${TNT2_ID}/provisioning`, { status: 'done' })).status, 400, 'a bad status: 400');

  t.match((await api('DELETE', `/tenants/${TNT2_ID}/activations/example03`)).body.data, { state: 'inactive' });
  t.match(await tenantCall(), { status: 403, code: 195 }, 'deactivated: 403/195');
  t.equal((await api('PUT', `/services/example03/tenants/${TNT2_ID}/provisioning`, { status: 'finished' })).status, 404, 'no report on an inactive activation');

  const all = await api('GET', '/services/example03/tenants');
  const ids = all.body.data.tenants.map((r: any) => r.tenant.id);
  t.notOk(ids.includes(TNT2_ID), 'the deactivated tenant is not listed as active');
  t.ok(ids.length > 0 && all.body.data.tenants.every((r: any) => r.state === 'active'), `${ids.length} tenants active (implied by their packages)`);
  const paged = await api('GET', '/services/example03/tenants?limit=1');
  t.equal(paged.body.data.tenants.length, 1);
  const rest = await api('GET', `/services/example03/tenants?limit=1000&after=${paged.body.data.next}`);
  t.equal(1 + rest.body.data.tenants.length, ids.length, 'paging by cursor reaches every tenant once');

  // An implied activation (TNT3's package grants example03) is deactivated by recording it.
  const TNT3_ID = all.body.data.tenants.find((r: any) => r.tenant.code === 'TNT3')?.tenant.id as string;
  t.ok(TNT3_ID, 'TNT3 is listed, implied');
  t.match((await api('DELETE', `/tenants/${TNT3_ID}/activations/example03`)).body.data, { state: 'inactive', implied: false });
  t.equal((await api('DELETE', `/tenants/${TNT3_ID}/activations/urac-nope`)).status, 404, 'a service the tenant neither activated nor holds: 404');

  const back = await api('POST', `/tenants/${TNT2_ID}/activations`, { service: 'example03' });
  t.match(back, { status: 201, body: { data: { state: 'pending' } } }, 'an inactive activation can be activated again (pending again)');
  // Each transition is an event, written with it (issue 17 §2); repeats wrote none.
  const feed = await api('GET', `/events?tenant=${TNT2_ID}&type=service.*&limit=100`);
  t.same(
    feed.body.data.events.map((e: any) => `${e.type}:${e.service}`),
    ['service.activated:example03', 'service.provisioning.finished:example03', 'service.provisioning.failed:example03', 'service.deactivated:example03', 'service.activated:example03'],
    'the feed has every transition once, in order',
  );
  t.equal((await api('PUT', '/tenants/' + TNT2_ID, { code: 'TNT2', name: 'x', type: 'client', activations: {} })).status, 400, 'activations are not written through /tenants');
});
