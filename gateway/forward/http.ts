import type { ServerResponse } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { util, type Dispatcher } from 'undici';
import type { InjectSigner } from '../../registry/view/inject-signature.js';
import type { Upstream } from '../../registry/view/snapshot.js';
import type { RequestContext } from '../context.js';
import { ERRORS, type Denial } from '../errors.js';
import { connectionListed, dropListed, HEADERS, HOP_BY_HOP } from '../headers.js';
import type { Balancer, HostState } from './balancer.js';
import type { PoolSet } from './pools.js';
import type { RetryBudget } from './retry-budget.js';

const { headerNameToString } = util;

/** Connection-level failures: the upstream never got the request → 133, and the host is marked down. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The code of the error a body past its limit is cut with. */
const BODY_TOO_LARGE = 'TESSERA_BODY_TOO_LARGE';

export function denialFor(err: unknown): Denial {
  const code = (err as { code?: string } | null)?.code ?? '';
  if (code === BODY_TOO_LARGE) return ERRORS.BODY_TOO_LARGE;
  if (TIMEOUT.has(code)) return ERRORS.SERVICE_TIMEOUT;
  if (UNREACHABLE.has(code)) return ERRORS.SERVICE_UNREACHABLE;
  return ERRORS.UPSTREAM_ERROR;
}

export function isUnreachable(err: unknown): boolean {
  return UNREACHABLE.has((err as { code?: string } | null)?.code ?? '');
}

/**
 * The client's headers minus hop-by-hop, internal and forwarding ones (ClientHeaders.forward), then
 * ours: a flat name/value list, which undici takes as is. Built in the request's own list, past the
 * client's part (so a second call gives the same list, not a longer one).
 */
export function upstreamHeaders(ctx: RequestContext, proto: string, signer: InjectSigner): string[] {
  const out = ctx.headers.forward;
  out.length = ctx.headers.clientCount;
  out.push(HEADERS.X_FORWARDED_FOR, ctx.clientIp);
  if (ctx.headers.host !== undefined) out.push(HEADERS.X_FORWARDED_HOST, ctx.headers.host);
  out.push(HEADERS.X_FORWARDED_PROTO, proto);
  if (ctx.inject !== null) out.push(HEADERS.INJECT, ctx.inject, HEADERS.INJECT_SIGNATURE, signer.sign(ctx.inject));
  return out;
}

/**
 * Upstream response headers, as undici read them (name/value buffers) or node did (strings), minus
 * hop-by-hop ones (node frames the body itself): a flat list `writeHead` takes directly, names in
 * lower case. Repeated fields (set-cookie) stay separate lines.
 */
export function downstreamHeaders(raw: readonly (Buffer | string)[]): string[] {
  const out: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = headerNameToString(raw[i]!);
    const value = raw[i + 1]!.toString('latin1');
    if (name === HEADERS.CONNECTION) connection = value;
    if (!HOP_BY_HOP.has(name)) out.push(name, value);
  }
  const listed = connectionListed(connection);
  if (listed !== null) dropListed(out, listed);
  return out;
}

/**
 * A 103's flat header list as the object `writeEarlyHints` takes: node wants one link per entry,
 * so `link` lines are split into their link-values (`<…>; …, <…>; …`); other names stay as sent.
 */
