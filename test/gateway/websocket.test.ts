import { request } from 'node:http';
import t from 'tap';
import type { RequestContext } from '../../gateway/context.js';
import { ERRORS } from '../../gateway/errors.js';
import type { Stage } from '../../gateway/stage.js';
import { checkInjectSignature } from '../../registry/view/inject-signature.js';
import { settle, startTestGateway } from '../helpers/gateway.js';
import { startServer } from '../helpers/servers.js';
import { closedWithin, eventually, startWsEcho, wsConnect } from '../helpers/websocket.js';
import { KEY, products, route, services, TID, tenants } from './websocket-fixtures.js';

/**
 * WebSocket through the gateway (issue 16 §5): an upgrade runs the same stages as any request —
 * decide (key, ACL, token), then every-request — and only then reaches the upstream, with the same
 * forwarded headers (the signed soajsinjectobj in, the client's internal headers out).
 */
const FORGED = JSON.stringify({ tenant: { id: 'forged' } });

t.test('an allowed upgrade: 101, messages echoed, the upstream saw our signed context and none of the client internal headers', async (t) => {
  const gw = await startTestGateway({ products, tenants, services, auth: true });
  t.teardown(() => gw.close());
  const echo = await startWsEcho();
  t.teardown(() => echo.close());
  await route(gw, echo, ['chat']);

  const ws = await wsConnect(gw.port, `/chat/room?key=${KEY}&x=1`, {
    'Sec-WebSocket-Protocol': 'chat, superchat',
    'User-Agent': 'ws-test/1',
    soajsinjectobj: FORGED,
    'x-tessera-signature': 't=1,v1=forged',
    'x-forwarded-for': '6.6.6.6',
    'x-real-ip': '6.6.6.6',
    'x-custom': 'kept',
  });
  t.teardown(() => ws.socket.destroy());
  t.equal(ws.status, 101, 'switched (the client checked Sec-WebSocket-Accept)');
  t.equal(ws.headers['sec-websocket-protocol'], 'chat', "the upstream's choice of subprotocol reaches the client");
  t.equal(ws.headers['x-upstream'], 'ws-echo');
  ws.send('hello');
  t.equal(await ws.next(), 'hello', 'echoed');
  const big = 'é'.repeat(40_000);
  ws.send(big);
  t.equal(await ws.next(), big, 'an 80 KB message too');
  t.equal(gw.gateway.ws.sessions, 1, 'one session tracked');
  const stat = (await (await fetch(`http://127.0.0.1:${gw.maintenancePort}/awarenessStat`)).json()) as { data: { websocket: { sessions: number } } };
  t.equal(stat.data.websocket.sessions, 1, 'and counted on the maintenance port');

  t.equal(echo.upgrades.length, 1);
  const seen = echo.upgrades[0]!;
  const h = seen.headers;
  t.equal(seen.url, '/room?x=1', 'the upstream path, without ?key=');
  t.match(h['connection'], /upgrade/i);
  t.equal(h['upgrade'], 'websocket');
  t.equal(h['sec-websocket-version'], '13');
  t.type(h['sec-websocket-key'], 'string');
  t.equal(h['sec-websocket-protocol'], 'chat, superchat');
  t.equal(h['x-custom'], 'kept');
  t.equal(h['x-forwarded-for'], '127.0.0.1', 'x-forwarded-for is the socket address, not the client claim');
  t.equal(h['x-real-ip'], undefined);
  const inject = h['soajsinjectobj'];
  if (typeof inject !== 'string') return t.fail('no soajsinjectobj upstream');
  t.not(inject, FORGED, 'the forged soajsinjectobj is replaced');
  const ctx = JSON.parse(inject) as { tenant: { id: string }; key: { config: Record<string, unknown> }; device: string };
  t.equal(ctx.tenant.id, TID);
  t.same(ctx.key.config, { chat: { room: 'lobby' } });
  t.equal(ctx.device, 'ws-test/1');
  t.equal(checkInjectSignature(gw.secret, inject, h['x-tessera-signature'] as string, Math.floor(Date.now() / 1000)), null, 'signed by the gateway');

  ws.socket.destroy();
  t.not(await eventually(() => echo.openSockets() === 0 && gw.gateway.ws.sessions === 0, 2000), -1, 'closed on both sides');
});

