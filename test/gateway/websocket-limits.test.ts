import t from 'tap';
import { startTestGateway } from '../helpers/gateway.js';
import { eventually, startWsEcho, wsConnect } from '../helpers/websocket.js';
import { KEY, products, route, services, tenants } from './websocket-fixtures.js';

/**
 * A session's limits (issue 16 §5), from short configured values: no bytes either way for
 * `gateway.websocket.idleSeconds` closes both sides; `maxLifetimeSeconds` closes a session
 * however busy it is.
 */
const IDLE_MS = 300;
const LIFETIME_MS = 1200;

t.test('idle timeout and max lifetime close both sides', async (t) => {
  const gw = await startTestGateway({
    products,
    tenants,
    services,
    config: { 'gateway.websocket.idleSeconds': IDLE_MS / 1000, 'gateway.websocket.maxLifetimeSeconds': LIFETIME_MS / 1000 },
  });
  t.teardown(() => gw.close());
  const echo = await startWsEcho();
  t.teardown(() => echo.close());
  await route(gw, echo, ['chat']);

  // Taken before each connect: a session's timers start after it (less 10 ms for timer rounding).
  const t0 = Date.now();
  const quiet = await wsConnect(gw.port, '/chat/quiet', { key: KEY });
  const t1 = Date.now();
  const busy = await wsConnect(gw.port, '/chat/busy', { key: KEY });
  t.teardown(() => {
    quiet.socket.destroy();
    busy.socket.destroy();
  });
  t.equal(quiet.status, 101);
  t.equal(busy.status, 101);
  const quietClosed = quiet.closed.then(() => Date.now() - t0);
  const busyClosed = busy.closed.then(() => Date.now() - t1);

  // Traffic every 100 ms, each message echoed: never idle for IDLE_MS.
  let echoed = 0;
  let stop = false;
  const chatter = (async () => {
    while (!stop) {
      busy.send(`tick ${echoed}`);
      try {
        await busy.next();
      } catch {
        return;
      }
      echoed++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();

  const quietMs = await quietClosed;
  t.ok(quietMs >= IDLE_MS - 10 && quietMs < LIFETIME_MS, `the quiet session closed at the idle timeout (${quietMs} ms, idle ${IDLE_MS})`);
  t.equal(busy.socket.destroyed, false, 'the busy one is still open then');

  const busyMs = await busyClosed;
  stop = true;
  await chatter;
  t.ok(busyMs >= LIFETIME_MS - 10 && busyMs < LIFETIME_MS + 1000, `the busy session closed at its lifetime (${busyMs} ms, lifetime ${LIFETIME_MS})`);
  t.ok(echoed >= 5, `it was busy all along (${echoed} messages echoed)`);
  t.not(await eventually(() => echo.openSockets() === 0 && gw.gateway.ws.sessions === 0, 2000), -1, 'both upstream sockets closed, no session left');
});

t.test('a session ends when the ext key that let it in expires, whatever the configured lifetime', async (t) => {
  const expiring = tenants.map((tn) => ({
    ...tn,
    applications: tn.applications.map((a) => ({ ...a, keys: a.keys.map((k) => ({ ...k, extKeys: k.extKeys.map((e) => ({ ...e, expDate: Date.now() + 800 })) })) })),
  }));
  const gw = await startTestGateway({ products, tenants: expiring, services, config: { 'gateway.websocket.idleSeconds': 60, 'gateway.websocket.maxLifetimeSeconds': 3600 } });
  t.teardown(() => gw.close());
  const echo = await startWsEcho();
  t.teardown(() => echo.close());
  await route(gw, echo, ['chat']);
  const t0 = Date.now();
  const s = await wsConnect(gw.port, '/chat/key', { key: KEY });
  t.teardown(() => s.socket.destroy());
  t.equal(s.status, 101, 'let in while the key is valid');
  const closedMs = await s.closed.then(() => Date.now() - t0);
  t.ok(closedMs < 3000, `cut when the key expired (${closedMs} ms; lifetime 3600 s)`);
  t.not(await eventually(() => echo.openSockets() === 0 && gw.gateway.ws.sessions === 0, 2000), -1, 'both sides closed');
});