function hintsOf(headers: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const links: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    if (name === 'link') {
      for (const v of value.split(/,\s*(?=<)/)) if (v.trim() !== '') links.push(v.trim());
      continue;
    }
    const prev = out[name];
    out[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  if (links.length > 0) out['link'] = links;
  return out;
}

/** Index of `name` (lower case) in a flat header list, -1 when absent. */
export function headerIndex(headers: readonly string[], name: string): number {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return i;
  return -1;
}

export interface ProxyHooks {
  /** Sends a denial (the response has not started). */
  deny(ctx: RequestContext, d: Denial): void;
  /** Headers the gateway adds to every response (CORS), unless the upstream set them. */
  decorate(ctx: RequestContext, headers: string[]): void;
  unreachable(u: Upstream): void;
  done(ctx: RequestContext, status: number, err: unknown): void;
  /** Resolves once this gateway's snapshot has caught up with registry `version` (or gave up waiting). */
  catchUp(version: number): Promise<unknown>;
}

/** RFC 9110 §9.2.2: a repeat has the effect of one request. Only these, and only without a body, are retried. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** Upstream answers worth another host: the upstream says it failed, not that the request is wrong. */
const RETRY_STATUS = new Set([500, 502, 503, 504]);

export interface RetryPolicy {
  /** Further attempts after the first (0: none). */
  attempts: number;
  /** Retry 500/502/503/504 answers too, not only resets and refused connections. */
  on5xx: boolean;
  budget: RetryBudget;
}

/**
 * One undici handler per proxied request, on the handler protocol undici's core drives
 * (onConnect/onHeaders/onData/onComplete/onError): the newer onRequestStart/onResponse* form is an
 * adapter over it that allocates a controller and parses every header block into an object per
 * request — work a proxy that passes headers on as they came does not need. No closures on the
 * normal path; the body streams both ways with back-pressure (returning false pauses the upstream
 * until `res` drains).
 *
 * A failed attempt is retried (same handler, next host) only while nothing of it reached the
 * client and nothing of the client's went upstream but the head: an idempotent method without a
 * body, before the response started, within the attempt count and the process's retry budget.
 */
class ProxyHandler implements Dispatcher.DispatchHandler {
  #abort: ((err?: Error) => void) | null = null;
  /** The client left before undici handed over `abort`. */
  #clientGone = false;
  #resume: (() => void) | null = null;
  #started = false;
  #status = 0;
  /** A 103 went to the client: the exchange is no longer ours to repeat. */
  #hinted = false;
  /** The host of the attempt in flight, until its end is counted. */
  #host: HostState | null = null;
  #attemptsLeft: number;
  /** A 5xx being read to its end (and dropped) before the retry goes to `#next`. */
  #next: Upstream | null = null;
  #stall: NodeJS.Timeout | null = null;
  upstream: Upstream;
  request: Dispatcher.DispatchOptions | null = null;

  constructor(
    readonly ctx: RequestContext,
    upstream: Upstream,
    readonly opts: ProxyOptions,
  ) {
    this.upstream = upstream;
    this.#attemptsLeft = opts.retry.attempts;
  }

  send(upstream: Upstream): void {
    this.upstream = upstream;
    this.#host = this.opts.balancer.state(upstream.origin);
    this.#host.inFlight++;
    this.#abort = null;
    this.opts.pools.get(upstream.origin).dispatch(this.request!, this);
  }

  /** Counts the attempt's end for the host (once): its concurrency slot, and its error streak. */
  #settle(failed: boolean): void {
    const host = this.#host;
    if (host === null) return;
    this.#host = null;
    this.opts.balancer.finished(host, failed);
  }

  /** The host another attempt goes to, or null when this one must stand. Spends a retry. */
  #retryTarget(): Upstream | null {
    const ctx = this.ctx;
    if (this.#attemptsLeft === 0 || this.#clientGone || this.#hinted || ctx.headers.hasBody || ctx.res.headersSent || ctx.res.destroyed) return null;
    if (!IDEMPOTENT.has(ctx.req.method ?? 'GET') || !this.opts.retry.budget.has()) return null;
    // Picked only with a retry to spend: a pick moves the round robin on.
    const next = this.opts.balancer.pick(ctx.service!, ctx.version!, this.upstream);
    if (!('origin' in next)) return null;
    this.opts.retry.budget.take();
    this.#attemptsLeft--;
    return next;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#clientGone) abort(new Error('client closed'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    const res = this.ctx.res;
    if (res.destroyed) {
      this.#abort?.(new Error('client closed'));
      return false;
    }
    if (statusCode < 200) {
      // Informational: the final response follows on the same exchange. A proxy passes 1xx on
      // (RFC 9110 §15.2); node can send 103 Early Hints, not an arbitrary 1xx (102 is dropped).
      if (statusCode === 103 && !res.headersSent) {
        try {
          res.writeEarlyHints(hintsOf(downstreamHeaders(rawHeaders)));
          this.#hinted = true;
        } catch {
          // Hints node will not write (it checks each link's form) are an optimisation lost, not an error.
        }
      }
      return true;
    }
    if (this.opts.retry.on5xx && RETRY_STATUS.has(statusCode)) {
      const next = this.#retryTarget();
      if (next !== null) {
        // Read to its end and dropped: the connection stays usable, the client sees the retry only.
        this.#next = next;
        return true;
      }
    }
    this.#started = true;
    this.#status = statusCode;
    this.#resume = resume;
    const out = downstreamHeaders(rawHeaders);
    const rv = headerIndex(out, HEADERS.REGISTRY_VERSION);
    if (rv !== -1) {
      // A service changed what we enforce (registry/view/read-your-writes.ts): the answer waits, the
      // upstream paused, until our snapshot has the change — the client's next request sees it.
      const version = Number(out[rv + 1]);
      out.splice(rv, 2);
      if (Number.isSafeInteger(version) && version > 0) {
        void this.opts.hooks.catchUp(version).then(() => {
          if (this.ctx.res.destroyed) return this.#abort?.(new Error('client closed'));
          this.#writeHead(statusCode, out);
          resume();
        });
        return false;
      }
    }
    this.#writeHead(statusCode, out);
    return true;
  }

  #writeHead(statusCode: number, out: string[]): void {
    const res = this.ctx.res;
    this.opts.hooks.decorate(this.ctx, out);
    res.writeHead(statusCode, out);
    // writeHead only buffers: without a length (streams, SSE, long polls) the client must get the
    // headers now, not with the first body byte.
    if (headerIndex(out, HEADERS.CONTENT_LENGTH) === -1) res.flushHeaders();
  }

  onData(chunk: Buffer): boolean {
    if (this.#next !== null) return true;
    if (this.ctx.res.write(chunk)) return true;
    // A client that stops reading holds this exchange and its upstream connection: it gets
    // `sendTimeoutMs` to make room again, then both are let go. One timer per exchange, restarted
    // at each stall; when it fires, a buffer that drained since means the client is reading.
    if (this.#stall === null) this.#stall = setTimeout(onStalled, this.opts.sendTimeoutMs, this);
    else this.#stall.refresh();
    this.ctx.res.once('drain', this.#resume!);
    return false;
  }

  stalled(): void {
    if (this.ctx.res.writableNeedDrain) this.ctx.res.destroy(new Error('client stopped reading'));
  }

  #clearStall(): void {
    if (this.#stall === null) return;
    clearTimeout(this.#stall);
    this.#stall = null;
  }

  onComplete(): void {
    const next = this.#next;
    if (next !== null) {
      this.#next = null;
      this.#settle(true);
      return this.send(next);
    }
    this.#clearStall();
    this.#settle(this.#status >= 500);
    this.ctx.res.end();
    this.opts.hooks.done(this.ctx, this.#status, null);
  }

  onError(err: Error): void {
    const res = this.ctx.res;
    this.#clearStall();
    if (isUnreachable(err)) this.opts.hooks.unreachable(this.upstream);
    // The client's own leaving says nothing about the host.
    this.#settle(!this.#clientGone);
    if (!this.#started && !res.headersSent && !res.destroyed) {
      // A timeout spent the request's time already; anything else before an answer can go elsewhere.
      const next = this.#next ?? (TIMEOUT.has((err as { code?: string }).code ?? '') ? null : this.#retryTarget());
      this.#next = null;
      if (next !== null) return this.send(next);
      const d = denialFor(err);
      this.opts.hooks.deny(this.ctx, d);
      this.opts.hooks.done(this.ctx, d.status, err);
      return;
    }
    // Mid-body failure: the status is already on the wire; cutting the connection is the only
    // honest signal left.
    res.destroy(err);
    this.opts.hooks.done(this.ctx, this.#status, err);
  }

  /** The client went away: stop the upstream exchange (or refuse to start it). */
  abort(): void {
    this.#clientGone = true;
    this.#abort?.(new Error('client closed'));
  }
}

function onStalled(handler: ProxyHandler): void {
  handler.stalled();
}

export interface ProxyOptions {
  pools: PoolSet;
  hooks: ProxyHooks;
  balancer: Balancer;
  retry: RetryPolicy;
  /** Signs `soajsinjectobj` for the services (they refuse an unsigned one). */
  signer: InjectSigner;
  /** Default timeout, ms, for services that set none. */
  timeoutMs: number;
  /** How long a client may leave a response unread (its socket full) before it is cut, ms. */
  sendTimeoutMs: number;
  /** Largest request body for services that set none, bytes; 0: no limit. */
  maxBodyBytes: number;
}

const kHandler = Symbol('tessera.proxyHandler');

/** The client went away before the response finished: stop the upstream exchange. Shared, no closure per request. */
function onClientClose(this: ServerResponse & { [kHandler]?: ProxyHandler }): void {
  if (!this.writableFinished) this[kHandler]?.abort();
}

/**
 * A body without a declared length, counted on its way upstream: past `limit` it fails, which
 * ends the upstream exchange and — the answer not having started — gives the client 413.
 */
class BodyLimit extends Transform {
  #left: number;
  constructor(limit: number) {
    super();
    this.#left = limit;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.#left -= chunk.length;
    if (this.#left >= 0) return callback(null, chunk);
    callback(Object.assign(new Error('request body too large'), { code: BODY_TOO_LARGE }));
  }
}

/** The request body for undici: the request itself, or a counting stream over it when it has a limit and no length. Null: refused. */
function bodyOf(ctx: RequestContext, opts: ProxyOptions): Readable | null | false {
  if (!ctx.headers.hasBody) return null;
  const limit = ctx.service!.maxBodyBytes ?? opts.maxBodyBytes;
  if (limit === 0) return ctx.req;
  const declared = ctx.headers.contentLength;
  if (declared !== null) return Number(declared) > limit ? false : ctx.req;
  const counted = new BodyLimit(limit);
  ctx.req.pipe(counted);
  counted.once('error', () => ctx.req.unpipe(counted));
  return counted;
}

export function proxyRequest(ctx: RequestContext, upstream: Upstream, opts: ProxyOptions): void {
  const body = bodyOf(ctx, opts);
  if (body === false) {
    opts.hooks.deny(ctx, ERRORS.BODY_TOO_LARGE);
    opts.hooks.done(ctx, ERRORS.BODY_TOO_LARGE.status, null);
    return;
  }
  const handler = new ProxyHandler(ctx, upstream, opts);
  const timeout = ctx.service!.requestTimeout ?? opts.timeoutMs;
  (ctx.res as ServerResponse & { [kHandler]?: ProxyHandler })[kHandler] = handler;
  // `on`, not `once`: a response closes once, and `once` wraps the listener in a new closure per request.
  ctx.res.on('close', onClientClose);
  // Gone while an asynchronous stage ran: 'close' has fired already.
  if (ctx.res.destroyed) handler.abort();
  opts.retry.budget.earn();
  handler.request = {
    path: ctx.upstreamPath,
    method: (ctx.req.method ?? 'GET') as Dispatcher.HttpMethod,
    headers: upstreamHeaders(ctx, 'http', opts.signer),
    body,
    headersTimeout: timeout,
    bodyTimeout: timeout,
  };
  handler.send(upstream);
}