t.test('denials are HTTP answers on the socket, then it closes; the upstream never sees the upgrade', async (t) => {
  const refusals: string[] = [];
  let ran = 0;
  const gate: Stage = {
    name: 'gate',
    kind: 'every-request',
    run(ctx: RequestContext) {
      ran++;
      if (ctx.req.headers['x-refuse'] === undefined) return null;
      refusals.push(ctx.serviceName);
      return ERRORS.UPSTREAM_ERROR;
    },
  };
  const gw = await startTestGateway({ products, tenants, services, auth: true, deps: { everyRequest: [gate] } });
  t.teardown(() => gw.close());
  const echo = await startWsEcho();
  t.teardown(() => echo.close());
  await route(gw, echo, ['chat', 'locked', 'other']);

  const cases: [string, Record<string, string>, number, number, string][] = [
    ['/other/x', { key: KEY }, 401, 154, 'a service not in the package'],
    ['/locked/room', { key: KEY }, 401, 159, 'an API a restricted ACL does not list'],
    ['/chat/room', {}, 403, 132, 'no key'],
    ['/chat/private', { key: KEY, Authorization: 'Bearer not-a-token' }, 401, 401, 'a bad token on a login-only API'],
    ['/chat/room', { key: KEY, 'x-refuse': '1' }, 503, 135, 'an every-request stage'],
  ];
  for (const [path, headers, status, code, what] of cases) {
    const r = await wsConnect(gw.port, path, headers);
    t.equal(r.status, status, `${what}: ${status}`);
    t.same(JSON.parse(r.body), { result: false, errors: { codes: [code], details: [{ code, message: Object.values(ERRORS).find((e) => e.code === code)!.message }] } }, `${what}: code ${code}, in the envelope`);
    t.equal(r.headers['connection'], 'close');
    t.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)));
    t.equal(r.socket.destroyed, true, 'and the socket is closed');
  }
  t.same(echo.upgrades, [], 'none reached the upstream');
  t.same(refusals, ['chat'], 'the every-request stage refused the one it was asked to');
  t.equal(ran, 1, 'and ran only for the upgrade the decide stages allowed');

  const ok = await wsConnect(gw.port, '/locked/listed', { key: KEY });
  t.equal(ok.status, 101, 'the listed API of the restricted ACL upgrades');
  t.equal(ran, 2, 'after the every-request stage ran for it too');
  ok.socket.destroy();
  t.not(await eventually(() => gw.gateway.ws.sessions === 0 && echo.openSockets() === 0, 2000), -1, 'closed on both sides');
});

t.test('no host, a refused connection, no answer in time: 504 on the socket (133, 134); a refused one marks the host down', async (t) => {
  const gw = await startTestGateway({ products, tenants, services, config: { 'timeouts.requestSeconds': 0.3 } });
  t.teardown(() => gw.close());
  const echo = await startWsEcho();
  t.teardown(() => echo.close());
  await route(gw, echo, ['chat']);
  const gone = await startServer(() => undefined);
  const gonePort = gone.port;
  await gone.close();
  await gw.store.registerHost({ service: 'refused', version: '1', host: '127.0.0.1', port: gonePort, maintenancePort: echo.maintenance.port });
  await settle(gw);

  const none = await wsConnect(gw.port, '/nohost/x', { key: KEY });
  t.equal(none.status, 504, 'no host: 504');
  t.match(none.body, /"codes":\[133\]/);

  const refused = await wsConnect(gw.port, '/refused/x', { key: KEY });
  t.equal(refused.status, 504, 'connection refused: 504');
  t.match(refused.body, /"codes":\[133\]/);
  t.equal(gw.gateway.balancer.stats()[`http://127.0.0.1:${gonePort}`]?.healthy, false, 'the host is marked down');

  const t0 = Date.now();
  const silent = await wsConnect(gw.port, '/chat/silent', { key: KEY });
  t.equal(silent.status, 504, 'an upstream that never answers the upgrade: 504');
  t.match(silent.body, /"codes":\[134\]/);
  t.ok(Date.now() - t0 < 2000, `within the request timeout (${Date.now() - t0} ms)`);
  t.not(await eventually(async () => (await echo.connections()) === 0 && gw.gateway.ws.sessions === 0, 2000), -1, 'and its upstream connection is closed');
});

