import t, { type Test } from 'tap';
import { Client } from 'undici';
import { login, OWNER_KEY, request, type TokenPair } from '../helpers/demo.js';
import { startTesseraProcess, type TesseraProcess } from '../helpers/process.js';
import { startRedis, uniquePrefix } from '../helpers/redis.js';
import { startServer } from '../helpers/servers.js';

/**
 * Graceful drain (issue 16 §1): on SIGTERM the gateway stops accepting, answers /readyz 503, lets
 * every in-flight request finish (here 50 calls to an upstream that takes 1 s) and exits 0 within
 * gateway.drainSeconds — on the file store, and with --workers 2 on Redis.
 */
const SLOW_MS = 1000;
const IN_FLIGHT = 50;

async function slowUpstream(t: Test) {
  const api = await startServer((_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"result":true,"data":"slow"}');
    }, SLOW_MS);
  });
  const heartbeat = await startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"result":true}');
  });
  t.teardown(async () => {
    await api.close();
    await heartbeat.close();
  });
  return { port: api.port, maintenancePort: heartbeat.port };
}

/** Registers the slow upstream as service `slow` through the registry API, as an operator would. */
async function registerSlow(tessera: TesseraProcess, upstream: { port: number; maintenancePort: number }) {
  const token = ((await login(tessera.url, OWNER_KEY, 'admin', 'tessera-admin')).body as TokenPair).access_token;
  const admin = (path: string, body: unknown) =>
    request(tessera.url, `/registry${path}`, {
      method: 'POST',
      headers: { key: OWNER_KEY, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const svc = await admin('/services', { name: 'slow', port: upstream.port, versions: { '1': { extKeyRequired: false, oauth: false } } });
  if (svc.status !== 201) throw new Error(`service: ${svc.status} ${JSON.stringify(svc.body)}`);
  const host = await admin('/services/slow/hosts', { version: '1', host: '127.0.0.1', port: upstream.port, maintenancePort: upstream.maintenancePort, ttlSeconds: 600 });
  if (host.status !== 200) throw new Error(`host: ${host.status} ${JSON.stringify(host.body)}`);
  for (let i = 0; i < 50; i++) if ((await request(tessera.url, '/slow/x')).status === 200) return;
  throw new Error('the slow service never became routable');
}

async function drainUnderLoad(t: Test, tessera: TesseraProcess) {
  await registerSlow(tessera, await slowUpstream(t));
  const calls = Array.from({ length: IN_FLIGHT }, async () => {
    const client = new Client(tessera.url);
    try {
      const res = await client.request({ method: 'GET', path: '/slow/x' });
      return { status: res.statusCode, body: await res.body.text(), connection: res.headers['connection'] };
    } catch (err) {
      return { status: 0, body: String(err), connection: undefined };
    } finally {
      await client.close().catch(() => undefined);
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const exited = new Promise<number | null>((resolve) => tessera.proc.once('exit', (code) => resolve(code)));
  const t0 = Date.now();
  tessera.proc.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const ready = await fetch(`http://127.0.0.1:${tessera.ports.maintenance}/readyz`).catch(() => null);
  const fresh = new Client(tessera.url);
  const refused = await fresh.request({ method: 'GET', path: '/slow/x' }).then(
    (r) => r.statusCode,
    () => 'refused',
  );
  await fresh.close().catch(() => undefined);
  const results = await Promise.all(calls);
  const code = await exited;
  const tookMs = Date.now() - t0;

  t.equal(ready?.status, 503, '/readyz answers 503 while draining');
  t.equal(refused, 'refused', 'a new connection after SIGTERM is not accepted');
  const failed = results.filter((r) => r.status !== 200 || r.body !== '{"result":true,"data":"slow"}');
  t.same(failed, [], `0 of ${IN_FLIGHT} in-flight requests failed`);
  t.ok(results.every((r) => r.connection === 'close'), 'each answer says the connection closes');
  t.equal(code, 0, 'exit 0');
  t.ok(tookMs < 30_000, `exited within the 30 s deadline (${tookMs} ms; the slowest call needed ${SLOW_MS} ms)`);
  t.ok(tookMs >= SLOW_MS - 400, 'after the in-flight calls finished, not before');
  t.match(tessera.output.join(''), /"msg":"stopping","signal":"SIGTERM"/);
  t.notMatch(tessera.output.join(''), /drain deadline passed/);
}

t.test('SIGTERM on the file store: every in-flight request finishes, then exit 0', async (t) => {
  const tessera = await startTesseraProcess();
  t.teardown(() => tessera.stop());
  await drainUnderLoad(t, tessera);
});

t.test('SIGTERM with --workers 2 on Redis: the workers drain the same way', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const tessera = await startTesseraProcess({ TESSERA_STORE: `${redis.url}?prefix=${uniquePrefix()}` }, 30_000, ['--workers', '2']);
  t.teardown(() => tessera.stop());
  await drainUnderLoad(t, tessera);
});

t.test('SIGHUP is ignored, and says so', async (t) => {
  const tessera = await startTesseraProcess();
  t.teardown(() => tessera.stop());
  tessera.proc.kill('SIGHUP');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.ok(tessera.alive(), 'still running');
  t.match(tessera.output.join(''), /SIGHUP ignored/);
  t.equal((await request(tessera.url, '/')).status, 200, 'and serving');
});
