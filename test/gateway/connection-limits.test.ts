import { readdirSync } from 'node:fs';
import { request, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import t from 'tap';
import type { Service } from '../../registry/view/types.js';
import { settle, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startServer } from '../helpers/servers.js';

/**
 * What a client can hold of the gateway is bounded (issue 16 §2): a body past its service's
 * `maxBodyBytes` gets 413/188, declared or streamed; a client that stops reading its answer is cut
 * after `gateway.sendTimeoutSeconds` and the upstream let go; connections past
 * `gateway.maxConnections` are closed at once; 10,000 slowloris attempts leave no descriptors and
 * no memory behind.
 */

const openFds = () => readdirSync('/proc/self/fd').length;

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (await cond()) return true;
  return cond();
}

const BIG = 4 * 1024 * 1024;
const upstreamSeen: { url: string; bytes: number }[] = [];
const pending = new Set<ServerResponse>();
const upstream = await startServer((req, res) => {
  if (req.url?.startsWith('/big')) {
    pending.add(res);
    res.on('close', () => pending.delete(res));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG });
    res.end(Buffer.alloc(BIG, 120));
    return;
  }
  let bytes = 0;
  req.on('data', (c: Buffer) => (bytes += c.length));
  req.on('end', () => {
    upstreamSeen.push({ url: req.url ?? '', bytes });
    res.end(JSON.stringify({ result: true, bytes }));
  });
});
t.teardown(() => upstream.close());
const heartbeat = await startServer((_req, res) => res.end('{"result":true}'));
t.teardown(() => heartbeat.close());

const flags = { '1': { extKeyRequired: false, oauth: false } };
async function gatewayWith(services: Service[], config: Record<string, unknown> = {}): Promise<TestGateway> {
  const gw = await startTestGateway({ services, config });
  for (const s of services) await gw.store.registerHost({ service: s.name, version: '1', host: '127.0.0.1', port: upstream.port, maintenancePort: heartbeat.port });
  await settle(gw);
  return gw;
}

