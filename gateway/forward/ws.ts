import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import httpProxy from 'http-proxy';
import type { InjectSigner } from '../../registry/view/inject-signature.js';
import type { Upstream } from '../../registry/view/snapshot.js';
import type { RequestContext } from '../context.js';
import type { Denial } from '../errors.js';
import { HEADERS } from '../headers.js';
import { denialFor, downstreamHeaders, headerIndex, isUnreachable, upstreamHeaders } from './http.js';

export interface WsHooks {
  /** Writes a denial on the client's socket (through its response: respond.ts `responseOnSocket`). */
  deny(ctx: RequestContext, d: Denial): void;
  unreachable(u: Upstream): void;
  /** Once per upgrade, when its session is over: 101 for a session that was open. */
  done(ctx: RequestContext, status: number, err: unknown): void;
}

export interface WsOptions {
  hooks: WsHooks;
  signer: InjectSigner;
  connectTimeoutMs: number;
  /** How long the upstream may take to answer the upgrade, for services that set no requestTimeout. */
  timeoutMs: number;
  /** No bytes either way for this long closes a session. */
  idleMs: number;
  maxLifetimeMs: number;
  /** ms since the epoch (token and key expiries); tests inject a clock. */
  now?: () => number;
}

/**
 * An upgrade's life, one direction only:
 *   connecting → handshaking → open (101, bytes relayed) → closed
 *                           └→ answered (the upstream declined: its answer is relayed) → closed
 */
type Phase = 'connecting' | 'handshaking' | 'open' | 'answered' | 'closed';

/**
 * How the client's socket ends: cut now; after what the upstream sent is flushed; or by its
 * response (a denial, a declined upgrade's answer), which closes it once written.
 */
type Ending = 'cut' | 'flush' | 'answered';

const kSession = Symbol('tessera.wsSession');
type SessionRequest = IncomingMessage & { [kSession]?: WsSession };

