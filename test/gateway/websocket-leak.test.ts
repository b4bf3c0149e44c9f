import { connect } from 'node:net';
import t from 'tap';
import { startTestGateway } from '../helpers/gateway.js';
import { closedWithin, eventually, startWsEcho, wsConnect } from '../helpers/websocket.js';
import { KEY, products, route, services, tenants } from './websocket-fixtures.js';

/**
 * No socket outlives its session (issue 16 §5; http-proxy's WebSocket path is known to leave them
 * open: http-party/node-http-proxy#1559, sagemathinc/cocalc#8324). Clients abort in every way a
 * client does — during the handshake, right after the 101, after a message, with a FIN or a reset —
 * and so do upstreams; afterwards the upstream holds no connection and the gateway no session.
 */
const SESSIONS = 1000;
const UPSTREAM_ABORTS = 200;
const CONCURRENCY = 50;

async function inBatches(n: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

const gatewayConnections = (server: import('node:http').Server) =>
  new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));

t.test(`${SESSIONS} sessions aborted by their clients leave no socket open`, async (t) => {
  const gw = await startTestGateway({ products, tenants, services });
  t.teardown(() => gw.close());
  const echo = await startWsEcho();
  t.teardown(() => echo.close());
  await route(gw, echo, ['chat']);

  const how = { inStages: 0, awaitingUpgrade: 0, afterUpgrade: 0, afterMessage: 0, reset: 0 };
  const failures: string[] = [];
  await inBatches(SESSIONS, async (i) => {
    try {
      if (i % 5 <= 1) {
        // Gone before the 101: at once (the gateway may still be in its stages), or while the
        // upstream holds the upgrade unanswered — http-proxy alone would keep that connection open.
        const path = i % 5 === 0 ? '/chat/room' : `/chat/silent?i=${i}`;
        const s = connect(gw.port, '127.0.0.1');
        s.on('error', () => undefined);
        s.write(`GET ${path} HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.alloc(16, i).toString('base64')}\r\nkey: ${KEY}\r\n\r\n`);
        if (i % 5 === 1 && (await eventually(() => echo.upgrades.some((u) => u.url === `/silent?i=${i}`), 5000)) === -1) throw new Error('never reached the upstream');
        s.destroy();
        if (i % 5 === 0) how.inStages++;
        else how.awaitingUpgrade++;
        return;
      }
      const ws = await wsConnect(gw.port, '/chat/room', { key: KEY });
      if (ws.status !== 101) throw new Error(`status ${ws.status}`);
      if (i % 5 === 2) {
        ws.socket.destroy();
        how.afterUpgrade++;
        return;
      }
      ws.send(`message ${i}`);
      const back = await ws.next();
      if (back !== `message ${i}`) throw new Error(`echo ${back}`);
      if (i % 5 === 3) {
        ws.socket.destroy();
        how.afterMessage++;
      } else {
        ws.socket.resetAndDestroy();
        how.reset++;
      }
    } catch (err) {
      failures.push(`${i}: ${(err as Error).message}`);
    }
  });
  t.same(failures, [], 'every session that was to open opened and echoed');
  const each = SESSIONS / 5;
  t.same(how, { inStages: each, awaitingUpgrade: each, afterUpgrade: each, afterMessage: each, reset: each }, 'aborted in each way');

  let left = { upstreamSockets: -1, upstreamUpgraded: -1, sessions: -1, gatewayConnections: -1 };
  const waited = await eventually(async () => {
    left = {
      upstreamSockets: await echo.connections(),
      upstreamUpgraded: echo.openSockets(),
      sessions: gw.gateway.ws.sessions,
      gatewayConnections: await gatewayConnections(gw.gateway.server),
    };
    return left.upstreamSockets === 0 && left.upstreamUpgraded === 0 && left.sessions === 0 && left.gatewayConnections === 0;
  }, 5000);
  t.same(left, { upstreamSockets: 0, upstreamUpgraded: 0, sessions: 0, gatewayConnections: 0 }, 'nothing left open');
  t.not(waited, -1, `within 5 s (took ${waited} ms; the upstream saw ${echo.upgrades.length} upgrades for ${SESSIONS} sessions)`);
  t.ok(echo.upgrades.length >= each * 4, 'every session but those gone in the stages reached the upstream');
});

t.test(`${UPSTREAM_ABORTS} sessions aborted by the upstream close their clients`, async (t) => {
  const gw = await startTestGateway({ products, tenants, services });
  t.teardown(() => gw.close());
  const echo = await startWsEcho();
  t.teardown(() => echo.close());
  await route(gw, echo, ['chat']);

  const failures: string[] = [];
  await inBatches(UPSTREAM_ABORTS, async (i) => {
    const path = i % 2 === 0 ? '/chat/abort-at-upgrade' : '/chat/abort-on-message';
    try {
      const ws = await wsConnect(gw.port, path, { key: KEY });
      if (ws.status !== 101) throw new Error(`status ${ws.status}`);
      ws.send('x');
      if (!(await closedWithin(ws, 5000))) {
        ws.socket.destroy();
        throw new Error(`${path}: the client socket stayed open`);
      }
    } catch (err) {
      failures.push(`${i}: ${(err as Error).message}`);
    }
  });
  t.same(failures, [], 'every client socket was closed by the gateway');
  t.not(await eventually(async () => gw.gateway.ws.sessions === 0 && (await gatewayConnections(gw.gateway.server)) === 0, 5000), -1, 'no session or connection left');
});
