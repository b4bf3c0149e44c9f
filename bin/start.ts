import type { Config } from '../config/schema.js';
import { TokenAuthenticator } from '../gateway/auth.js';
import { createGateway, type Gateway } from '../gateway/server.js';
import { RateLimiter } from '../registry/view/rate-limiter.js';
import { DocCache, KeyCache, UserCache } from '../registry/view/cache.js';
import { INJECT_SECRET_ID, restoreSecret, sharedSecret } from '../registry/control/secrets.js';
import { openStore, storeIsShared } from '../registry/control/store/open.js';
import { ACCEPT_RESET_EVENT_ID, ConflictError, type Store } from '../registry/control/store/types.js';
import type { SigningKey } from '../registry/view/types.js';
import type { RegistryHold } from '../registry/view/store-reset.js';
import { RegistrySync } from '../registry/view/sync.js';
import { startExample03 } from '../services/example03/index.js';
import type { RunningService } from '../services/kit/server.js';
import { startOauth } from '../services/oauth/index.js';
import { startRegistry } from '../services/registry/index.js';
import { startUrac } from '../services/urac/index.js';
import { errorFields, type Log } from './log.js';

export interface Tessera {
  readonly store: Store;
  /** Null in a process that runs the services only (the cluster primary). */
  readonly sync: RegistrySync | null;
  readonly gateway: Gateway | null;
  readonly ports: { gateway: number; maintenance: number; services: Record<string, number> };
  close(): Promise<void>;
}

export interface StartParts {
  /** Run the gateway (data plane). */
  gateway?: boolean;
  /** Run the bundled services (oauth, urac, and example03 when `demo`). */
  services?: boolean;
}

/**
 * Wires one process: store → bundled services (they register their hosts) → registry sync →
 * gateway. `npm start` runs all of it with the demo data on the embedded store; a cluster primary
 * runs the services, its workers the gateway.
 */