function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * One upgrade, from the pick of a host to the close of both sockets. http-proxy does the relay (the
 * 101, the bytes each side sent early, the pipes both ways); the rest is here because it does not
 * do it: the request it builds from the client's is replaced by ours (upstreamHeaders: internal
 * headers stripped, the signed context injected); a client that leaves before the 101 aborts the
 * upstream request (http-proxy would wait for its answer forever); either socket's close, not only
 * a clean 'end', destroys the other (http-party/node-http-proxy#1559, sagemathinc/cocalc#8324); and
 * a declined upgrade's answer is written through the client's response, framed by node.
 */
class WsSession {
  #phase: Phase = 'connecting';
  #proxyReq: ClientRequest | null = null;
  #upstreamSocket: Socket | null = null;
  /** A declined upgrade's answer. */
  #answer: IncomingMessage | null = null;
  /** One timer at a time: connect, then the upgrade's answer, then the session's lifetime. */
  #timer: NodeJS.Timeout | null = null;
  #status = 0;

  constructor(
    readonly ctx: RequestContext,
    readonly upstream: Upstream,
    readonly opts: WsOptions,
    readonly sessions: Set<WsSession>,
  ) {}

  get client(): Socket {
    return this.ctx.req.socket;
  }

  start(proxy: httpProxy): void {
    const client = this.client;
    // WebSocket has no half-close (RFC 6455 §7.1.1): a client's FIN ends the session (node then
    // ends our side too) instead of leaving the socket half-open until the idle timeout.
    client.allowHalfOpen = false;
    client.on('close', this.#onClientClose);
    client.on('timeout', this.#onIdle);
    this.#arm(this.opts.connectTimeoutMs, this.#onConnectTimeout);
    (this.ctx.req as SessionRequest)[kSession] = this;
    // node wants a bare address: `[::1]` is an origin's spelling, not a hostname.
    const hostname = this.upstream.host.replace(/^\[(.*)\]$/, '$1');
    proxy.ws(this.ctx.req, client, this.ctx.upgradeHead, { target: { protocol: 'http:', hostname, port: String(this.upstream.port) } }, onProxyError);
    // http-proxy would write a declined upgrade's answer itself, the upstream's framing headers
    // over a body it has decoded (a chunked answer arrives unframed): ours replaces its listener.
    this.#proxyReq?.removeAllListeners('response').on('response', this.#onResponse);
  }

  /** http-proxy's request, before a byte of it is sent: our path and headers replace the client's. */
  attach(proxyReq: ClientRequest): void {
    this.#proxyReq = proxyReq;
    proxyReq.path = this.ctx.upstreamPath;
    for (const name of proxyReq.getHeaderNames()) proxyReq.removeHeader(name);
    const out = upstreamHeaders(this.ctx, 'http', this.opts.signer);
    for (let i = 0; i < out.length; i += 2) {
      const name = out[i]!;
      const prev = proxyReq.getHeader(name);
      proxyReq.setHeader(name, prev === undefined ? out[i + 1]! : [...(Array.isArray(prev) ? prev : [String(prev)]), out[i + 1]!]);
    }
    // Hop-by-hop, so stripped from the client's list: the upgrade is ours to ask for. The
    // Sec-WebSocket-* fields are end-to-end and came with the client's headers.
    proxyReq.setHeader(HEADERS.CONNECTION, 'Upgrade');
    proxyReq.setHeader('upgrade', this.ctx.req.headers.upgrade ?? 'websocket');
    if (!proxyReq.hasHeader(HEADERS.HOST)) proxyReq.setHeader(HEADERS.HOST, `${this.upstream.host}:${this.upstream.port}`);
    proxyReq.on('socket', this.#onUpstreamSocket);
    // Before http-proxy's own listener (it adds it after this event): ours sees the 101 first.
    proxyReq.on('upgrade', this.#onUpgrade);
  }

  /** Any failure http-proxy reports, before or after the 101 (or one of our timers). */
  fail(err: unknown): void {
    if (this.#phase === 'closed') return;
    if (this.#phase !== 'connecting' && this.#phase !== 'handshaking') return this.#close(err, 'cut');
    // Nothing sent to the client yet: an HTTP answer, as for a proxied request (133 marks the host down).
    if (isUnreachable(err)) this.opts.hooks.unreachable(this.upstream);
    const d = denialFor(err);
    this.#status = d.status;
    this.opts.hooks.deny(this.ctx, d);
    this.#close(err, 'answered');
  }

  /** Gateway shutdown: both sockets, now. */
  cut(): void {
    this.#close(null, 'cut');
  }

  #arm(ms: number, fn: () => void): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(fn, ms);
    this.#timer.unref();
  }

  #close(err: unknown, ending: Ending): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.sessions.delete(this);
    // With agent: false the request owns its connection: destroying it aborts a pending upgrade.
    this.#proxyReq?.destroy();
    this.#upstreamSocket?.destroy();
    if (ending === 'cut') this.client.destroy();
    else if (ending === 'flush') this.client.destroySoon();
    this.opts.hooks.done(this.ctx, this.#status, err ?? null);
  }

  readonly #onUpstreamSocket = (socket: Socket): void => {
    if (socket.connecting) socket.once('connect', this.#onConnected);
    else this.#onConnected();
  };

  readonly #onConnected = (): void => {
    if (this.#phase !== 'connecting') return;
    this.#phase = 'handshaking';
    this.#arm(this.ctx.service!.requestTimeout ?? this.opts.timeoutMs, this.#onHandshakeTimeout);
  };

  readonly #onUpgrade = (res: IncomingMessage, socket: Socket): void => {
    if (this.#phase === 'closed') {
      socket.destroy();
      return;
    }
    this.#phase = 'open';
    this.#status = 101;
    this.#upstreamSocket = socket;
    // http-proxy writes these headers back as they are: only ours comes off.
    delete res.headers[HEADERS.REGISTRY_VERSION];
    socket.on('close', this.#onUpstreamClose);
    // Either direction's bytes are a read or a write on the client's socket, so its own timeout is
    // the session's idle timer. Set here: http-proxy zeroes it when it takes the socket.
    this.client.setTimeout(this.opts.idleMs);
    this.#arm(this.#lifetimeMs(), this.#onLifetime);
  };

  /**
   * A session lasts no longer than what let it in: its access token's and its ext key's expiry
   * cap the configured lifetime (a revocation before that is not seen by an open session).
   */
  #lifetimeMs(): number {
    const now = (this.opts.now ?? Date.now)();
    let ms = this.opts.maxLifetimeMs;
    const exp = this.ctx.tokenClaims?.expMs;
    if (exp !== undefined) ms = Math.min(ms, exp - now);
    const keyExpires = this.ctx.key?.expires;
    if (keyExpires !== undefined && Number.isFinite(keyExpires)) ms = Math.min(ms, keyExpires - now);
    return Math.max(1, ms);
  }

  readonly #onResponse = (res: IncomingMessage): void => {
    if (this.#phase === 'closed') {
      res.resume();
      return;
    }
    this.#phase = 'answered';
    this.#answer = res;
    this.#status = res.statusCode ?? 0;
    const out = downstreamHeaders(res.rawHeaders);
    const rv = headerIndex(out, HEADERS.REGISTRY_VERSION);
    if (rv !== -1) out.splice(rv, 2);
    // node frames the body again (chunked unless it has a length): an answer cut off shows as such.
    this.ctx.res.writeHead(this.#status, out);
    res.pipe(this.ctx.res);
    res.on('close', this.#onAnswerClose);
    this.#arm(this.ctx.service!.requestTimeout ?? this.opts.timeoutMs, this.#onLifetime);
  };

  readonly #onAnswerClose = (): void => {
    const complete = this.#answer?.complete === true;
    if (!complete) this.ctx.res.destroy();
    this.#close(null, complete ? 'answered' : 'cut');
  };

  readonly #onClientClose = (): void => this.#close(null, 'cut');
  /** What the upstream sent last (its close frame) still reaches the client. */
  readonly #onUpstreamClose = (): void => this.#close(null, 'flush');
  readonly #onIdle = (): void => this.#close(null, 'cut');
  readonly #onLifetime = (): void => this.#close(null, 'cut');
  readonly #onConnectTimeout = (): void => this.fail(coded('UND_ERR_CONNECT_TIMEOUT', 'connect timeout'));
  readonly #onHandshakeTimeout = (): void => this.fail(coded('UND_ERR_HEADERS_TIMEOUT', 'no answer to the upgrade in time'));
}

function onProxyReqWs(proxyReq: ClientRequest, req: IncomingMessage): void {
  (req as SessionRequest)[kSession]?.attach(proxyReq);
}

function onProxyError(err: Error, req: IncomingMessage): void {
  (req as SessionRequest)[kSession]?.fail(err);
}

/**
 * WebSocket upgrades to the upstream, after the same stages as any request (server.ts). Upgrades
 * only: plain HTTP stays on undici (http.ts). Each session has its own upstream connection, no pool.
 */
export class WsForwarder {
  readonly #proxy: httpProxy;
  readonly #sessions = new Set<WsSession>();

  constructor(readonly opts: WsOptions) {
    // No X-Forwarded-* of its own (upstreamHeaders sets ours), and the path is ours too.
    this.#proxy = httpProxy.createProxyServer({ ws: true, xfwd: false, ignorePath: true, prependPath: false });
    this.#proxy.on('proxyReqWs', onProxyReqWs);
    // Every call passes its own callback; without a listener a stray 'error' would be thrown.
    this.#proxy.on('error', onProxyError);
  }

  /** Sessions between the pick of a host and the close of both sockets. */
  get sessions(): number {
    return this.#sessions.size;
  }

  forward(ctx: RequestContext, upstream: Upstream): void {
    // The client left while an asynchronous stage ran: nothing to connect for.
    if (ctx.req.socket.destroyed) {
      this.opts.hooks.done(ctx, 0, null);
      return;
    }
    const session = new WsSession(ctx, upstream, this.opts, this.#sessions);
    this.#sessions.add(session);
    try {
      session.start(this.#proxy);
    } catch (err) {
      // A header node refuses to send, say: this upgrade fails (503), the gateway does not.
      session.fail(err);
    }
  }

  /** Cuts every session (gateway close); returns how many there were. */
  closeAll(): number {
    const n = this.#sessions.size;
    for (const s of [...this.#sessions]) s.cut();
    return n;
  }
}
