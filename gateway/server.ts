import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import type { Config } from '../config/schema.js';
import type { KeyCache } from '../registry/view/cache.js';
import { InjectSigner } from '../registry/view/inject-signature.js';
import { CATCH_UP_TIMEOUT_MS } from '../registry/view/read-your-writes.js';
import type { SnapshotHolder } from '../registry/view/sync.js';
import { createClientIp } from './client-ip.js';
import { announcesBody } from './client-headers.js';
import { RequestContext } from './context.js';
import { DecisionMemo } from './decision-memo.js';
import { ERRORS, type Denial } from './errors.js';
import { createMaintenanceServer, type NotReady } from './maintenance.js';
import { createStages, runPipeline, stagesOf } from './pipeline.js';
import { Balancer } from './forward/balancer.js';
import { proxyRequest, type ProxyHooks, type ProxyOptions } from './forward/http.js';
import { RetryBudget } from './forward/retry-budget.js';
import { PoolSet } from './forward/pools.js';
import { WsForwarder } from './forward/ws.js';
import { createResponder, refuseOnSocket, responseOnSocket } from './respond.js';
import type { Stage } from './stage.js';
import { createProvisioningStage } from './stages/provisioning.js';
import { createRateLimitStage } from './stages/rate-limit.js';
import { RateLimiter } from '../registry/view/rate-limiter.js';
import type { Authenticator } from './authenticator.js';

export interface GatewayDeps {
  holder: SnapshotHolder;
  /** Ext keys, read through from the store. */
  keys: KeyCache;
  authenticator?: Authenticator | null;
  dispatcher?: Dispatcher;
  /** Called once per finished request (logs, metrics, tests). */
  onResponse?: (ctx: RequestContext, status: number, err: unknown) => void;
  /** Unexpected errors (bugs, I/O): logged by the caller; the request got 164. */
  onError?: (err: unknown) => void;
  /** The deployment's secret for signing `soajsinjectobj` (registry/control/secrets.ts). */
  injectSecret: Buffer;
  /** Stages run for every request after its decision, kept or not (audit, logs, metrics), after the rate limits. */
  everyRequest?: readonly Stage[];
  /** Rate-limit counters, shared through the store when it is shared (registry/view/rate-limiter.ts); absent: counted in this process. */
  rateLimiter?: RateLimiter;
  /** ms since the epoch, for expiries (ext keys, kept decisions); tests inject a clock. */
  now?: () => number;
}

export interface Gateway {
  readonly server: Server;
  readonly maintenance: Server;
  readonly balancer: Balancer;
  /** Open WebSocket sessions (forward/ws.ts). */
  readonly ws: Pick<WsForwarder, 'sessions'>;
  listen(): Promise<{ port: number; maintenancePort: number }>;
  /**
   * Graceful drain: stop accepting, answer not-ready, let in-flight requests finish (their
   * connections close after the answer) for up to `deadlineMs`, then cut what is left and close.
   * A WebSocket session is a connection like any other: it may end on its own until the deadline,
   * and is cut then. Resolves with how many connections had to be cut.
   */
  drain(deadlineMs: number): Promise<{ cut: number }>;
  close(): Promise<void>;
}

function destroySocket(this: Socket): void {
  this.destroy();
}
const DRAINING: NotReady = Object.freeze({ reason: 'draining', message: 'draining: in-flight requests finish, new connections go elsewhere' });

/** What a request node could not parse is answered: its limits by their own codes, the rest 400. */
function clientErrorDenial(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, maxUrlBytes: number): Denial {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT') return ERRORS.REQUEST_TIMEOUT;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    // The request line alone past the URL limit: the URL is what is too long.
    const line = err.rawPacket?.indexOf('\r\n') ?? -1;
    return line === -1 || line > maxUrlBytes + 16 ? ERRORS.URL_TOO_LONG : ERRORS.HEADERS_TOO_LARGE;
  }
  return ERRORS.BAD_PATH;
}

/**
 * The gateway's data plane: accepts a request and hands it on, in one direction —
 * decide stages (or the connection's kept decision) → every-request stages → forward → respond.
 * It reads a snapshot, never a store.
 */
