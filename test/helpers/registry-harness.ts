import { fileURLToPath } from 'node:url';
import { readSeed } from '../../registry/control/seed.js';
import type { Group, Product, Service, Tenant, User } from '../../registry/view/types.js';
import { startOauth } from '../../services/oauth/index.js';
import { startRegistry } from '../../services/registry/index.js';
import type { RunningService } from '../../services/kit/server.js';
import { login, OWNER_KEY, type TokenPair } from './demo.js';
import { settle, startTestGateway, type TestGateway } from './gateway.js';

const DEMO = fileURLToPath(new URL('../../../config/demo', import.meta.url));

/* eslint-disable @typescript-eslint/no-explicit-any -- parsed JSON answers */

export interface RegistryHarness {
  readonly gw: TestGateway;
  readonly oauth: RunningService;
  readonly registry: RunningService;
  /** The demo owner's access token. */
  readonly admin: string;
  /** A registry API call through the gateway as the demo owner (PATCH bodies as merge patches). */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/**
 * A real gateway over the demo data (auth on) with the oauth and registry services behind it, and
 * the owner logged in: what every registry API test starts from. `services` may adjust the demo's
 * service documents before they are seeded.
 */
export async function startRegistryHarness(opts: { services?: (s: Service[]) => Service[] } = {}): Promise<RegistryHarness> {
  const seed = readSeed(DEMO);
  const of = <T>(kind: string) => seed.filter((d) => d.kind === kind).map((d) => structuredClone(d.doc) as T);
  const services = of<Service>('service');
  const gw = await startTestGateway({
    products: of<Product>('product'),
    tenants: of<Tenant>('tenant'),
    services: opts.services ? opts.services(services) : services,
    users: of<User>('user'),
    groups: of<Group>('group'),
    auth: true,
  });
  const oauth = await startOauth({ port: 0, store: gw.store, env: 'dev', accessTokenSeconds: 600, refreshTokenSeconds: 600, injectSecret: gw.secret, throttle: gw.config.security.login });
  const registry = await startRegistry({ port: 0, store: gw.store, env: 'dev', injectSecret: gw.secret, ownerTenant: 'OWNER' });
  await gw.store.registerHost({ service: 'oauth', version: '1', host: '127.0.0.1', port: oauth.port, maintenancePort: oauth.maintenancePort });
  await gw.store.registerHost({ service: 'registry', version: '1', host: '127.0.0.1', port: registry.port, maintenancePort: registry.maintenancePort });
  await settle(gw);
  const r = await login(gw.url, OWNER_KEY, 'admin', 'tessera-admin');
  if (r.status !== 200) throw new Error(`the demo owner cannot log in: ${r.status} ${JSON.stringify(r.body)}`);
  const admin = (r.body as TokenPair).access_token;
  return {
    gw,
    oauth,
    registry,
    admin,
    async api(method, path, body, headers = {}) {
      const res = await fetch(`${gw.url}/registry${path}`, {
        method,
        headers: {
          key: OWNER_KEY,
          authorization: `Bearer ${admin}`,
          ...(body !== undefined ? { 'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as any };
    },
    async close() {
      await registry.close();
      await oauth.close();
      await gw.close();
    },
  };
}
