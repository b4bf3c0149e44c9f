import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import type { Config } from '../config/schema.js';
import { compileCidrs, ipIn, plainIp } from '../registry/net.js';
import type { KeyCache } from '../registry/cache.js';
import { InjectSigner } from '../registry/inject-signature.js';
import { CATCH_UP_TIMEOUT_MS } from '../registry/read-your-writes.js';
import type { Upstream } from '../registry/snapshot.js';
import type { SnapshotHolder } from '../registry/sync.js';
import { RequestContext } from './context.js';
import { ERRORS, type Denial } from './errors.js';
import { DecisionMemo } from './decision-memo.js';
import { createStages, runPipeline } from './pipeline.js';
import { Balancer } from './proxy/balancer.js';
import { headerIndex, proxyRequest, type ProxyHooks } from './proxy/http.js';
import { PoolSet } from './proxy/pools.js';
import type { Authenticator } from './stages/token.js';

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
  /** The deployment's secret for signing `soajsinjectobj` (registry/secrets.ts). */
  injectSecret: Buffer;
}

export interface Gateway {
  readonly server: Server;
  readonly maintenance: Server;
  readonly balancer: Balancer;
  listen(): Promise<{ port: number; maintenancePort: number }>;
  close(): Promise<void>;
}

/** An echoed origin must stay in `Vary` whatever the upstream varies on, or shared caches mix origins. */
function mergeVary(upstream: string, ours: string): string {
  const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
  const names = list(upstream);
  if (names.includes('*')) return '*';
  const lower = new Set(names.map((n) => n.toLowerCase()));
  for (const n of list(ours)) if (!lower.has(n.toLowerCase())) names.push(n);
  return names.join(', ');
}

