import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/schema.js';
import type { RequestContext } from './context.js';
import { ERRORS, type Denial } from './errors.js';
import { HEADERS } from './headers.js';
import { headerIndex } from './proxy/http.js';

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
  /** No snapshot could be loaded at all (181). */
  unavailable(req: IncomingMessage, res: ServerResponse): void;
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

  return {
    decorate,
    deny(ctx, d) {
      const res = ctx.res;
      if (res.headersSent || res.destroyed) return;
      // A 204 carries no content headers (RFC 9110 §8.6): a preflight is its CORS headers alone.
      const headers = d.preflight ? [...preflight] : [HEADERS.CONTENT_TYPE, d.contentType ?? 'application/json', HEADERS.CONTENT_LENGTH, String(d.body.length)];
      res.writeHead(d.status, decorate(ctx.headers.origin, headers));
      res.end(d.body);
    },
    unavailable(req, res) {
      res.writeHead(ERRORS.REGISTRY_UNAVAILABLE.status, decorate(req.headers.origin, [HEADERS.CONTENT_TYPE, 'application/json']));
      res.end(ERRORS.REGISTRY_UNAVAILABLE.body);
    },
  };
}
