import type { Config } from '../config/schema.js';
import { createGateway, type Gateway } from '../gateway/server.js';
import { openStore } from '../registry/store/open.js';
import type { Store } from '../registry/store/types.js';
import { RegistrySync } from '../registry/sync.js';
import { startExample03 } from '../services/example03/index.js';
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
  if (config.demo) {
    const ex = await startExample03({ port: config.services.example03.port });
    services.push(ex);
    await store.registerHost({ service: 'example03', version: '1', host: ex.host, port: ex.port, maintenancePort: ex.maintenancePort });
  }
  await sync.waitFor((await store.load()).version);

  const gateway = createGateway(config, {
    holder: sync,
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
      sync.stop();
      await store.close();
    },
  };
}
