import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig, type LoadOptions } from '../../config/load.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function yamlFile(t: { teardown(fn: () => void): void }, text: string): string {
  const file = join(tempDir(t), 'tessera.yaml');
  writeFileSync(file, text);
  return file;
}

/** The ConfigError loadConfig throws; fails the test when it returns. */
function configError(opts: LoadOptions): ConfigError {
  try {
    loadConfig(opts);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('loadConfig accepted the configuration');
}

t.test('defaults', async (t) => {
  const c = loadConfig({ env: {} });
  t.equal(c.env, 'dev');
  t.equal(c.gateway.port, 4000);
  t.equal(c.gateway.maintenancePort, 5000);
  t.equal(c.gateway.host, '0.0.0.0');
  t.same(c.gateway.trustedProxies, []);
  t.equal(c.gateway.maxInjectHeaderBytes, 65536);
  t.same(c.gateway.websocket, { enabled: true, idleSeconds: 300, maxLifetimeSeconds: 3600 });
  t.equal(c.store, 'file:./data');
  t.equal(c.storeReset, 'hold', 'a store reset is held until an operator accepts it');
  t.equal(c.seed, './config/demo');
  t.equal(c.demo, true);
  t.equal(c.timeouts.requestSeconds, 30);
  t.equal(c.cors.enabled, true);
  t.equal(c.services.example03.port, 4023);
});

t.test('a YAML file, with TESSERA_* overriding it', async (t) => {
  const file = yamlFile(
    t,
    `
env: prod
gateway:
  host: 127.0.0.1
  port: 4100
store: file:/var/lib/tessera
timeouts:
  requestSeconds: 12.5
`,
  );
  const fromFile = loadConfig({ file, env: {} });
  t.equal(fromFile.env, 'prod');
  t.equal(fromFile.gateway.host, '127.0.0.1');
  t.equal(fromFile.gateway.port, 4100);
  t.equal(fromFile.gateway.maintenancePort, 5000, 'fields the file omits keep their default');
  t.equal(fromFile.store, 'file:/var/lib/tessera');
  t.equal(fromFile.timeouts.requestSeconds, 12.5);
  t.equal(fromFile.timeouts.connectSeconds, 5);

  const c = loadConfig({
    file,
    env: { TESSERA_PORT: '4200', TESSERA_ENV: 'stage', TESSERA_MAINTENANCE_PORT: '5200', TESSERA_HOST: '' },
  });
  t.equal(c.gateway.port, 4200, 'env beats the file');
  t.equal(c.env, 'stage');
  t.equal(c.gateway.maintenancePort, 5200);
  t.equal(c.gateway.host, '127.0.0.1', 'an empty variable is ignored');
  t.equal(c.store, 'file:/var/lib/tessera', 'untouched by env');

  const viaEnv = loadConfig({ env: { TESSERA_CONFIG: file } });
  t.equal(viaEnv.env, 'prod', 'TESSERA_CONFIG names the file');

  const over = loadConfig({ file, env: { TESSERA_PORT: '4200' }, overrides: { 'gateway.port': 0, 'cors.origin': 'https://a.example' } });
  t.equal(over.gateway.port, 0, 'overrides beat env');
  t.equal(over.cors.origin, 'https://a.example');
});

t.test('env strings are coerced to the schema types', async (t) => {
  const c = loadConfig({
    env: {
      TESSERA_PORT: '4100',
      TESSERA_DEMO: 'false',
      TESSERA_REQUEST_TIMEOUT: '2.5',
      TESSERA_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.0.0/16,,',
      TESSERA_EXAMPLE03_PORT: '4999',
    },
  });
  t.equal(c.gateway.port, 4100);
  t.equal(typeof c.gateway.port, 'number');
  t.equal(c.demo, false);
  t.equal(c.timeouts.requestSeconds, 2.5);
  t.same(c.gateway.trustedProxies, ['10.0.0.0/8', '192.168.0.0/16'], 'comma list, trimmed, empties dropped');
  t.equal(c.services.example03.port, 4999);

  const yaml = loadConfig({ file: yamlFile(t, 'gateway:\n  port: "4300"\n'), env: {} });
  t.equal(yaml.gateway.port, 4300, 'a quoted number in YAML too');
});

t.test('a bad value is a ConfigError naming the field and the env variable', async (t) => {
  const e1 = configError({ env: { TESSERA_PORT: 'abc' } });
  t.equal(e1.name, 'ConfigError');
  t.match(e1.message, 'gateway.port');
  t.match(e1.message, 'TESSERA_PORT');
  t.match(e1.message, /must be integer/);

  const e2 = configError({ env: { TESSERA_PORT: '70000' } });
  t.match(e2.message, 'gateway.port');
  t.match(e2.message, 'TESSERA_PORT');

  const e3 = configError({ env: { TESSERA_ENV: 'Prod' } });
  t.match(e3.message, /field "env"/);
  t.match(e3.message, 'TESSERA_ENV');

  const e4 = configError({ env: { TESSERA_DEMO: 'maybe' } });
  t.match(e4.message, /field "demo"/);
  t.match(e4.message, 'TESSERA_DEMO');

  const e5 = configError({ env: { TESSERA_STORE: 'mongodb://x' } });
  t.match(e5.message, /field "store"/);
  t.match(e5.message, 'TESSERA_STORE');

  const e6 = configError({ env: {}, file: yamlFile(t, 'timeouts:\n  requestSeconds: 0\n') });
  t.match(e6.message, 'timeouts.requestSeconds');
  t.match(e6.message, 'TESSERA_REQUEST_TIMEOUT');

  const e7 = configError({ env: {}, file: yamlFile(t, 'gateway:\n  websocket:\n    idleSeconds: 0\n') });
  t.match(e7.message, /field "gateway\.websocket\.idleSeconds" must be > 0/);
  t.match(e7.message, 'TESSERA_WEBSOCKET_IDLE_SECONDS');
  const e8 = configError({ env: { TESSERA_WEBSOCKET_MAX_LIFETIME_SECONDS: '999999999' } });
  t.match(e8.message, /field "gateway\.websocket\.maxLifetimeSeconds" must be <= 604800/);
  const e9 = configError({ env: { TESSERA_WEBSOCKET: 'sometimes' } });
  t.match(e9.message, /field "gateway\.websocket\.enabled"/);
  t.equal(loadConfig({ env: { TESSERA_WEBSOCKET: 'false' } }).gateway.websocket.enabled, false, 'off through the environment');
});

t.test('unknown YAML fields are rejected', async (t) => {
  const e1 = configError({ env: {}, file: yamlFile(t, 'gateway:\n  port: 4000\n  colour: red\n') });
  t.match(e1.message, 'gateway.colour');
  const e2 = configError({ env: {}, file: yamlFile(t, 'colour: red\n') });
  t.match(e2.message, /field "colour"/);
  const e3 = configError({ env: {}, file: yamlFile(t, 'services:\n  example04: { port: 1 }\n') });
  t.match(e3.message, 'services.example04');
});

t.test('file problems are ConfigErrors', async (t) => {
  const missing = join(tempDir(t), 'nope.yaml');
  const e1 = configError({ file: missing, env: {} });
  t.match(e1.message, /cannot read/);
  t.match(e1.message, missing);
  const e2 = configError({ file: yamlFile(t, '- a\n- b\n'), env: {} });
  t.match(e2.message, /must hold a mapping/);
  t.equal(loadConfig({ file: yamlFile(t, ''), env: {} }).gateway.port, 4000, 'an empty file is all defaults');
});

t.test('the result is deep-frozen', async (t) => {
  const c = loadConfig({ env: { TESSERA_TRUSTED_PROXIES: '10.0.0.0/8' } });
  t.ok(Object.isFrozen(c));
  t.ok(Object.isFrozen(c.gateway));
  t.ok(Object.isFrozen(c.gateway.trustedProxies));
  t.ok(Object.isFrozen(c.timeouts));
  t.ok(Object.isFrozen(c.cors));
  t.ok(Object.isFrozen(c.services.example03));
  t.throws(() => {
    (c.gateway as { port: number }).port = 1;
  }, TypeError);
  t.throws(() => {
    (c.gateway.trustedProxies as string[]).push('x');
  }, TypeError);
  t.equal(c.gateway.port, 4000);
  const again = loadConfig({ env: {} });
  t.not(again.gateway, c.gateway, 'each load has its own objects');
  t.same(again.gateway.trustedProxies, []);
});

t.test('storeReset: hold or accept, from YAML or TESSERA_STORE_RESET; anything else names the field and the choices', async (t) => {
  t.equal(loadConfig({ env: { TESSERA_STORE_RESET: 'accept' } }).storeReset, 'accept');
  t.equal(loadConfig({ file: yamlFile(t, 'storeReset: accept\n'), env: {} }).storeReset, 'accept');
  t.equal(
    configError({ env: { TESSERA_STORE_RESET: 'yes' } }).message,
    'config: field "storeReset" must be equal to one of the allowed values: hold, accept (env TESSERA_STORE_RESET)',
  );
  t.match(configError({ file: yamlFile(t, 'storeReset: true\n'), env: {} }).message, /^config: field "storeReset" must be equal to one of the allowed values: hold, accept/);
});

t.test('events.retentionDays: 30 by default, from YAML or TESSERA_EVENTS_RETENTION_DAYS; a bad value names the field', async (t) => {
  t.equal(loadConfig({ env: {} }).events.retentionDays, 30);
  t.equal(loadConfig({ env: { TESSERA_EVENTS_RETENTION_DAYS: '7' } }).events.retentionDays, 7);
  t.equal(loadConfig({ file: yamlFile(t, 'events:\n  retentionDays: 90\n'), env: {} }).events.retentionDays, 90);
  t.equal(configError({ env: { TESSERA_EVENTS_RETENTION_DAYS: '0' } }).message, 'config: field "events.retentionDays" must be >= 1 (env TESSERA_EVENTS_RETENTION_DAYS)');
  t.match(configError({ file: yamlFile(t, 'events:\n  retentionDays: 1.5\n'), env: {} }).message, /^config: field "events.retentionDays" must be integer/);
  t.match(configError({ file: yamlFile(t, 'events:\n  keep: 3\n'), env: {} }).message, /^config: field "events.keep" must NOT have additional properties/);
});
