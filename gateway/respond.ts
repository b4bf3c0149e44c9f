import { ServerResponse, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Config } from '../config/schema.js';
import type { RequestContext } from './context.js';
import type { Denial } from './errors.js';
import { announcesBody } from './client-headers.js';
import { HEADERS } from './headers.js';
import { headerIndex } from './forward/http.js';

/** An echoed origin must stay in `Vary` whatever the upstream varies on, or shared caches mix origins. */
function mergeVary(upstream: string, ours: string): string {
  const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
  const names = list(upstream);
  if (names.includes('*')) return '*';
  const lower = new Set(names.map((n) => n.toLowerCase()));
  for (const n of list(ours)) if (!lower.has(n.toLowerCase())) names.push(n);
  return names.join(', ');
}

/** The one place that writes the gateway's own answers (denials and the url stage's built-in ones) and adds its headers to every answer. */
export interface Responder {
  /** Adds the CORS headers a response lacks (an upstream's own win) to a flat header list. */
  decorate(origin: string | undefined, out: string[]): string[];
  /** A denial from the error table (nothing is written once the response has started). */
  deny(ctx: RequestContext, d: Denial): void;
  /** A denial for a request no context was made for (its own limits, no snapshot at all). */
  refuse(req: IncomingMessage, res: ServerResponse, d: Denial): void;
}

/**
 * A denial written straight on a socket: for what node could not parse into a request (its own
 * limits) or will not serve as one (CONNECT). The connection closes after it.
 */
export function refuseOnSocket(socket: Duplex, d: Denial, extra = ''): void {
  socket.end(
    `HTTP/1.1 ${d.status} ${STATUS_CODES[d.status]}\r\n${extra}content-type: application/json\r\ncontent-length: ${d.body.length}\r\nconnection: close\r\n\r\n${d.body.toString()}`,
  );
}

function closeAfterAnswer(this: ServerResponse): void {
  this.socket?.destroySoon();
}

/**
 * A response for a socket node handed over on 'upgrade' with no response of its own: denials (and
 * an upgrade answered as plain HTTP) are written through it like any other, so `deny` needs no
 * second writer. node's server no longer manages the socket, so it closes here once the answer
 * is flushed (`Connection: close` says so).
 */
export function responseOnSocket(req: IncomingMessage, socket: Socket): ServerResponse {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  res.on('finish', closeAfterAnswer);
  return res;
}

export function createResponder(cors: Readonly<Config['cors']>): Responder {
  // CORS headers are computed once; only an echoed Origin is per request.
  const echoOrigin = cors.origin === '*' && cors.credentials;
  const fixed: readonly (readonly [string, string])[] = cors.enabled
    ? [...(cors.credentials ? [[HEADERS.ALLOW_CREDENTIALS, 'true'] as const] : []), [HEADERS.EXPOSE_HEADERS, cors.headers] as const]
    : [];
  const preflight = [
    HEADERS.ALLOW_METHODS,
    cors.methods,
    HEADERS.ALLOW_HEADERS,
    cors.headers,
    HEADERS.MAX_AGE,
    String(cors.maxAgeSeconds),
  ];

  /**
   * Only cross-origin requests carry `Origin` (Fetch spec), and only they read these headers: other
   * traffic is spared ~180 bytes a response, the largest share of the gateway's own write cost in
   * a profile.
   */
  function decorate(origin: string | undefined, out: string[]): string[] {
    if (!cors.enabled || origin === undefined) return out;
    if (headerIndex(out, HEADERS.ALLOW_ORIGIN) === -1) {
      // `*` cannot go with credentials (Fetch spec): echo the caller's origin instead, and say so in Vary.
      if (echoOrigin) {
        out.push(HEADERS.ALLOW_ORIGIN, origin);
        const vary = headerIndex(out, HEADERS.VARY);
        if (vary === -1) out.push(HEADERS.VARY, 'Origin');
        else out[vary + 1] = mergeVary(out[vary + 1]!, 'Origin');
      } else {
        out.push(HEADERS.ALLOW_ORIGIN, cors.origin);
      }
    }
    for (const [name, value] of fixed) if (headerIndex(out, name) === -1) out.push(name, value);
    return out;
  }

  function write(res: ServerResponse, origin: string | undefined, d: Denial, unreadBody: boolean, extra: readonly string[] | null): void {
    if (res.headersSent || res.destroyed) return;
    // The rest of the body would be read as the next request: this answer is the connection's last.
    if (unreadBody) res.shouldKeepAlive = false;
    // A 204 carries no content headers (RFC 9110 §8.6): a preflight is its CORS headers alone.
    const headers = d.preflight ? [...preflight] : [HEADERS.CONTENT_TYPE, d.contentType ?? 'application/json', HEADERS.CONTENT_LENGTH, String(d.body.length)];
    if (d.headers !== undefined) headers.push(...d.headers);
    if (extra !== null) headers.push(...extra);
    res.writeHead(d.status, decorate(origin, headers));
    res.end(d.body);
  }

  return {
    decorate,
    deny: (ctx, d) => write(ctx.res, ctx.headers.origin, d, ctx.headers.hasBody && !ctx.req.complete, ctx.responseHeaders),
    refuse: (req, res, d) => write(res, req.headers.origin, d, !req.complete && announcesBody(req.headers), null),
  };
}