/** A POST of `bytes`, declared (content-length) or chunked; status, code and whether the gateway closed the connection. */
function post(port: number, path: string, bytes: number, chunked: boolean): Promise<{ status: number; code: number | null; close: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(bytes) } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            code: body.startsWith('{"result":false') ? ((JSON.parse(body) as { errors: { codes: number[] } }).errors.codes[0] ?? null) : null,
            close: res.headers.connection === 'close',
          }),
        );
      },
    );
    req.on('error', (err) => (req.writableEnded ? undefined : reject(err)));
    const chunk = Buffer.alloc(1000, 97);
    let left = bytes;
    const pump = (): void => {
      while (left > 0) {
        const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= part.length;
        if (!req.write(part)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

t.test('request bodies: a service’s maxBodyBytes, declared or streamed → 413/188; the gateway default for the rest', async (t) => {
  const gw = await gatewayWith(
    [
      { name: 'small', port: 4100, maxBodyBytes: 5000, versions: flags },
      { name: 'open', port: 4100, maxBodyBytes: 0, versions: flags },
      { name: 'plain', port: 4100, versions: flags },
    ],
    { 'gateway.maxBodyBytes': 20_000 },
  );
  t.teardown(() => gw.close());
  upstreamSeen.length = 0;

  t.match(await post(gw.port, '/small/x', 5000, false), { status: 200 }, 'at the limit, declared');
  t.match(await post(gw.port, '/small/x', 5000, true), { status: 200 }, 'at the limit, chunked');
  t.same(
    upstreamSeen.map((s) => s.bytes),
    [5000, 5000],
    'both reached the upstream whole',
  );
  upstreamSeen.length = 0;
  t.match(await post(gw.port, '/small/x', 5001, false), { status: 413, code: 188, close: true }, 'one byte over, declared: 413, connection closed');
  t.equal(upstreamSeen.length, 0, 'a declared excess never reaches the upstream');
  t.match(await post(gw.port, '/small/x', 50_000, true), { status: 413, code: 188, close: true }, 'over, chunked: 413 once the limit is passed');
  t.equal(upstreamSeen.length, 0, 'the upstream got no complete request');

  t.match(await post(gw.port, '/plain/x', 20_001, false), { status: 413, code: 188 }, 'no service limit: the gateway default');
  t.match(await post(gw.port, '/plain/x', 20_000, false), { status: 200 });
  t.match(await post(gw.port, '/open/x', 100_000, true), { status: 200 }, 'maxBodyBytes 0: no limit, whatever the default');
});

t.test('clients that never read their answers are cut after sendTimeoutSeconds, and the upstream let go', async (t) => {
  const gw = await gatewayWith([{ name: 'files', port: 4100, versions: flags }], { 'gateway.sendTimeoutSeconds': 1 });
  t.teardown(() => gw.close());
  const baseline = openFds();
  const sockets: Socket[] = [];
  for (let i = 0; i < 100; i++) {
    const s = connect(gw.port, '127.0.0.1');
    s.on('error', () => undefined);
    s.write('GET /files/big HTTP/1.1\r\nHost: h\r\n\r\n');
    s.pause(); // never reads
    sockets.push(s);
  }
  t.ok(await until(() => pending.size > 0, 3000), 'the upstream answers are under way');
  const connections = () => new Promise<number>((r) => gw.gateway.server.getConnections((_e, n) => r(n)));
  t.ok(await until(async () => (await connections()) === 0, 5000), 'every gateway connection was cut within the bound');
  t.ok(await until(() => pending.size === 0, 3000), 'every upstream response was released');
  for (const s of sockets) s.destroy();
  t.ok(await until(() => openFds() <= baseline + 5, 3000), `descriptors back to the baseline (${openFds()} vs ${baseline})`);
});

t.test('gateway.maxConnections: the next connection is closed at once; one freed, one accepted', async (t) => {
  const gw = await gatewayWith([], { 'gateway.maxConnections': 5 });
  t.teardown(() => gw.close());
  const open = await Promise.all(
    Array.from({ length: 5 }, () => new Promise<Socket>((resolve) => {
      const s = connect(gw.port, '127.0.0.1', () => resolve(s));
    })),
  );
  t.ok(await until(async () => (await new Promise<number>((r) => gw.gateway.server.getConnections((_e, n) => r(n)))) === 5, 2000));
  const refused = await new Promise<string>((resolve) => {
    const s = connect(gw.port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
    let data = '';
    s.on('data', (c) => (data += c.toString()));
    s.on('error', () => resolve('reset'));
    s.on('close', () => resolve(data === '' ? 'closed' : data));
  });
  t.ok(refused === 'closed' || refused === 'reset', `the sixth is closed without an answer (${refused.slice(0, 20)})`);
  open[0]!.destroy();
  await until(async () => (await new Promise<number>((r) => gw.gateway.server.getConnections((_e, n) => r(n)))) === 4, 2000);
  const res = await fetch(`${gw.url}/`);
  t.equal(res.status, 200, 'a freed place is taken again');
  for (const s of open) s.destroy();
});

t.test('10,000 slowloris attempts: every one ends, no descriptor and no memory is kept', async (t) => {
  const gw = await gatewayWith([], { 'gateway.headersTimeoutSeconds': 1, 'timeouts.clientRequestSeconds': 10 });
  t.teardown(() => gw.close());
  /** `n` connections that send half a request head; `wait`: until the gateway cuts them (408), else they give up after writing. */
  const wave = (n: number, wait: boolean) =>
    Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<string>((resolve) => {
            const s = connect(gw.port, '127.0.0.1', () => {
              s.write('GET /svc/x HTTP/1.1\r\nHost: h\r\nX-Slow: ');
              if (!wait) setImmediate(() => s.destroy());
            });
            let data = '';
            s.on('data', (c) => (data += c.toString()));
            s.on('error', () => undefined);
            s.on('close', () => resolve(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 'closed'));
          }),
      ),
    );
  await wave(200, false);
  const fdBase = openFds();
  global.gc?.();
  const rssBase = process.memoryUsage().rss;
  let answered408 = 0;
  for (let i = 0; i < 2; i++) answered408 += (await wave(500, true)).filter((s) => s === '408').length;
  for (let i = 0; i < 18; i++) await wave(500, false);
  t.equal(answered408, 1000, 'every attempt left waiting was answered 408 by the gateway');
  const connections = () => new Promise<number>((r) => gw.gateway.server.getConnections((_e, n) => r(n)));
  t.ok(await until(async () => (await connections()) === 0, 3000), 'no connection left');
  t.ok(await until(() => openFds() <= fdBase + 5, 3000), `descriptors back to the baseline (${openFds()} vs ${fdBase})`);
  const grown = (process.memoryUsage().rss - rssBase) / 1024 / 1024;
  t.ok(grown < 64, `RSS grew ${grown.toFixed(1)} MiB over 10,000 attempts (bounded, not per attempt)`);
});
