import { SIGNATURE_HEADER } from '../registry/view/inject-signature.js';
import { REGISTRY_VERSION_HEADER } from '../registry/view/read-your-writes.js';

/** Every header name the gateway reads or writes, in one place (lower case, as node delivers them). */
export const HEADERS = Object.freeze({
  KEY: 'key',
  ACCESS_TOKEN: 'access_token',
  AUTHORIZATION: 'authorization',
  INJECT: 'soajsinjectobj',
  INJECT_SIGNATURE: SIGNATURE_HEADER,
  REGISTRY_VERSION: REGISTRY_VERSION_HEADER,
  USER_AGENT: 'user-agent',
  HOST: 'host',
  CONNECTION: 'connection',
  CONTENT_TYPE: 'content-type',
  CONTENT_LENGTH: 'content-length',
  TRANSFER_ENCODING: 'transfer-encoding',
  X_FORWARDED_FOR: 'x-forwarded-for',
  X_FORWARDED_HOST: 'x-forwarded-host',
  X_FORWARDED_PROTO: 'x-forwarded-proto',
  X_REAL_IP: 'x-real-ip',
  ORIGIN: 'origin',
  VARY: 'vary',
  ALLOW: 'allow',
  RETRY_AFTER: 'retry-after',
  RATELIMIT_POLICY: 'ratelimit-policy',
  RATELIMIT: 'ratelimit',
  ALLOW_ORIGIN: 'access-control-allow-origin',
  ALLOW_CREDENTIALS: 'access-control-allow-credentials',
  ALLOW_METHODS: 'access-control-allow-methods',
  ALLOW_HEADERS: 'access-control-allow-headers',
  EXPOSE_HEADERS: 'access-control-expose-headers',
  MAX_AGE: 'access-control-max-age',
});

/** RFC 9110 §7.6.1 hop-by-hop fields, plus the legacy ones proxies still see. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/**
 * Headers a client must never set for the upstream: hop-by-hop, our injected context, and the
 * forwarding headers we set ourselves from what we saw.
 */
export const STRIP_FROM_CLIENT: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  HEADERS.INJECT,
  HEADERS.INJECT_SIGNATURE,
  // node's server has already answered `100 Continue`; undici refuses to send the header on.
  'expect',
  HEADERS.X_FORWARDED_FOR,
  HEADERS.X_FORWARDED_HOST,
  HEADERS.X_FORWARDED_PROTO,
  HEADERS.X_REAL_IP,
  'forwarded',
]);

/** Names listed in `Connection: a, b` are hop-by-hop for this message too (RFC 9110 §7.6.1). */
export function connectionListed(value: string | undefined): ReadonlySet<string> | null {
  // Nearly every request says just this: answer without splitting.
  if (!value || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive') return null;
  const names = value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s && s !== 'close' && s !== 'keep-alive');
  return names.length ? new Set(names) : null;
}

/** Removes, in place, the pairs of a flat name/value list whose (lower-case) name is in `listed`. */
export function dropListed(headers: string[], listed: ReadonlySet<string>): void {
  let w = 0;
  for (let r = 0; r < headers.length; r += 2) {
    if (listed.has(headers[r]!)) continue;
    headers[w++] = headers[r]!;
    headers[w++] = headers[r + 1]!;
  }
  headers.length = w;
}
