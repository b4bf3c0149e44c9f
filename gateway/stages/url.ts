import type { RequestContext } from '../context.js';
import { BUILTIN_ANSWERS, ERRORS, type Denial } from '../errors.js';
import { HEADERS } from '../headers.js';
import { dropParam } from '../query.js';
import type { Stage } from '../stage.js';
import { normalizeVersion } from '../../registry/view/version.js';

/** `/v2` as the second segment selects a version when more segments follow (SOAJS). */
const VERSION_SEGMENT = /^v[0-9]+(?:\.[0-9]+)?$/;
/** Encoded separators and dots would let the upstream see another path than the ACL did. */
const ENCODED_TRAVERSAL = /%(?:2[eEfF]|5[cC]|00)/;

/**
 * Normalises an origin-form path: collapses `//`, resolves `.` and `..`; null when it is not a
 * plain path or climbs above the root.
 */
export function normalizePath(raw: string): string | null {
  if (raw.charCodeAt(0) !== 47 /* / */ || raw.includes('\\') || ENCODED_TRAVERSAL.test(raw)) return null;
  if (!raw.includes('//') && !raw.includes('/.')) return raw;
  const out: string[] = [];
  const parts = raw.split('/');
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i]!;
    if (seg === '' && i < parts.length - 1) continue;
    if (seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) return null;
      out.pop();
      continue;
    }
    out.push(seg);
  }
  return `/${out.join('/')}`;
}

/**
 * url: the built-in answers (a CORS preflight, the favicon, `/`), then
 * `/<service>[:<v>|/v<N>]/<api>` → service entry, ACL path, upstream path.
 */
export function createUrlStage(opts: { cors: boolean } = { cors: true }): Stage {
  return {
    name: 'url',
    kind: 'decide',
    run(ctx: RequestContext): Denial | null {
      const method = ctx.req.method;
      if (method === 'OPTIONS' && opts.cors) return BUILTIN_ANSWERS.PREFLIGHT;
      let url = ctx.req.url ?? '/';
      if (method === 'GET' && url === '/favicon.ico') return BUILTIN_ANSWERS.FAVICON;
      // Absolute form (RFC 9112 §3.2.2): servers must accept it; the authority is the Host's business.
      if (url.charCodeAt(0) !== 47 /* / */ && /^https?:\/\/[^/?#]*/i.test(url)) {
        url = url.replace(/^https?:\/\/[^/?#]*/i, '') || '/';
        if (url.charCodeAt(0) === 63 /* ? */) url = `/${url}`;
      }
      const q = url.indexOf('?');
      const path = normalizePath(q === -1 ? url : url.slice(0, q));
      if (path === null) return ERRORS.BAD_PATH;
      ctx.path = path;
      ctx.query = q === -1 ? '' : url.slice(q + 1);
      if (path === '/') return ERRORS.HELLO;

      const second = path.indexOf('/', 1);
      const first = second === -1 ? path.slice(1) : path.slice(1, second);
      let rest = second === -1 ? '' : path.slice(second);
      let name = first;
      const colon = first.indexOf(':');
      if (colon !== -1) {
        name = first.slice(0, colon);
        const v = normalizeVersion(first.slice(colon + 1));
        if (v === null) return ERRORS.UNKNOWN_SERVICE;
        ctx.requestedVersion = v;
      } else if (second !== -1) {
        const third = path.indexOf('/', second + 1);
        if (third !== -1) {
          const seg = path.slice(second + 1, third);
          if (VERSION_SEGMENT.test(seg)) {
            ctx.requestedVersion = normalizeVersion(seg);
            rest = path.slice(third);
          }
        }
      }
      const service = ctx.snapshot.services.get(name);
      if (service === undefined) return ERRORS.UNKNOWN_SERVICE;
      ctx.serviceName = name;
      ctx.service = service;
      if (rest === '') rest = '/';
      // Tessera strips a trailing slash always: SOAJS only did with a query string, so `/user/`
      // missed the ACL entry `/user` and fell through as an unlisted (public) API.
      ctx.aclPath = rest.length > 1 && rest.endsWith('/') ? rest.slice(0, -1) : rest;
      // The ext key is the gateway's business and a secret: it never reaches a service's URL (or its
      // logs), whichever key decided (SOAJS forwarded `?key=`, another tenant's one included).
      const upstreamQuery = dropParam(ctx.query, HEADERS.KEY);
      ctx.upstreamPath = upstreamQuery === '' ? rest : `${rest}?${upstreamQuery}`;
      return null;
    },
  };
}
