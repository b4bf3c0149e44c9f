import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import t from 'tap';
import type { Service } from '../../registry/view/types.js';
import { settle, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startServer, type TestServer } from '../helpers/servers.js';

/**
 * Upstream timeouts: no headers in time → 504/134; a body that stops mid-way → the client
 * connection is cut (the status is already on the wire); the service's `requestTimeout` wins over
 * the config default `timeouts.requestSeconds`.
 */

const TIMEOUT_BODY = {
  result: false,
  errors: {
    codes: [134],
    details: [{ code: 134, message: 'All requests to the service you are trying to reach are timing out.' }],
  },
};

/** How a request ended, as the client saw it. */
interface Outcome {
  status: number | null;
  body: string;
  /** The response arrived whole. */
  complete: boolean;
  error: string | null;
  elapsedMs: number;
}

/** Never hangs: gives up after `limitMs` and reports `error: 'client gave up'`. */
function outcome(port: number, path: string, limitMs = 8000): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const out: Outcome = { status: null, body: '', complete: false, error: null, elapsedMs: 0 };
    let settled = false;
    const done = (error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(limit);
      out.error = error;
      out.elapsedMs = Date.now() - started;
      req.destroy();
      resolve(out);
    };
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res: IncomingMessage) => {
      out.status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (c: string) => (out.body += c));
      res.on('end', () => {
        out.complete = res.complete;
        done(null);
      });
      res.on('aborted', () => done('aborted'));
      res.on('error', (err) => done(err.message || 'response error'));
      res.on('close', () => done(res.complete ? null : 'closed before the end'));
    });
    req.on('error', (err) => done(err.message || 'request error'));
    const limit = setTimeout(() => done('client gave up'), limitMs);
    req.end();
  });
}

/** One upstream, behaviour by path. Requests it holds are released when it closes. */
let stalledClosed = 0;
async function startUpstream(): Promise<TestServer> {
  return startServer((req, res: ServerResponse) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://upstream');
    switch (url.pathname) {
      case '/never':
        return; // no headers, ever
      case '/stall-body': {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 1000 });
        res.write('partial');
        res.on('close', () => stalledClosed++);
        return; // 993 bytes never come
      }
      case '/stall-after-headers': {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 1000 });
        res.flushHeaders();
        return;
      }
      case '/after': {
        const ms = Number(url.searchParams.get('ms') ?? '0');
        const timer = setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ result: true, waited: ms }));
        }, ms);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      default:
        res.writeHead(404);
        res.end();
    }
  });
}

async function register(gw: TestGateway, services: readonly string[], upstream: TestServer, maintenance: TestServer) {
  for (const service of services) {
    await gw.store.registerHost({ service, version: '1', host: '127.0.0.1', port: upstream.port, maintenancePort: maintenance.port });
  }
  await settle(gw);
}

const flags = { '1': { extKeyRequired: false, oauth: false } };

const upstream = await startUpstream();
t.teardown(() => upstream.close());
const maintenance = await startServer((_req, res) => res.end('{"result":true}'));
t.teardown(() => maintenance.close());

t.test('service requestTimeout: 1 s', async (t) => {
  const services: Service[] = [{ name: 'quick', port: 4100, requestTimeout: 1, versions: flags }];
  const gw = await startTestGateway({ services });
  t.teardown(() => gw.close());
  await register(gw, ['quick'], upstream, maintenance);

  t.test('an upstream that never answers → 504 code 134 in about a second', async (t) => {
    const o = await outcome(gw.port, '/quick/never');
    t.equal(o.status, 504);
    t.strictSame(o.body === '' ? null : JSON.parse(o.body), TIMEOUT_BODY);
    t.ok(o.elapsedMs >= 900, `not before the timeout (${o.elapsedMs} ms)`);
    t.ok(o.elapsedMs < 3000, `soon after it (${o.elapsedMs} ms)`);
  });

  t.test('an answer within the timeout passes', async (t) => {
    const o = await outcome(gw.port, '/quick/after?ms=300');
    t.equal(o.status, 200);
    t.strictSame(o.body === '' ? null : JSON.parse(o.body), { result: true, waited: 300 });
    t.equal(o.error, null);
  });

  t.test('a body that stalls after the status was sent: the client connection is cut', async (t) => {
    const closedBefore = stalledClosed;
    const o = await outcome(gw.port, '/quick/stall-body');
    t.equal(o.status, 200, 'the upstream status had been relayed');
    t.equal(o.body, 'partial', 'what came before the stall was relayed');
    t.equal(o.complete, false, 'the response did not complete');
    t.not(o.error, null, `the client saw the cut (${o.error ?? ''})`);
    t.not(o.error, 'client gave up', 'cut by the gateway, not by the test');
    t.ok(o.elapsedMs >= 900 && o.elapsedMs < 3500, `cut after ${o.elapsedMs} ms`);
    // the gateway also let go of the upstream
    for (let i = 0; i < 20 && stalledClosed === closedBefore; i++) await new Promise((r) => setTimeout(r, 100));
    t.equal(stalledClosed, closedBefore + 1, 'the stalled upstream response was closed');
  });

  t.test('headers only, then nothing: not hung either', async (t) => {
    const o = await outcome(gw.port, '/quick/stall-after-headers');
    t.not(o.error, 'client gave up', `ended by the gateway (${o.error ?? 'complete'}, status ${String(o.status)})`);
    t.equal(o.complete, false, 'no complete 200 was made up');
    t.ok(o.elapsedMs < 3500, `ended after ${o.elapsedMs} ms`);
  });
});

t.test('config timeouts.requestSeconds is the default; a service value wins', async (t) => {
  const services: Service[] = [
    { name: 'defaulted', port: 4100, versions: flags },
    { name: 'patient', port: 4100, requestTimeout: 5, versions: flags },
  ];
  const gw = await startTestGateway({ services, config: { 'timeouts.requestSeconds': 1 } });
  t.teardown(() => gw.close());
  await register(gw, ['defaulted', 'patient'], upstream, maintenance);

  const never = await outcome(gw.port, '/defaulted/never');
  t.equal(never.status, 504);
  t.strictSame(never.body === '' ? null : JSON.parse(never.body), TIMEOUT_BODY);
  t.ok(never.elapsedMs >= 900 && never.elapsedMs < 3000, `134 after ${never.elapsedMs} ms`);

  const slow = await outcome(gw.port, '/defaulted/after?ms=1800');
  t.equal(slow.status, 504, 'the 1 s default applies to a 1.8 s answer');

  const patient = await outcome(gw.port, '/patient/after?ms=1800');
  t.equal(patient.status, 200, 'the service timeout (5 s) wins over the config (1 s)');
  t.strictSame(patient.body === '' ? null : JSON.parse(patient.body), { result: true, waited: 1800 });
});

t.test('the built-in default (30 s) does not cut a 1.5 s answer', async (t) => {
  const services: Service[] = [{ name: 'standard', port: 4100, versions: flags }];
  const gw = await startTestGateway({ services });
  t.teardown(() => gw.close());
  t.equal(gw.config.timeouts.requestSeconds, 30);
  await register(gw, ['standard'], upstream, maintenance);
  const o = await outcome(gw.port, '/standard/after?ms=1500');
  t.equal(o.status, 200);
});
