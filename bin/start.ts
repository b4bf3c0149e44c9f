import type { Config } from '../config/schema.js';
import { TokenAuthenticator } from '../gateway/auth.js';
import { createGateway, type Gateway } from '../gateway/server.js';
import { UserCache } from '../registry/cache.js';
import { openStore } from '../registry/store/open.js';
import type { Store } from '../registry/store/types.js';
import { RegistrySync } from '../registry/sync.js';
import { startExample03 } from '../services/example03/index.js';
import { startOauth } from '../services/oauth/index.js';
import { startUrac } from '../services/urac/index.js';
import type { RunningService } from '../services/kit/server.js';
import { errorFields, type Log } from './log.js';

export interface Tessera {
  readonly store: Store;
  readonly sync: RegistrySync;
  readonly gateway: Gateway;
  readonly ports: { gateway: number; maintenance: number; services: Record<string, number> };
  close(): Promise<void>;
}

/**
 * Wires one process: store → registry sync → bundled services (they register their hosts) →
 * gateway. `npm start` runs this with the demo data on the embedded store.
 */
export async function startTessera(config: Readonly<Config>, log: Log): Promise<Tessera> {
  const store = openStore(config);
  await store.open();
  const sync = await new RegistrySync(store, {
    env: config.env,
    onError: (err) => log('error', 'registry rebuild failed; serving the last good snapshot', errorFields(err)),
  }).start();

  const services: RunningService[] = [];
  const register = async (s: RunningService, version: string) => {
    services.push(s);
    await store.registerHost({ service: s.name, version, host: s.host, port: s.port, maintenancePort: s.maintenancePort });
  };
  // oauth and urac are part of the platform: they run whether or not the demo does.
  await register(
    await startOauth({
      port: config.services.oauth.port,
      store,
      env: config.env,
      accessTokenSeconds: config.oauth.accessTokenSeconds,
      refreshTokenSeconds: config.oauth.refreshTokenSeconds,
      ...(config.oauth.signingKeyFile ? { signingKeyFile: config.oauth.signingKeyFile } : {}),
    }),
    '1',
  );
  await register(await startUrac({ port: config.services.urac.port, store }), '3');
  if (config.demo) await register(await startExample03({ port: config.services.example03.port }), '1');
  await sync.waitFor((await store.load()).version);

  const users = new UserCache(store, config.cache.users);
  const gateway = createGateway(config, {
    holder: sync,
    authenticator: new TokenAuthenticator({ users, maxTokens: config.cache.tokens }),
    onError: (err) => log('error', 'request failed inside the gateway', errorFields(err)),
  });
  const { port, maintenancePort } = await gateway.listen();

  return {
    store,
    sync,
    gateway,
    ports: { gateway: port, maintenance: maintenancePort, services: Object.fromEntries(services.map((s) => [s.name, s.port])) },
    async close() {
      await gateway.close();
      for (const s of services) await s.close();
      users.close();
      sync.stop();
      await store.close();
    },
  };
}
