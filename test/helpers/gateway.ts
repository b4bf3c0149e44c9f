import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { hashExtKey, keyHint } from '../../registry/view/keys.js';
import type { SeedDoc } from '../../registry/control/seed.js';
import { FileStore } from '../../registry/control/store/file.js';
import { RegistrySync } from '../../registry/view/sync.js';
import { INJECT_SECRET_ID, sharedSecret } from '../../registry/control/secrets.js';
import type { Product, Service, Tenant } from '../../registry/view/types.js';
import { createGateway, type Gateway, type GatewayDeps } from '../../gateway/server.js';
import { TokenAuthenticator } from '../../gateway/auth.js';
import { DocCache, KeyCache, UserCache } from '../../registry/view/cache.js';
import type { Group, User } from '../../registry/view/types.js';

export interface TestGateway {
  readonly url: string;
  readonly port: number;
  readonly maintenancePort: number;
  readonly config: Readonly<Config>;
  readonly store: FileStore;
  readonly sync: RegistrySync;
  readonly gateway: Gateway;
  readonly dataDir: string;
  /** The secret this gateway signs soajsinjectobj with (kept in its store, as in production). */
  readonly secret: Buffer;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  products?: Product[];
  tenants?: Tenant[];
  services?: Service[];
  users?: User[];
  groups?: Group[];
  /** Verify tokens with a TokenAuthenticator over a UserCache of this store. */
  auth?: boolean;
  /** ms since the epoch for the gateway's expiries and token checks: a test moves time, never sleeps. */
  clock?: () => number;
  /** Config overrides by dotted path, e.g. `{'timeouts.requestSeconds': 1}`. */
  config?: Record<string, unknown>;
  deps?: Partial<Omit<GatewayDeps, 'holder' | 'injectSecret' | 'keys'>>;
}

/** A gateway on an ephemeral port over a FileStore in a temp dir, seeded with the given documents. */
export async function startTestGateway(opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-test-'));
  const config = loadConfig({
    env: {},
    overrides: {
      'gateway.host': '127.0.0.1',
      'gateway.port': 0,
      'gateway.maintenancePort': 0,
      store: `file:${dataDir}`,
      demo: false,
      'timeouts.healthCheckSeconds': 60,
      ...opts.config,
    },
  });
  const seed: SeedDoc[] = [
    ...(opts.products ?? []).map((doc) => ({ kind: 'product' as const, doc, origin: 'test' })),
    ...(opts.tenants ?? []).map((doc) => ({ kind: 'tenant' as const, doc, origin: 'test' })),
    ...(opts.services ?? []).map((doc) => ({ kind: 'service' as const, doc, origin: 'test' })),
    ...(opts.groups ?? []).map((doc) => ({ kind: 'group' as const, doc, origin: 'test' })),
    ...(opts.users ?? []).map((doc) => ({ kind: 'user' as const, doc, origin: 'test' })),
  ];
  const store = new FileStore(dataDir, seed);
  await store.open();
  const sync = await new RegistrySync(store, { env: config.env, ...(opts.clock ? { now: opts.clock } : {}) }).start();
  // As bin/start.ts wires them: the caches hear changes through the sync.
  const users = opts.auth ? new UserCache(sync.reader, 1000) : null;
  const legacyTokens = opts.auth ? new DocCache(sync.reader, 'legacyToken', 1000) : null;
  const keys = new KeyCache(sync.reader, config.env, 1000);
  const secret = await sharedSecret(store, INJECT_SECRET_ID);
  const gateway = createGateway(config, {
    holder: sync,
    keys,
    injectSecret: secret,
    ...(users && legacyTokens ? { authenticator: new TokenAuthenticator({ users, legacyTokens, ...(opts.clock ? { now: opts.clock } : {}) }) } : {}),
    ...(opts.clock ? { now: opts.clock } : {}),
    ...opts.deps,
  });
  const { port, maintenancePort } = await gateway.listen();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    maintenancePort,
    config,
    store,
    sync,
    gateway,
    dataDir,
    secret,
    async close() {
      await gateway.close();
      users?.close();
      legacyTokens?.close();
      keys.close();
      sync.stop();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Applies a store write and waits until the gateway's snapshot includes it. */
export async function settle(t: TestGateway): Promise<void> {
  await t.sync.waitFor((await t.store.load()).version);
}

/** An ext key entry for test tenants: the plaintext to send, the hashed form to store. */
export function extKey(plain: string, extra: Partial<Tenant['applications'][number]['keys'][number]['extKeys'][number]> = {}) {
  return { keyHash: hashExtKey(plain), hint: keyHint(plain), env: 'dev', expDate: null, ...extra };
}
