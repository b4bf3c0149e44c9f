import type { AuditEntry } from '../../registry/view/types.js';
import { parseJsonObject } from '../kit/json.js';
import type { Reply, Route, ServiceRequest } from '../kit/server.js';
import { errors } from './errors.js';

/** A write's precondition from `If-Match`: a version, `*` (must exist), or none. */
export type IfMatch = number | '*' | null;

/** What every registry handler gets: the request, who is calling, and the write precondition. */
export interface Call {
  readonly req: ServiceRequest;
  readonly actor: AuditEntry['actor'];
  readonly ifMatch: IfMatch;
}

/** `If-Match: "3"` (also `W/"3"` or a bare `3`); `*`; absent → null. Anything else is a 400. */
export function parseIfMatch(header: string | string[] | undefined): IfMatch {
  if (header === undefined) return null;
  const raw = (Array.isArray(header) ? header.join(',') : header).trim();
  if (raw === '') return null;
  if (raw === '*') return '*';
  const m = /^(?:W\/)?"?([0-9]{1,15})"?$/.exec(raw);
  if (!m) throw errors.badRequest('header "If-Match" must be the quoted version from an ETag, e.g. "3"');
  return Number(m[1]);
}

/** `"3"`: the ETag of a document at version 3. */
export function etag(version: number): string {
  return `"${version}"`;
}

/** A document answer in the envelope with its version as ETag. */
export function docReply(data: unknown, version: number, status = 200): Reply {
  return { status, headers: { etag: etag(version) }, json: { result: true, data } };
}

/** Every route needs a logged-in caller (the gateway has checked the ACL; this is the service's own check). */
function callOf(req: ServiceRequest): Call {
  const urac = req.soajs?.urac;
  if (!req.soajs || !urac) throw errors.notLoggedIn();
  return {
    req,
    actor: { userId: urac._id, username: urac.username, tenantId: req.soajs.tenant.id, tenantCode: req.soajs.tenant.code },
    // Preconditions are for writes; a read ignores If-Match.
    ifMatch: req.method === 'GET' ? null : parseIfMatch(req.headers['if-match']),
  };
}

/** A route whose handler receives a `Call`. */
export function route(method: Route['method'], path: string, handler: (call: Call) => Reply | Promise<Reply>, body = false): Route {
  return {
    method,
    path,
    ...(body ? { body: true } : {}),
    handler: (req) => handler(callOf(req)),
  };
}

/**
 * A PATCH route: the kit reads only JSON and form bodies, so the merge patch
 * (`application/merge-patch+json` or `application/json`) is read here.
 */
export function patchRoute(path: string, handler: (call: Call, patch: Record<string, unknown>) => Reply | Promise<Reply>): Route {
  return {
    method: 'PATCH',
    path,
    async handler(req) {
      const call = callOf(req);
      return handler(call, await readMergePatch(req));
    },
  };
}

const PATCH_LIMIT = 1024 * 1024;

async function readMergePatch(req: ServiceRequest): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== '' && type !== 'application/json' && type !== 'application/merge-patch+json') {
    req.raw.resume();
    throw errors.unsupportedType(type, ': PATCH takes a JSON merge patch (application/merge-patch+json)');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req.raw as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > PATCH_LIMIT) throw errors.tooLarge(PATCH_LIMIT);
    chunks.push(chunk);
  }
  return parseJsonObject(Buffer.concat(chunks).toString('utf8'), 'A merge patch');
}

/** An optional query parameter that must match `valid` when given; an empty one counts as absent. */
export function queryText(req: ServiceRequest, field: string, valid: (v: string) => boolean, what: string): string | undefined {
  const v = req.query.get(field);
  if (v === null || v === '') return undefined;
  if (!valid(v)) throw errors.badRequest(`query field "${field}" must be ${what}`);
  return v;
}

/** An optional integer query parameter in [min, max]. */
export function queryInt(req: ServiceRequest, field: string, fallback: number, min: number, max: number): number {
  const v = req.query.get(field);
  if (v === null || v === '') return fallback;
  if (!/^\d{1,15}$/.test(v) || Number(v) < min || Number(v) > max) {
    throw errors.badRequest(`query field "${field}" must be an integer from ${min} to ${max}`);
  }
  return Number(v);
}

export interface Page<T> {
  records: T[];
  total: number;
  start: number;
  limit: number;
}

/** `?start=&limit=` over an already ordered list. */
export function page<T>(req: ServiceRequest, all: readonly T[]): Page<T> {
  const start = queryInt(req, 'start', 0, 0, Number.MAX_SAFE_INTEGER);
  const limit = queryInt(req, 'limit', 50, 1, 500);
  return { records: all.slice(start, start + limit), total: all.length, start, limit };
}

export function byString<T>(key: (x: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
}