/** The gateway's data plane: reads a snapshot, never a store. */
export function createGateway(config: Readonly<Config>, deps: GatewayDeps): Gateway {
  const trusted = compileCidrs(config.gateway.trustedProxies);
  // Health probes only: proxied requests go through one Pool per upstream origin.
  const dispatcher = deps.dispatcher ?? new Agent({ connect: { timeout: config.timeouts.connectSeconds * 1000 } });
  const pools = new PoolSet({
    connectTimeoutMs: config.timeouts.connectSeconds * 1000,
    keepAliveTimeoutMs: config.timeouts.keepAliveSeconds * 1000,
    connections: 512,
  });
  const balancer = new Balancer(dispatcher, Math.min(5000, config.timeouts.healthCheckSeconds * 1000), (origins) => pools.prune(origins));
  let boundPort = config.gateway.port;
  const awarenessHost = config.gateway.host === '0.0.0.0' || config.gateway.host === '::' ? '127.0.0.1' : config.gateway.host;
  const awareness = { host: awarenessHost, port: boundPort };
  const stages = createStages({
    keys: deps.keys,
    authenticator: deps.authenticator ?? null,
    inject: { awareness: () => awareness, maxBytes: config.gateway.maxInjectHeaderBytes },
  });
  const cors = config.cors;
  // CORS headers are computed once; only an echoed Origin is per request.
  const echoOrigin = cors.origin === '*' && cors.credentials;
  const corsFixed: readonly (readonly [string, string])[] = cors.enabled
    ? [
        ...(cors.credentials ? [['access-control-allow-credentials', 'true'] as const] : []),
        ['access-control-expose-headers', cors.headers] as const,
      ]
    : [];
  const corsPreflight: readonly (readonly [string, string])[] = [
    ['access-control-allow-methods', cors.methods],
    ['access-control-allow-headers', cors.headers],
    ['access-control-max-age', String(cors.maxAgeSeconds)],
  ];

  /**
   * Adds the CORS headers a response lacks (an upstream's own win) to a flat header list, what
   * `writeHead` gets on every path. Only cross-origin requests carry `Origin` (Fetch spec), and only
   * they read these headers: other traffic is spared ~180 bytes a response, the largest share of the
   * gateway's own write cost in a profile.
   */
  function corsHeaders(origin: string | undefined, out: string[]): string[] {
    if (!cors.enabled || origin === undefined) return out;
    if (headerIndex(out, 'access-control-allow-origin') === -1) {
      // `*` cannot go with credentials (Fetch spec): echo the caller's origin instead, and say so in Vary.
      if (echoOrigin) {
        out.push('access-control-allow-origin', origin);
        const vary = headerIndex(out, 'vary');
        if (vary === -1) out.push('vary', 'Origin');
        else out[vary + 1] = mergeVary(out[vary + 1]!, 'Origin');
      } else {
        out.push('access-control-allow-origin', cors.origin);
      }
    }
    for (const [name, value] of corsFixed) if (headerIndex(out, name) === -1) out.push(name, value);
    return out;
  }

  function sendDenial(ctx: RequestContext, d: Denial): void {
    const res = ctx.res;
    if (res.headersSent || res.destroyed) return;
    res.writeHead(d.status, corsHeaders(ctx.headers.origin, ['content-type', 'application/json', 'content-length', String(d.body.length)]));
    res.end(d.body);
  }

  const finish = (ctx: RequestContext, status: number, err: unknown) => deps.onResponse?.(ctx, status, err);

  const hooks: ProxyHooks = {
    deny(ctx, d) {
      sendDenial(ctx, d);
    },
    decorate(ctx, headers) {
      corsHeaders(ctx.headers.origin, headers);
    },
    unreachable(u: Upstream) {
      balancer.markDown(u);
    },
    done: finish,
    catchUp: (version) => deps.holder.catchUp(version, CATCH_UP_TIMEOUT_MS),
  };
  const proxyOpts = { pools, hooks, timeoutMs: config.timeouts.requestSeconds * 1000, signer: new InjectSigner(deps.injectSecret) };
  const decisions = new DecisionMemo(deps.keys, deps.authenticator ?? null);

  function clientIp(ctx: RequestContext): string {
    const socketIp = plainIp(ctx.req.socket.remoteAddress ?? '');
    if (trusted === null || !ipIn(trusted, socketIp)) return socketIp;
    // Rightmost address not one of our proxies: anything left of it was written by the client.
    const xff = ctx.headers.xForwardedFor;
    if (xff === undefined) return socketIp;
    const hops = xff.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const ip = plainIp(hops[i]!.trim());
      if (!ipIn(trusted, ip)) return ip;
    }
    return socketIp;
  }

  function afterPipeline(ctx: RequestContext, denial: Denial | null, err?: unknown): void {
    if (err !== undefined) {
      deps.onError?.(err);
      sendDenial(ctx, ERRORS.INTERNAL);
      finish(ctx, ERRORS.INTERNAL.status, err);
      return;
    }
    if (denial !== null) {
      sendDenial(ctx, denial);
      finish(ctx, denial.status, null);
      return;
    }
    const upstream = balancer.pick(ctx.service!, ctx.version!);
    if (upstream === null) {
      sendDenial(ctx, ERRORS.SERVICE_UNREACHABLE);
      finish(ctx, ERRORS.SERVICE_UNREACHABLE.status, null);
      return;
    }
    proxyRequest(ctx, upstream, proxyOpts);
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (req.method === 'OPTIONS' && cors.enabled) {
      res.writeHead(204, corsHeaders(req.headers.origin, corsPreflight.flat()));
      res.end();
      return;
    }
    if (req.method === 'GET' && req.url === '/favicon.ico') {
      res.writeHead(200, corsHeaders(req.headers.origin, ['content-type', 'image/x-icon', 'content-length', '0']));
      res.end();
      return;
    }
    let ctx: RequestContext;
    try {
      ctx = new RequestContext(req, res, deps.holder.current());
    } catch (err) {
      deps.onError?.(err);
      res.writeHead(ERRORS.REGISTRY_UNAVAILABLE.status, corsHeaders(req.headers.origin, ['content-type', 'application/json']));
      res.end(ERRORS.REGISTRY_UNAVAILABLE.body);
      return;
    }
    ctx.clientIp = clientIp(ctx);
    if (decisions.reuse(ctx)) {
      afterPipeline(ctx, null);
      return;
    }
    runPipeline(stages, ctx, afterStages);
  }

  function afterStages(ctx: RequestContext, denial: Denial | null, err?: unknown): void {
    if (denial === null && err === undefined) decisions.remember(ctx);
    else decisions.forget(ctx);
    afterPipeline(ctx, denial, err);
  }

  // requestTimeout bounds a whole request, body included: a client trickling an upload must not
  // hold one of the upstream pool's connections forever.
  const server = createServer(
    { keepAliveTimeout: 65_000, headersTimeout: 60_000, requestTimeout: config.timeouts.clientRequestSeconds * 1000 },
    onRequest,
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const body = ERRORS.BAD_PATH.body;
    socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body.toString()}`);
  });

  // Read-only by construction: it lists every upstream, so it binds loopback by default
  // (gateway.maintenanceHost) and answers nothing but GET/HEAD.
  const maintenance = createServer((req, res) => {
    const route = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'application/json', allow: 'GET, HEAD' });
      res.end(JSON.stringify({ result: false, ts: Date.now(), service: { service: 'tessera', type: 'rest', route } }));
      return;
    }
    const payload = (data?: unknown) =>
      JSON.stringify({
        result: true,
        ts: Date.now(),
        service: { service: 'tessera', type: 'rest', route },
        ...(data === undefined ? {} : { data }),
      });
    let body: string;
    if (route === '/heartbeat') body = payload();
    else if (route === '/awarenessStat') {
      const snap = deps.holder.current();
      const m = process.memoryUsage();
      body = payload({
        registryVersion: snap.version,
        hosts: balancer.stats(),
        decisions: { made: decisions.made, reused: decisions.reused },
        memory: { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external },
      });
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ result: false, ts: Date.now(), service: { service: 'tessera', type: 'rest', route } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });

  return {
    server,
    maintenance,
    balancer,
    async listen() {
      server.listen(config.gateway.port, config.gateway.host);
      await once(server, 'listening');
      // Known before the next await: a request served meanwhile must not inject port 0.
      boundPort = (server.address() as AddressInfo).port;
      awareness.port = boundPort;
      maintenance.listen(config.gateway.maintenancePort, config.gateway.maintenanceHost);
      await once(maintenance, 'listening');
      // Probe once before serving: hosts left registered by a previous run must not get traffic.
      await balancer.probeAll(deps.holder.current());
      balancer.start(deps.holder, config.timeouts.healthCheckSeconds * 1000);
      return { port: boundPort, maintenancePort: (maintenance.address() as AddressInfo).port };
    },
    async close() {
      balancer.stop();
      const closing = [once(server, 'close'), once(maintenance, 'close')];
      server.close();
      maintenance.close();
      server.closeAllConnections();
      maintenance.closeAllConnections();
      await Promise.all(closing);
      await pools.close();
      if (!deps.dispatcher) await dispatcher.close();
    },
  };
}
