import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Upstream } from '../../registry/snapshot.js';
import type { RequestContext } from '../context.js';
import { ERRORS, type Denial } from '../errors.js';
import { connectionListed, HEADERS, HOP_BY_HOP, STRIP_FROM_CLIENT } from '../headers.js';
import type { PoolSet } from './pools.js';

/** Connection-level failures: the upstream never got the request → 133, and the host is marked down. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export function denialFor(err: unknown): Denial {
  const code = (err as { code?: string } | null)?.code ?? '';
  if (TIMEOUT.has(code)) return ERRORS.SERVICE_TIMEOUT;
  if (UNREACHABLE.has(code)) return ERRORS.SERVICE_UNREACHABLE;
  return ERRORS.UPSTREAM_ERROR;
}

export function isUnreachable(err: unknown): boolean {
  return UNREACHABLE.has((err as { code?: string } | null)?.code ?? '');
}

/** Client headers minus hop-by-hop, internal and forwarding ones; then ours. */
export function upstreamHeaders(ctx: RequestContext, proto: string): Record<string, string | string[]> {
  const src = ctx.req.headers;
  const listed = connectionListed(src[HEADERS.CONNECTION]);
  const out: Record<string, string | string[]> = {};
  for (const name in src) {
    if (STRIP_FROM_CLIENT.has(name) || (listed !== null && listed.has(name))) continue;
    const v = src[name];
    if (v !== undefined) out[name] = v;
  }
  out[HEADERS.X_FORWARDED_FOR] = ctx.clientIp;
  if (src.host !== undefined) out[HEADERS.X_FORWARDED_HOST] = src.host;
  out[HEADERS.X_FORWARDED_PROTO] = proto;
  if (ctx.inject !== null) out[HEADERS.INJECT] = ctx.inject;
  return out;
}

/** Upstream response headers minus hop-by-hop ones (node frames the body itself). */
export function downstreamHeaders(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const listed = connectionListed(headers[HEADERS.CONNECTION] as string | undefined);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || (listed !== null && listed.has(name))) continue;
    const v = headers[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

export interface ProxyHooks {
  /** Sends a denial (the response has not started). */
  deny(ctx: RequestContext, d: Denial): void;
  /** Headers the gateway adds to every response (CORS), unless the upstream set them. */
  decorate(ctx: RequestContext, headers: OutgoingHttpHeaders): void;
  unreachable(u: Upstream): void;
  done(ctx: RequestContext, status: number, err: unknown): void;
}

/**
 * One undici dispatch handler per proxied request: no closures on the normal path, the body
 * streamed both ways with back-pressure (pause the upstream while `res` is full).
 */
class ProxyHandler implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | null = null;
  #started = false;
  #status = 0;

  constructor(
    readonly ctx: RequestContext,
    readonly upstream: Upstream,
    readonly hooks: ProxyHooks,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.ctx.res.destroyed) controller.abort(new Error('client closed'));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    const res = this.ctx.res;
    if (res.destroyed) {
      controller.abort(new Error('client closed'));
      return;
    }
    this.#started = true;
    this.#status = statusCode;
    const out = downstreamHeaders(headers);
    this.hooks.decorate(this.ctx, out);
    res.writeHead(statusCode, out);
    // writeHead only buffers: without a length (streams, SSE, long polls) the client must get the
    // headers now, not with the first body byte.
    if (out['content-length'] === undefined) res.flushHeaders();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.ctx.res.write(chunk)) {
      controller.pause();
      this.ctx.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.ctx.res.end();
    this.hooks.done(this.ctx, this.#status, null);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const res = this.ctx.res;
    if (isUnreachable(err)) this.hooks.unreachable(this.upstream);
    if (!this.#started && !res.headersSent && !res.destroyed) {
      const d = denialFor(err);
      this.hooks.deny(this.ctx, d);
      this.hooks.done(this.ctx, d.status, err);
      return;
    }
    // Mid-body failure: the status is already on the wire; cutting the connection is the only
    // honest signal left.
    res.destroy(err);
    this.hooks.done(this.ctx, this.#status, err);
  }

  /** The client went away: stop the upstream exchange. */
  abort(): void {
    this.#controller?.abort(new Error('client closed'));
  }
}

export interface ProxyOptions {
  pools: PoolSet;
  hooks: ProxyHooks;
  /** Default timeout, ms, for services that set none. */
  timeoutMs: number;
}

function hasBody(ctx: RequestContext): boolean {
  const h = ctx.req.headers;
  return h[HEADERS.TRANSFER_ENCODING] !== undefined || (h[HEADERS.CONTENT_LENGTH] !== undefined && h[HEADERS.CONTENT_LENGTH] !== '0');
}

const kHandler = Symbol('tessera.proxyHandler');

/** The client went away before the response finished: stop the upstream exchange. Shared, no closure per request. */
function onClientClose(this: ServerResponse & { [kHandler]?: ProxyHandler }): void {
  if (!this.writableFinished) this[kHandler]?.abort();
}

export function proxyRequest(ctx: RequestContext, upstream: Upstream, opts: ProxyOptions): void {
  const handler = new ProxyHandler(ctx, upstream, opts.hooks);
  const timeout = ctx.service!.requestTimeout ?? opts.timeoutMs;
  (ctx.res as ServerResponse & { [kHandler]?: ProxyHandler })[kHandler] = handler;
  // `on`, not `once`: a response closes once, and `once` wraps the listener in a new closure per request.
  ctx.res.on('close', onClientClose);
  const body = hasBody(ctx) ? ctx.req : null;
  opts.pools.get(upstream.origin).dispatch(
    {
      path: ctx.upstreamPath,
      method: (ctx.req.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: upstreamHeaders(ctx, 'http'),
      body,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    },
    handler,
  );
}