export function createGateway(config: Readonly<Config>, deps: GatewayDeps): Gateway {
  const limits = config.gateway;
  // Health probes only: proxied requests go through one Pool per upstream origin.
  const dispatcher = deps.dispatcher ?? new Agent({ connect: { timeout: config.timeouts.connectSeconds * 1000 } });
  const up = config.upstream;
  // As many connections as requests may be in flight: beyond the limit a request is refused at
  // once (189), never queued behind the slow ones inside undici.
  const pools = new PoolSet({
    connectTimeoutMs: config.timeouts.connectSeconds * 1000,
    keepAliveTimeoutMs: config.timeouts.keepAliveSeconds * 1000,
    connections: up.maxRequestsPerHost,
  });
  const balancer = new Balancer(dispatcher, {
    probeTimeoutMs: Math.min(5000, config.timeouts.healthCheckSeconds * 1000),
    maxRequestsPerHost: up.maxRequestsPerHost,
    ejectAfterErrors: up.ejectAfterErrors,
    ejectBaseMs: up.ejectBaseSeconds * 1000,
    ejectMaxMs: up.ejectMaxSeconds * 1000,
    ...(deps.now ? { now: deps.now } : {}),
    onOrigins: (origins) => pools.prune(origins),
  });
  const awarenessHost = config.gateway.host === '0.0.0.0' || config.gateway.host === '::' ? '127.0.0.1' : config.gateway.host;
  const awareness = { host: awarenessHost, port: config.gateway.port };
  const decide = createStages({
    keys: deps.keys,
    authenticator: deps.authenticator ?? null,
    inject: { awareness: () => awareness, maxBytes: config.gateway.maxInjectHeaderBytes },
    ...(deps.now ? { now: deps.now } : {}),
    cors: config.cors.enabled,
  });
  const rateLimiter = deps.rateLimiter ?? new RateLimiter(null, deps.now ? { now: deps.now } : {});
  const everyRequest = stagesOf('every-request', [createProvisioningStage(), createRateLimitStage(rateLimiter, limits.rateLimitHeaders), ...(deps.everyRequest ?? [])]);
  const respond = createResponder(config.cors);
  const clientIp = createClientIp(config.gateway.trustedProxies);
  const decisions = new DecisionMemo(deps.keys, deps.authenticator ?? null, deps.now);

  const finish = (ctx: RequestContext, status: number, err: unknown) => deps.onResponse?.(ctx, status, err);
  /** Set by drain(): answers say Connection: close, /readyz says 503. */
  let draining = false;
  const hooks: ProxyHooks = {
    deny: respond.deny,
    decorate: (ctx, headers) => {
      // An answer that started before the drain is still its connection's last; so is one that
      // came before the whole request body (what is left of it cannot be told from a next request).
      if (draining || (ctx.headers.hasBody && !ctx.req.complete)) ctx.res.shouldKeepAlive = false;
      if (ctx.responseHeaders !== null) headers.push(...ctx.responseHeaders);
      respond.decorate(ctx.headers.origin, headers);
    },
    unreachable: (u) => balancer.markDown(u),
    done: finish,
    catchUp: (version) => deps.holder.catchUp(version, CATCH_UP_TIMEOUT_MS),
  };
  const proxyOpts: ProxyOptions = {
    pools,
    hooks,
    balancer,
    retry: { attempts: up.retries, on5xx: up.retryOn5xx, budget: new RetryBudget(up.retryBudgetPercent / 100, 10) },
    timeoutMs: config.timeouts.requestSeconds * 1000,
    sendTimeoutMs: limits.sendTimeoutSeconds * 1000,
    maxBodyBytes: limits.maxBodyBytes,
    signer: new InjectSigner(deps.injectSecret),
  };
  const wsConfig = config.gateway.websocket;
  const ws = new WsForwarder({
    hooks,
    signer: proxyOpts.signer,
    connectTimeoutMs: config.timeouts.connectSeconds * 1000,
    timeoutMs: proxyOpts.timeoutMs,
    idleMs: wsConfig.idleSeconds * 1000,
    maxLifetimeMs: wsConfig.maxLifetimeSeconds * 1000,
    ...(deps.now ? { now: deps.now } : {}),
  });

  /** A stage's denial or failure ends the request here; nothing else writes one. */
  function stopped(ctx: RequestContext, denial: Denial | null, err: unknown): boolean {
    if (err !== undefined) {
      deps.onError?.(err);
      respond.deny(ctx, ERRORS.INTERNAL);
      finish(ctx, ERRORS.INTERNAL.status, err);
      return true;
    }
    if (denial !== null) {
      respond.deny(ctx, denial);
      finish(ctx, denial.status, null);
      return true;
    }
    return false;
  }

  function afterDecide(ctx: RequestContext, denial: Denial | null, err?: unknown): void {
    // An upgraded connection carries no next request to reuse a decision for.
    if (denial === null && err === undefined && ctx.upgradeHead === null) decisions.remember(ctx);
    else decisions.forget(ctx);
    if (!stopped(ctx, denial, err)) runEveryRequest(ctx);
  }

  function runEveryRequest(ctx: RequestContext): void {
    if (everyRequest.length === 0) forward(ctx);
    else runPipeline(everyRequest, ctx, afterEveryRequest);
  }

  function afterEveryRequest(ctx: RequestContext, denial: Denial | null, err?: unknown): void {
    if (!stopped(ctx, denial, err)) forward(ctx);
  }

  function forward(ctx: RequestContext): void {
    const upstream = balancer.pick(ctx.service!, ctx.version!);
    if (!('origin' in upstream)) {
      respond.deny(ctx, upstream);
      finish(ctx, upstream.status, null);
      return;
    }
    if (ctx.upgradeHead !== null) ws.forward(ctx, upstream);
    else proxyRequest(ctx, upstream, proxyOpts);
  }

  const maxRawHeaders = limits.maxHeaderCount * 2;
  const maxUrl = limits.maxUrlBytes;

  /** The request's own limits, checked before any decision (a kept one compares no header count). */
  function overLimit(ctx: RequestContext): Denial | null {
    if (ctx.req.rawHeaders.length > maxRawHeaders) return ERRORS.TOO_MANY_HEADERS;
    if ((ctx.req.url?.length ?? 0) > maxUrl) return ERRORS.URL_TOO_LONG;
    if (ctx.headers.host?.includes(',')) return ERRORS.BAD_HOST;
    return null;
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    accept(req, res, null);
  }

  /** A request, or a WebSocket upgrade (`upgradeHead` not null): the same stages, in the same order. */
  function accept(req: IncomingMessage, res: ServerResponse, upgradeHead: Buffer | null): void {
    // Draining: this answer is the connection's last (node then sends Connection: close).
    if (draining) res.shouldKeepAlive = false;
    let ctx: RequestContext;
    try {
      ctx = new RequestContext(req, res, deps.holder.current(), upgradeHead);
    } catch (err) {
      deps.onError?.(err);
      respond.refuse(req, res, ERRORS.REGISTRY_UNAVAILABLE);
      return;
    }
    const limit = overLimit(ctx);
    if (limit !== null) {
      res.shouldKeepAlive = false;
      respond.deny(ctx, limit);
      return;
    }
    ctx.clientIp = clientIp(ctx);
    // An upgrade is decided afresh: it happens once a session, and the memo was built for repeats.
    if (upgradeHead === null && decisions.reuse(ctx)) runEveryRequest(ctx);
    else runPipeline(decide, ctx, afterDecide);
  }

  /**
   * With an 'upgrade' listener node hands every request that asks to upgrade over here, socket and
   * all — not only WebSocket ones — and takes its own listeners off the socket. A WebSocket
   * upgrade (RFC 6455 §4.1: a GET) runs the stages and is forwarded by forward/ws.ts; any other
   * (h2c, …) is answered as the plain HTTP request it also is, as before there was a listener.
   */
  function onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', destroySocket);
    const res = responseOnSocket(req, socket);
    // node has no parser left on the socket to read a body with: it would be relayed as frames.
    if (announcesBody(req.headers)) {
      respond.refuse(req, res, ERRORS.UPGRADE_WITH_BODY);
      return;
    }
    if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      accept(req, res, null);
      return;
    }
    if (!wsConfig.enabled) {
      respond.refuse(req, res, ERRORS.WEBSOCKET_DISABLED);
      return;
    }
    accept(req, res, head);
  }

  // requestTimeout bounds a whole request, body included: a client trickling an upload must not
  // hold one of the upstream pool's connections forever.
  // node answers what breaks its own limits through 'clientError'. The request line counts into
  // maxHeaderSize: an overflow whose first line is past maxUrlBytes is a URL too long, and a URL
  // past maxUrlBytes that still fits is caught in onRequest.
  const headerLimit = limits.maxHeaderBytes;
  const server = createServer(
    {
      keepAliveTimeout: 65_000,
      // Never longer than the whole request may take (node refuses that with a RangeError).
      headersTimeout: Math.min(limits.headersTimeoutSeconds, config.timeouts.clientRequestSeconds) * 1000,
      requestTimeout: config.timeouts.clientRequestSeconds * 1000,
      // How often node looks for clients past those timeouts (default 30 s: a slowloris got ~89 s).
      connectionsCheckingInterval: 1000,
      maxHeaderSize: headerLimit,
      // Repeats are joined (RFC 9110 §5.3) instead of the first one silently winning: two Host
      // headers become one with a comma (refused below), two keys or tokens one that fails.
      joinDuplicateHeaders: true,
    },
    onRequest,
  );
  // CONNECT would make the gateway a tunnel past every stage: refused with an answer, not a silent close.
  server.on('connect', (_req: IncomingMessage, socket: import('node:net').Socket) => {
    refuseOnSocket(socket, ERRORS.METHOD_NOT_ALLOWED, 'allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n');
  });
  // Past it node closes a new connection at once ('drop'): the process keeps its descriptors.
  if (limits.maxConnections > 0) server.maxConnections = limits.maxConnections;
  server.on('upgrade', onUpgrade);
  // One more than allowed, so that "too many" is seen instead of silently dropped.
  server.maxHeadersCount = limits.maxHeaderCount + 1;
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    refuseOnSocket(socket, clientErrorDenial(err, limits.maxUrlBytes));
  });
  const maintenance = createMaintenanceServer({
    holder: deps.holder,
    balancer,
    decisions,
    notReady: () => {
      if (draining) return DRAINING;
      const hold = deps.holder.hold();
      return hold === null ? null : { reason: 'store-reset', message: hold.message };
    },
    webSockets: () => ws.sessions,
    rateLimits: () => ({ allowed: rateLimiter.allowed, denied: rateLimiter.denied, leases: rateLimiter.leases, counters: rateLimiter.counters }),
  });
  const connections = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });

  let serverClosed: Promise<unknown> | null = null;
  /** Stops accepting (once): resolves when the last connection has gone. */
  function stopAccepting(): Promise<unknown> {
    if (serverClosed === null) {
      serverClosed = once(server, 'close');
      server.close();
    }
    return serverClosed;
  }

  let closed: Promise<void> | null = null;
  /** Once: a close after a drain (or a second close) waits for the same end instead of for a 'close' that already fired. */
  function closeRest(): Promise<void> {
    closed ??= shutDown();
    return closed;
  }

  async function shutDown(): Promise<void> {
    balancer.stop();
    if (deps.rateLimiter === undefined) rateLimiter.close();
    const closing = [stopAccepting(), once(maintenance, 'close')];
    maintenance.close();
    server.closeAllConnections();
    // Upgraded sockets are no longer node's: closeAllConnections does not see them.
    ws.closeAll();
    for (const socket of connections) socket.destroy();
    maintenance.closeAllConnections();
    await Promise.all(closing);
    await pools.close();
    if (!deps.dispatcher) await dispatcher.close();
  }

  return {
    server,
    maintenance,
    balancer,
    ws,
    async listen() {
      // node's default backlog (511) drops SYNs under a burst of connections: each dropped one
      // costs its client a 1 s retransmit. The kernel caps it at net.core.somaxconn.
      server.listen(config.gateway.port, config.gateway.host, limits.listenBacklog);
      await once(server, 'listening');
      // Known before the next await: a request served meanwhile must not inject port 0.
      awareness.port = (server.address() as AddressInfo).port;
      maintenance.listen(config.gateway.maintenancePort, config.gateway.maintenanceHost);
      await once(maintenance, 'listening');
      // Probe once before serving: hosts left registered by a previous run must not get traffic.
      await balancer.probeAll(deps.holder.current());
      balancer.start(deps.holder, config.timeouts.healthCheckSeconds * 1000);
      return { port: awareness.port, maintenancePort: (maintenance.address() as AddressInfo).port };
    },
    async drain(deadlineMs) {
      draining = true;
      // No new connections; idle keep-alive ones close now, busy ones after their answer.
      void stopAccepting();
      server.closeIdleConnections();
      const deadline = Date.now() + deadlineMs;
      while (connections.size > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        server.closeIdleConnections();
      }
      const cut = connections.size;
      await closeRest();
      return { cut };
    },
    close: closeRest,
  };
}
