import { once } from 'node:events';
import { Agent, request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t from 'tap';
import type { Service } from '../../registry/view/types.js';
import { settle, startTestGateway } from '../helpers/gateway.js';
import { startServer } from '../helpers/servers.js';

/**
 * The proxy streams both ways. Lock-step echo: a gateway that buffers either direction never
 * returns chunk N before chunk N+1 is sent, and the test times out.
 */

// Live memory is what buffering would grow: measure after a full collection, not before one.
// (arrayBuffers is left out: freed backing stores are swept concurrently and it swings by ~25 MiB
// even after gc(); the back-pressure tests below bound Buffer retention instead.)
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function liveHeap(): number {
  gc();
  return process.memoryUsage().heapUsed;
}
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const MiB = 1024 * 1024;
const BIG = 64 * MiB;
/**
 * Back-pressure tests stall a transfer and look at how far it got. Kernel socket buffers alone may
 * hold tens of MiB on loopback (two sockets, tcp_rmem max is often 32 MiB), so the body is made
 * much larger than that and the bound is half of it: a buffering gateway takes all of it.
 */
const HUGE = 256 * MiB;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Upstream behaviours by path. */
let generated = 0;
let held: { req: IncomingMessage; res: ServerResponse } | null = null;
let slowResponse: ServerResponse | null = null;
let slowClosed: Promise<{ at: number; finished: boolean }> | null = null;
let silentClosed: Promise<number> | null = null;
const upstream = await startServer((req: IncomingMessage, res: ServerResponse) => {
  const path = (req.url ?? '').split('?')[0];
  if (path === '/echo') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.flushHeaders();
    req.pipe(res);
  } else if (path === '/count') {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes }));
    });
  } else if (path === '/generate') {
    req.resume();
    const size = Number(new URL(req.url ?? '/', 'http://upstream').searchParams.get('mib') ?? '64') * MiB;
    const block = Buffer.alloc(MiB, 0x62);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    let sent = 0;
    generated = 0;
    const pump = () => {
      while (sent < size) {
        sent += block.length;
        generated = sent;
        if (!res.write(block)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  } else if (path === '/headers-first') {
    // SSE / long-poll shape: headers at once, the body later.
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const later = setTimeout(() => res.end('data: done\n\n'), 1500);
    res.on('close', () => clearTimeout(later));
  } else if (path === '/hold') {
    // Reads nothing until the test says so: node stops reading the socket once req's buffer is full.
    req.pause();
    held = { req, res };
  } else if (path === '/silent') {
    // Never answers; says when the gateway gives up the exchange.
    req.resume();
    silentClosed = new Promise((resolve) => res.on('close', () => resolve(Date.now())));
  } else if (path === '/endless') {
    req.resume();
    slowResponse = res;
    slowClosed = new Promise((resolve) => res.on('close', () => resolve({ at: Date.now(), finished: res.writableFinished })));
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const block = Buffer.alloc(16 * 1024, 0x63);
    // Bounded: 60 s at 50 writes/s would be 48 MiB; the test aborts long before.
    let left = 3000;
    const tick = setInterval(() => {
      if (res.destroyed || left-- <= 0) {
        clearInterval(tick);
        if (!res.destroyed) res.end();
        return;
      }
      res.write(block);
    }, 20);
    res.on('close', () => clearInterval(tick));
  } else {
    res.writeHead(404);
    res.end();
  }
});
t.teardown(() => upstream.close());
const maintenance = await startServer((_req, res) => res.end('{"result":true}'));
t.teardown(() => maintenance.close());

const services: Service[] = [{ name: 'stream', port: 4100, versions: { '1': { extKeyRequired: false, oauth: false } } }];
const gw = await startTestGateway({ services });
t.teardown(() => gw.close());
await gw.store.registerHost({ service: 'stream', version: '1', host: '127.0.0.1', port: upstream.port, maintenancePort: maintenance.port });
await settle(gw);

function open(path: string, method: string, headers: Record<string, string | number>): ClientRequest {
  return request({ host: '127.0.0.1', port: gw.port, path, method, headers, agent: false });
}

t.test('lock-step echo: each chunk comes back before the next is sent', async (t) => {
  const req = open('/stream/echo', 'POST', { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' });
  req.on('error', () => undefined);
  t.teardown(() => {
    req.destroy();
  });
  const responded = once(req, 'response') as Promise<[IncomingMessage]>;
  req.flushHeaders();

  const received: Buffer[] = [];
  let receivedBytes = 0;
  let wake: (() => void) | null = null;
  let res: IncomingMessage | null = null;
  let sentBytes = 0;
  const ROUNDS = 8;
  for (let i = 0; i < ROUNDS; i++) {
    const chunk = Buffer.from(`chunk ${i} ${'.'.repeat(100 + i * 37)}\n`);
    req.write(chunk);
    sentBytes += chunk.length;
    if (res === null) {
      const [r] = await withTimeout(responded, 5000, 'response headers');
      res = r;
      t.equal(res.statusCode, 200);
      res.on('data', (c: Buffer) => {
        received.push(c);
        receivedBytes += c.length;
        wake?.();
      });
    }
    const target = sentBytes;
    await withTimeout(
      new Promise<void>((resolve) => {
        if (receivedBytes >= target) return resolve();
        wake = () => {
          if (receivedBytes >= target) {
            wake = null;
            resolve();
          }
        };
      }),
      5000,
      `chunk ${i} back through the gateway`,
    );
    t.equal(receivedBytes, sentBytes, `round ${i}: exactly what was sent so far came back`);
  }
  req.end();
  if (res !== null) await withTimeout(once(res, 'end'), 5000, 'response end');
  const text = Buffer.concat(received).toString();
  t.match(text, /^chunk 0 /);
  t.match(text, /chunk 7 \.+\n$/);
  t.equal(text.split('\n').length - 1, ROUNDS, 'every chunk, in order');
});

t.test('64 MiB upload streams to the upstream; heapUsed stays far below 64 MiB', async (t) => {
  const base = liveHeap();
  let peak = base;
  const req = open('/stream/count', 'POST', { 'content-type': 'application/octet-stream', 'content-length': BIG });
  req.on('error', () => undefined);
  t.teardown(() => {
    req.destroy();
  });
  const responded = once(req, 'response') as Promise<[IncomingMessage]>;
  const block = Buffer.alloc(MiB, 0x61);
  for (let sent = 0; sent < BIG; sent += block.length) {
    // sampled while the transfer runs, at fixed points: every 8 MiB written
    if (sent % (8 * MiB) === 0) peak = Math.max(peak, liveHeap());
    if (!req.write(block)) await withTimeout(once(req, 'drain'), 10_000, 'upload drain');
  }
  req.end();
  const [res] = await withTimeout(responded, 10_000, 'upload response');
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);

  t.equal(res.statusCode, 200);
  t.strictSame(JSON.parse(Buffer.concat(chunks).toString()), { bytes: BIG }, 'the upstream counted every byte');
  t.ok(peak - base < 32 * MiB, `heapUsed grew by ${((peak - base) / MiB).toFixed(1)} MiB`);
});

t.test('64 MiB download streams to the client; heapUsed stays far below 64 MiB', async (t) => {
  const base = liveHeap();
  let peak = base;
  const req = open('/stream/generate', 'GET', {});
  req.on('error', () => undefined);
  t.teardown(() => {
    req.destroy();
  });
  req.end();
  const [res] = await withTimeout(once(req, 'response') as Promise<[IncomingMessage]>, 10_000, 'download response');
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-length'], String(BIG), 'length relayed');
  let bytes = 0;
  let next = 0;
  for await (const c of res) {
    bytes += (c as Buffer).length;
    if (bytes >= next) {
      next += 8 * MiB;
      peak = Math.max(peak, liveHeap());
    }
  }
  t.equal(bytes, BIG, 'every byte arrived');
  t.ok(peak - base < 32 * MiB, `heapUsed grew by ${((peak - base) / MiB).toFixed(1)} MiB`);
});

/** Waits until `read()` stops changing for 600 ms (bounded), and returns its last value. */
async function whenStalled(read: () => number): Promise<number> {
  let last = -1;
  let stable = 0;
  for (let i = 0; i < 100 && stable < 3; i++) {
    const now = read();
    stable = now === last ? stable + 1 : 0;
    last = now;
    await sleep(200);
  }
  return last;
}

t.test('back-pressure: a client that stops reading stalls the upstream', async (t) => {
  const req = open(`/stream/generate?mib=${HUGE / MiB}`, 'GET', {});
  req.on('error', () => undefined);
  t.teardown(() => {
    req.destroy();
  });
  req.end();
  const [res] = await withTimeout(once(req, 'response') as Promise<[IncomingMessage]>, 10_000, 'download response');
  res.pause();
  const stalledAt = await whenStalled(() => generated);
  // Without buffering only socket buffers (kernel + stream high-water marks, two hops) hold data.
  t.ok(stalledAt < HUGE / 2, `upstream stalled after ${(stalledAt / MiB).toFixed(0)} MiB of ${HUGE / MiB}`);
  let bytes = 0;
  res.on('data', (c: Buffer) => (bytes += c.length));
  res.resume();
  await withTimeout(once(res, 'end'), 30_000, 'download end');
  t.equal(bytes, HUGE, 'resumed to the end');
});

t.test('back-pressure: an upstream that stops reading stalls the client', async (t) => {
  held = null;
  const req = open('/stream/hold', 'POST', { 'content-type': 'application/octet-stream', 'content-length': HUGE });
  req.on('error', () => undefined);
  t.teardown(() => {
    req.destroy();
  });
  const responded = once(req, 'response') as Promise<[IncomingMessage]>;
  const block = Buffer.alloc(MiB, 0x61);
  let written = 0;
  let stalled = false;
  while (written < HUGE) {
    written += block.length;
    if (!req.write(block)) {
      const drained = await Promise.race([once(req, 'drain').then(() => true), sleep(1500).then(() => false)]);
      if (!drained) {
        stalled = true;
        break;
      }
    }
  }
  t.ok(stalled, 'the client could not push the whole body');
  t.ok(written < HUGE / 2, `client stalled after ${(written / MiB).toFixed(0)} MiB of ${HUGE / MiB}`);
  const h = held as { req: IncomingMessage; res: ServerResponse } | null;
  if (h === null) return t.fail('request reached the upstream');

  // Let it flow: everything arrives.
  let bytes = 0;
  h.req.on('data', (c: Buffer) => (bytes += c.length));
  h.req.on('end', () => {
    h.res.writeHead(200, { 'content-type': 'application/json' });
    h.res.end(JSON.stringify({ bytes }));
  });
  h.req.resume();
  const pump = async () => {
    while (written < HUGE) {
      written += block.length;
      if (!req.write(block)) await withTimeout(once(req, 'drain'), 10_000, 'upload drain');
    }
    req.end();
  };
  await pump();
  const [res] = await withTimeout(responded, 30_000, 'upload response');
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  t.strictSame(JSON.parse(Buffer.concat(chunks).toString()), { bytes: HUGE }, 'released: everything arrived');
});

t.test('a client that aborts mid-download closes the upstream exchange', async (t) => {
  slowResponse = null;
  slowClosed = null;
  const req = open('/stream/endless', 'GET', {});
  req.on('error', () => undefined);
  req.end();
  const [res] = await withTimeout(once(req, 'response') as Promise<[IncomingMessage]>, 5000, 'response');
  t.equal(res.statusCode, 200);
  res.on('error', () => undefined);
  await withTimeout(once(res, 'data'), 5000, 'first bytes');
  t.ok(slowResponse, 'the upstream is streaming');
  const closedPromise = slowClosed as Promise<{ at: number; finished: boolean }> | null;
  if (closedPromise === null) return t.fail('upstream response seen');

  const abortedAt = Date.now();
  req.destroy();
  const closed = await withTimeout(closedPromise, 3000, 'upstream close after client abort');
  t.ok(closed.at - abortedAt < 2000, `upstream closed ${closed.at - abortedAt} ms after the abort`);
  t.equal(closed.finished, false, 'the upstream response was cut, not completed');
});

t.test('a client that gives up before the upstream answers closes the upstream exchange', async (t) => {
  // Round 1 on a fresh connection; round 2 on a keep-alive connection that has already served a
  // request to the end: what is in flight on a connection must be tracked past its first request.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  let servedOn: number | undefined;
  for (const round of [1, 2]) {
    silentClosed = null;
    if (round === 2) {
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const r = request({ host: '127.0.0.1', port: gw.port, path: '/stream/count', method: 'POST', agent }, resolve);
        r.on('error', reject);
        r.end('abc');
      });
      servedOn = res.socket.localPort;
      for await (const _ of res) void _;
    }
    const req = round === 1 ? open('/stream/silent', 'GET', {}) : request({ host: '127.0.0.1', port: gw.port, path: '/stream/silent', agent });
    if (round === 2) req.on('socket', (s) => t.equal(s.localPort, servedOn, 'round 2 reuses the connection that served a request'));
    req.on('error', () => undefined);
    req.end();
    const deadline = Date.now() + 5000;
    while (silentClosed === null && Date.now() < deadline) await sleep(10);
    const closedPromise = silentClosed as Promise<number> | null;
    if (closedPromise === null) return t.fail('the upstream got the request');
    const abortedAt = Date.now();
    req.destroy();
    const at = await withTimeout(closedPromise, 3000, `round ${round}: upstream close after the client left`);
    t.ok(at - abortedAt < 2000, `round ${round}: upstream closed ${at - abortedAt} ms after the client left`);
  }
});

t.test('a keep-alive connection serves request after request; each finished one leaves nothing behind', async (t) => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  for (let i = 0; i < 5; i++) {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const r = request({ host: '127.0.0.1', port: gw.port, path: '/stream/count', method: 'POST', agent }, resolve);
      r.on('error', reject);
      r.end('abc');
    });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    t.strictSame(JSON.parse(Buffer.concat(chunks).toString()), { bytes: 3 });
  }
});

t.test('response headers are relayed as soon as the upstream sends them', async (t) => {
  const started = Date.now();
  const req = open('/stream/headers-first', 'GET', {});
  req.on('error', () => undefined);
  t.teardown(() => {
    req.destroy();
  });
  req.end();
  const [res] = await withTimeout(once(req, 'response') as Promise<[IncomingMessage]>, 5000, 'response headers');
  const headersAfter = Date.now() - started;
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'text/event-stream');
  t.ok(headersAfter < 1000, `headers reached the client ${headersAfter} ms after the request (upstream sent them at once, its body after 1500 ms)`);
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  t.equal(Buffer.concat(chunks).toString(), 'data: done\n\n');
});
