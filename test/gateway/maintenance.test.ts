import type { AddressInfo } from 'node:net';
import t from 'tap';
import { loadConfig } from '../../config/load.js';
import { createGateway } from '../../gateway/server.js';
import { KeyCache } from '../../registry/view/cache.js';
import { RedisStore } from '../../registry/control/store/redis.js';
import { RegistrySync } from '../../registry/view/sync.js';
import { startTestGateway } from '../helpers/gateway.js';
import { startRedis, uniquePrefix } from '../helpers/redis.js';
import { seed } from '../registry/store-contract.js';

/** The maintenance port lists every upstream: loopback by default, whatever the client port binds (issue 14 §6). */
t.test('the maintenance port binds loopback when the gateway binds every address', async (t) => {
  const gw = await startTestGateway({ config: { 'gateway.host': '0.0.0.0' } });
  t.teardown(() => gw.close());
  t.equal((gw.gateway.server.address() as AddressInfo).address, '0.0.0.0', 'clients: every address');
  t.equal((gw.gateway.maintenance.address() as AddressInfo).address, '127.0.0.1', 'maintenance: loopback only');
  t.equal(gw.config.gateway.maintenanceHost, '127.0.0.1', 'the default');
});

t.test('an operator may open it deliberately', async (t) => {
  const gw = await startTestGateway({ config: { 'gateway.maintenanceHost': '::1' } });
  t.teardown(() => gw.close());
  t.equal((gw.gateway.maintenance.address() as AddressInfo).address, '::1');
  const r = await fetch(`http://[::1]:${gw.maintenancePort}/heartbeat`);
  t.equal(r.status, 200);
  const w = await fetch(`http://[::1]:${gw.maintenancePort}/heartbeat`, { method: 'POST' });
  t.equal(w.status, 405, 'and it stays read-only');
});

/** Issue 16 §6: a gateway that refuses a store reset says so on /readyz; /heartbeat (alive) is unchanged. */
t.test('/readyz answers 503 with the reason while a store reset is held, 200 again once accepted', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const url = `${redis.url}?prefix=${uniquePrefix()}`;
  const store = new RedisStore({ url, seed: seed(), pollMs: 100, commandTimeoutMs: 1000, onError: () => undefined });
  t.teardown(() => store.close());
  await store.open();
  const sync = await new RegistrySync(store, { env: 'dev' }).start();
  t.teardown(() => sync.stop());
  const keys = new KeyCache(sync.reader, 'dev', 10);
  t.teardown(() => keys.close());
  const config = loadConfig({ env: {}, overrides: { 'gateway.host': '127.0.0.1', 'gateway.port': 0, 'gateway.maintenancePort': 0, demo: false } });
  const gateway = createGateway(config, { holder: sync, keys, injectSecret: Buffer.alloc(32, 1) });
  t.teardown(() => gateway.close());
  const { maintenancePort } = await gateway.listen();
  const get = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${maintenancePort}${path}`);
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  t.equal((await get('/readyz')).status, 200, 'ready');

  await redis.restart();
  const deadline = Date.now() + 8000;
  while (sync.hold() === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const held = await get('/readyz');
  t.equal(held.status, 503, 'not ready while the reset is held');
  t.equal(held.body['result'], false);
  t.equal(held.body['reason'], 'store-reset', 'a reason a probe can match');
  t.equal(held.body['message'], sync.hold()?.message, 'and the sentence the log line has');
  t.match(String(held.body['message']), /tessera store accept-reset/);
  t.equal((await get('/heartbeat')).status, 200, '/heartbeat stays as is: the process is alive');

  const op = new RedisStore({ url, onError: () => undefined });
  t.teardown(() => op.close());
  await op.open();
  await op.acceptReset();
  const until = Date.now() + 5000;
  while (sync.hold() !== null && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  t.equal((await get('/readyz')).status, 200, 'ready again once accepted');
});
