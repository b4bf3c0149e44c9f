import t from 'tap';
import { DEMO_KEYS, getJson, soajsError } from '../helpers/demo.js';
import { startTesseraProcess } from '../helpers/process.js';

/**
 * The SOAJS example03 tenant-level walkthrough, against `tessera start` run as a process the way
 * `npm start` runs it: demo data, embedded store, bundled example03.
 */
t.test('example03 tenant-level walkthrough', async (t) => {
  const tessera = await startTesseraProcess();
  t.teardown(async () => {
    await tessera.stop();
  });
  const url = (path: string) => `${tessera.url}${path}`;

  t.test('EXAMP_BASIC has no example03: 154', async (t) => {
    const r = await getJson(url('/example03/buildName?lastName=Smith'), { key: DEMO_KEYS.EXAMP_BASIC });
    t.equal(r.status, 401);
    t.same(r.body, soajsError(154, 'Access denied: The service is not available in your current package.'));
  });

  t.test('EXAMP_3ZE08 has every API', async (t) => {
    const r = await getJson(url('/example03/buildName?lastName=Smith'), { key: DEMO_KEYS.EXAMP_3ZE08 });
    t.equal(r.status, 200);
    t.same(r.body, { result: true, data: { tenantName: 'Tenant example', fullName: 'John Smith' } });
    const echo = await getJson(url('/example03/testGet?firstName=John&lastName=Smith'), { key: DEMO_KEYS.EXAMP_3ZE08 });
    t.equal(echo.status, 200);
    t.same(echo.body, { result: true, data: { firstName: 'John', lastName: 'Smith' } });
  });

  t.test('EXAMP_4H6CQ is restricted to /buildName: testGet is 159', async (t) => {
    const ok = await getJson(url('/example03/buildName?firstName=Jane&lastName=Doe'), { key: DEMO_KEYS.EXAMP_4H6CQ });
    t.same(ok.body, { result: true, data: { tenantName: 'Tenant example', fullName: 'Jane Doe' } });
    const denied = await getJson(url('/example03/testGet?firstName=John&lastName=Smith'), { key: DEMO_KEYS.EXAMP_4H6CQ });
    t.equal(denied.status, 401);
    t.same(denied.body, soajsError(159, 'System api access is restricted. api is not in provision.'));
  });

  t.test('TNT1: application A lacks example03, application B grants it by an application-level ACL', async (t) => {
    const a = await getJson(url('/example03/buildName?lastName=Smith'), { key: DEMO_KEYS.TNT1_A });
    t.equal(a.status, 401);
    t.same(a.body, soajsError(154, 'Access denied: The service is not available in your current package.'));
    const b = await getJson(url('/example03/buildName?lastName=Smith'), { key: DEMO_KEYS.TNT1_B });
    t.same(b.body, { result: true, data: { tenantName: 'Client One', fullName: 'John Smith' } });
  });

  t.test('TNT2 sees its own tenant name; the key may also come in the query', async (t) => {
    const r = await getJson(url('/example03/buildName?lastName=Thomas'), { key: DEMO_KEYS.TNT2 });
    t.same(r.body, { result: true, data: { tenantName: 'Client Two', fullName: 'John Thomas' } });
    const q = await getJson(url(`/example03/v1/buildName?lastName=Thomas&key=${DEMO_KEYS.TNT2}`));
    t.same(q.body, { result: true, data: { tenantName: 'Client Two', fullName: 'John Thomas' } });
  });

  t.test('TNT3 is restricted to /buildName', async (t) => {
    const r = await getJson(url('/example03/testGet?firstName=John&lastName=Smith'), { key: DEMO_KEYS.TNT3 });
    t.equal(r.status, 401);
    t.same(r.body, soajsError(159, 'System api access is restricted. api is not in provision.'));
    const ok = await getJson(url('/example03:1/buildName?lastName=Smith'), { key: DEMO_KEYS.TNT3 });
    t.same(ok.body, { result: true, data: { tenantName: 'Client Three', fullName: 'John Smith' } });
  });

  t.test('no key, unknown key, unknown service, hello', async (t) => {
    t.same((await getJson(url('/example03/buildName?lastName=Smith'))).body, soajsError(132, 'A valid key is needed to access any API.'));
    const bad = await getJson(url('/example03/buildName?lastName=Smith'), { key: 'ab'.repeat(96) });
    t.equal(bad.status, 403);
    t.same(bad.body, soajsError(148, 'Unable to load the key information'));
    const unknown = await getJson(url('/nope/x'), { key: DEMO_KEYS.TNT2 });
    t.equal(unknown.status, 404);
    t.same(unknown.body, soajsError(130, 'Unknown service.'));
    const hello = await getJson(url('/'));
    t.equal(hello.status, 200);
    t.same(hello.body, soajsError(136, 'Hello I am here! what do you want me to do!'));
  });

  t.test('heartbeats on the maintenance ports', async (t) => {
    const svc = await getJson(`http://127.0.0.1:${tessera.ports.services['example03']! + 0}/buildName`);
    t.equal(svc.status, 500, 'example03 refuses calls that bypass the gateway');
    t.same(svc.body, soajsError(142, 'extKeyRequired is ON for this service, Make sure your request is going through soajs.controller and a key is in the header'));
    const gw = await getJson(`http://127.0.0.1:${tessera.ports.maintenance}/heartbeat`);
    t.match(gw.body, { result: true, service: { service: 'tessera', type: 'rest', route: '/heartbeat' } });
    const stat = await getJson(`http://127.0.0.1:${tessera.ports.maintenance}/awarenessStat`);
    t.match(stat.body, { result: true, data: { registryVersion: Number, memory: { rss: Number, heapUsed: Number } } });
  });

  t.test('SIGTERM stops the process cleanly', async (t) => {
    t.equal(await tessera.stop('SIGTERM'), 0);
  });
});