export async function startTessera(config: Readonly<Config>, log: Log, parts: StartParts = {}): Promise<Tessera> {
  const withGateway = parts.gateway ?? true;
  const withServices = parts.services ?? true;
  const store = openStore(config, { onError: (err) => log('warn', 'store connection', errorFields(err)) });
  await store.open();
  const injectSecret = await sharedSecret(store, INJECT_SECRET_ID, config.security.injectSecret);
  const base = (port: number) => ({
    port,
    injectSecret,
    onError: (err: unknown) => log('error', 'service request failed', errorFields(err)),
  });

  const services: { running: RunningService; version: string }[] = [];
  const hostOf = (s: RunningService, version: string) => ({
    service: s.name,
    version,
    host: s.host,
    port: s.port,
    maintenancePort: s.maintenancePort,
  });
  const register = async (s: RunningService, version: string) => {
    services.push({ running: s, version });
    await store.registerHost(hostOf(s, version));
  };
  let signingKey: SigningKey | null = null;
  if (withServices) {
    // oauth and urac are part of the platform: they run whether or not the demo does.
    const oauth = await startOauth({
      ...base(config.services.oauth.port),
      store,
      env: config.env,
      accessTokenSeconds: config.oauth.accessTokenSeconds,
      throttle: config.security.login,
      refreshTokenSeconds: config.oauth.refreshTokenSeconds,
      ...(config.oauth.signingKeyFile ? { signingKeyFile: config.oauth.signingKeyFile } : {}),
    });
    signingKey = oauth.signingKey;
    await register(oauth, '1');
    await register(await startUrac({ ...base(config.services.urac.port), store }), '3');
    await register(
      await startRegistry({
        ...base(config.services.registry.port),
        store,
        ownerTenant: config.security.ownerTenant,
        env: config.env,
        ...(config.soajs.keyPassword ? { soajsKeyPassword: config.soajs.keyPassword } : {}),
      }),
      '1',
    );
    if (config.demo) await register(await startExample03(base(config.services.example03.port)), '1');
  }

  /**
   * An accepted store reset (`tessera store accept-reset`) leaves a store without what this process
   * wrote into it at start — its services' hosts, the inject secret it generated, oauth's signing
   * key — while the process goes on using them: write them back, so that the gateways route to the
   * services again and verify the tokens oauth signs.
   */
  async function restoreAfterReset(): Promise<void> {
    try {
      for (const s of services) await store.registerHost(hostOf(s.running, s.version));
      if (config.security.injectSecret === undefined) await restoreSecret(store, INJECT_SECRET_ID, injectSecret);
      if (signingKey !== null) {
        await store.put('signingKey', signingKey, { ifVersion: 0 }).catch((err: unknown) => {
          if (!(err instanceof ConflictError)) throw err;
        });
      }
      log('info', 'store reset accepted: this process registered its services again', {
        services: services.map((s) => s.running.name),
        pid: process.pid,
      });
    } catch (err) {
      log('error', 'store reset accepted, but this process could not register its services again: restart it', { ...errorFields(err), pid: process.pid });
    }
  }
  const unfollow =
    services.length === 0
      ? null
      : store.onChange((e) => {
          if (e.kind === '*' && e.id === ACCEPT_RESET_EVENT_ID) void restoreAfterReset();
        });

  let sync: RegistrySync | null = null;
  let gateway: Gateway | null = null;
  let users: UserCache | null = null;
  let legacyTokens: DocCache<'legacyToken'> | null = null;
  let keys: KeyCache | null = null;
  let ports = { gateway: 0, maintenance: 0 };
  if (withGateway) {
    sync = await new RegistrySync(store, {
      env: config.env,
      resetPolicy: config.storeReset,
      onError: (err) => log('error', 'registry rebuild failed; serving the last good snapshot', errorFields(err)),
      // One line per reset, whatever the polls and resyncs that see it afterwards: it says what
      // happened and what ends it (registry/view/store-reset.ts).
      onHold: (hold) => log('error', hold.message, resetFields(config, hold)),
      onResetTaken: (reset) => log('warn', reset.message, resetFields(config, reset)),
      onRelease: (hold, how, snap) =>
        log(
          'info',
          how === 'accepted'
            ? 'registry store reset accepted by an operator: serving the store as it is now; ready'
            : 'registry store holds the registry served again; ready',
          { event: 'store-reset-ended', how, registryVersion: snap.version, heldSince: new Date(hold.since).toISOString(), pid: process.pid },
        ),
    }).start();
    // The caches read through the sync: a resync empties them only once the store is judged to
    // still hold the registry, and their misses are refused while a reset is held.
    users = new UserCache(sync.reader, config.cache.users);
    keys = new KeyCache(sync.reader, config.env, config.cache.keys);
    legacyTokens = new DocCache(sync.reader, 'legacyToken', config.cache.tokens);
    gateway = createGateway(config, {
      holder: sync,
      keys,
      authenticator: new TokenAuthenticator({ users, legacyTokens, maxTokens: config.cache.tokens }),
      onError: (err) => log('error', 'request failed inside the gateway', errorFields(err)),
      injectSecret,
      // Shared counters with a shared store: every gateway and worker leases from one counter.
      rateLimiter: new RateLimiter(storeIsShared(config) ? store : null, {
        onSharedState: (up, err) =>
          up
            ? log('info', 'rate limits are counted in the store again')
            : log('error', 'rate-limit store unreachable: each gateway now counts its limits on its own', errorFields(err)),
      }),
    });
    const bound = await gateway.listen();
    ports = { gateway: bound.port, maintenance: bound.maintenancePort };
  }

  return {
    store,
    sync,
    gateway,
    ports: { ...ports, services: Object.fromEntries(services.map((s) => [s.running.name, s.running.port])) },
    async close() {
      unfollow?.();
      if (gateway !== null) {
        const { cut } = await gateway.drain(config.gateway.drainSeconds * 1000);
        if (cut > 0) log('warn', 'drain deadline passed: connections cut', { cut, drainSeconds: config.gateway.drainSeconds });
      }
      for (const s of services) {
        // A shared registry must not keep routing to a host that is gone.
        await store.unregisterHost(hostOf(s.running, s.version)).catch(() => undefined);
        await s.running.close();
      }
      users?.close();
      legacyTokens?.close();
      keys?.close();
      sync?.stop();
      await store.close();
    },
  };
}

/** The fields of a store reset's log line: enough to tell which gateway, which store, what it saw. */
function resetFields(config: Readonly<Config>, hold: RegistryHold): Record<string, unknown> {
  return {
    event: 'store-reset',
    why: hold.why,
    servedVersion: hold.held.version,
    foundVersion: hold.found.version,
    empty: hold.found.empty,
    store: config.store,
    policy: config.storeReset,
    pid: process.pid,
  };
}