t.test('an upstream that declines the upgrade: its answer reaches the client, framed again', async (t) => {
  const gw = await startTestGateway({ products, tenants, services });
  t.teardown(() => gw.close());
  const echo = await startWsEcho();
  t.teardown(() => echo.close());
  await route(gw, echo, ['chat']);
  const r = await wsConnect(gw.port, '/chat/refuse', { key: KEY });
  t.equal(r.status, 403);
  t.equal(r.body, 'not for you.', 'the body');
  t.equal(r.complete, true, 'whole');
  t.equal(r.headers['transfer-encoding'], 'chunked', 'framed by the gateway');
  t.equal(r.headers['connection'], 'close');
  t.equal(r.headers['x-tessera-registry-version'], undefined, 'internal headers stay inside');
  const broken = await wsConnect(gw.port, '/chat/refuse-abort', { key: KEY });
  t.equal(broken.status, 403, 'an answer broken off mid-body');
  t.equal(broken.body, 'not f', 'reaches the client as far as it came');
  t.equal(broken.complete, false, 'and shows as cut off (no last chunk)');
  t.not(await eventually(async () => (await echo.connections()) === 0 && gw.gateway.ws.sessions === 0, 2000), -1, 'both connections closed');
});

t.test('websocket disabled: 403/192; an upgrade with a body: 400/193; another upgrade (h2c) is plain HTTP', async (t) => {
  const off = await startTestGateway({ products, tenants, services, config: { 'gateway.websocket.enabled': false } });
  t.teardown(() => off.close());
  const echo = await startWsEcho();
  t.teardown(() => echo.close());
  await route(off, echo, ['chat']);
  const disabled = await wsConnect(off.port, '/chat/room', { key: KEY });
  t.equal(disabled.status, 403);
  t.match(disabled.body, /"codes":\[192\]/);
  t.same(echo.upgrades, []);

  const withBody = await wsConnect(off.port, '/chat/room', { key: KEY, 'Content-Length': '5' });
  t.equal(withBody.status, 400);
  t.match(withBody.body, /"codes":\[193\]/);

  // node:http sends it as an upgrade when Connection says so; the answer is an ordinary 200.
  const h2c = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: off.port, path: '/chat/plain', agent: false, headers: { key: KEY, connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA' } });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('upgrade', () => reject(new Error('upgraded')));
    req.on('error', reject);
    req.end();
  });
  t.equal(h2c.status, 200);
  t.same(JSON.parse(h2c.body), { result: true, data: { plain: '/plain' } });
  t.equal(echo.requests[0]?.headers['upgrade'], undefined, 'forwarded without the Upgrade');
});

t.test('the upstream aborts: the client socket closes', async (t) => {
  const gw = await startTestGateway({ products, tenants, services });
  t.teardown(() => gw.close());
  const echo = await startWsEcho();
  t.teardown(() => echo.close());
  await route(gw, echo, ['chat']);
  for (const path of ['/chat/abort-at-upgrade', '/chat/abort-on-message']) {
    const ws = await wsConnect(gw.port, path, { key: KEY });
    t.equal(ws.status, 101, path);
    ws.send('x');
    t.ok(await closedWithin(ws, 2000), `${path}: the client socket is closed`);
  }
  t.not(await eventually(() => gw.gateway.ws.sessions === 0, 2000), -1, 'no session left');
});

t.test('drain: an open session may run until the deadline and is cut then; close after drain returns', async (t) => {
  const gw = await startTestGateway({ products, tenants, services });
  t.teardown(() => gw.close());
  const echo = await startWsEcho();
  t.teardown(() => echo.close());
  await route(gw, echo, ['chat']);
  const ws = await wsConnect(gw.port, '/chat/room', { key: KEY });
  t.equal(ws.status, 101);
  const t0 = Date.now();
  const drained = gw.gateway.drain(400);
  ws.send('still served while draining');
  t.equal(await ws.next(), 'still served while draining');
  const { cut } = await drained;
  t.ok(Date.now() - t0 >= 350, `kept until the deadline (${Date.now() - t0} ms)`);
  t.equal(cut, 1, 'the session was cut, and counted');
  await ws.closed;
  t.not(await eventually(() => echo.openSockets() === 0, 2000), -1, 'the upstream socket is closed too');
  t.equal(gw.gateway.ws.sessions, 0);
  await gw.close();
  t.pass('close after a drain returns');
});
