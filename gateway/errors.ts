import { HEADERS } from './headers.js';

/**
 * The one error table of the data plane. SOAJS codes, messages and HTTP statuses (soajs-reference §3),
 * plus Tessera's own in 180–199. Each entry is frozen and its JSON body serialised once: a denial
 * allocates nothing and captures no stack.
 */
export interface Denial {
  readonly name: string;
  readonly code: number;
  readonly status: number;
  readonly message: string;
  /** `{"result":false,"errors":{"codes":[code],"details":[{"code","message"}]}}`, pre-serialised. */
  readonly body: Buffer;
  /** A built-in answer that is no envelope: its own content type (else JSON). */
  readonly contentType?: string;
  /** A CORS preflight: the responder adds the allow-methods/-headers/max-age headers. */
  readonly preflight?: boolean;
  /** Fixed headers the answer carries (a flat name/value list), e.g. `retry-after`. */
  readonly headers?: readonly string[];
}

export function envelope(code: number, message: string): string {
  return JSON.stringify({ result: false, errors: { codes: [code], details: [{ code, message }] } });
}

function def(name: string, code: number, status: number, message: string, headers?: readonly string[]): Denial {
  return Object.freeze({ name, code, status, message, body: Buffer.from(envelope(code, message)), ...(headers ? { headers: Object.freeze([...headers]) } : {}) });
}

export const ERRORS = Object.freeze({
  // routing
  UNKNOWN_SERVICE: def('GW_UNKNOWN_SERVICE', 130, 404, 'Unknown service.'),
  KEY_REQUIRED: def('GW_KEY_REQUIRED', 132, 403, 'A valid key is needed to access any API.'),
  SERVICE_UNREACHABLE: def('GW_SERVICE_UNREACHABLE', 133, 504, 'The service you are trying to reach is not reachable at this moment.'),
  SERVICE_TIMEOUT: def('GW_SERVICE_TIMEOUT', 134, 504, 'All requests to the service you are trying to reach are timing out.'),
  UPSTREAM_ERROR: def('GW_UPSTREAM_ERROR', 135, 503, 'Error occurred while redirecting your request to the service'),
  HELLO: def('GW_HELLO', 136, 200, 'Hello I am here! what do you want me to do!'),
  // key
  KEY_ENV: def('GW_KEY_ENV', 144, 401, 'The provided key cannot be used with this environment'),
  USER_UNAUTHORIZED: def('GW_USER_UNAUTHORIZED', 146, 401, 'Unauthorized to access.'),
  // Deliberate difference: SOAJS answers 148 with HTTP 500; a bad key is the client's fault.
  KEY_UNKNOWN: def('GW_KEY_UNKNOWN', 148, 403, 'Unable to load the key information'),
  PACKAGE_UNKNOWN: def('GW_PACKAGE_UNKNOWN', 152, 500, 'Unable to load the product package information. Check provision configuration for this key.'),
  // access
  SERVICE_NOT_IN_PACKAGE: def('GW_SERVICE_NOT_IN_PACKAGE', 154, 401, 'Access denied: The service is not available in your current package.'),
  GEO_FORBIDDEN: def('GW_GEO_FORBIDDEN', 155, 403, 'Geographic location forbidden'),
  DEVICE_FORBIDDEN: def('GW_DEVICE_FORBIDDEN', 156, 403, 'Device forbidden'),
  SERVICE_GROUP: def('GW_SERVICE_GROUP', 157, 401, 'You do not belong to a group with access to this System.'),
  SERVICE_LOGIN: def('GW_SERVICE_LOGIN', 158, 401, 'You need to be logged in to access this System.'),
  API_RESTRICTED: def('GW_API_RESTRICTED', 159, 401, 'System api access is restricted. api is not in provision.'),
  API_GROUP: def('GW_API_GROUP', 160, 401, 'You do not belong to a group with access to this system API.'),
  API_LOGIN: def('GW_API_LOGIN', 161, 401, 'You need to be logged in to access this API.'),
  INTERNAL: def('GW_INTERNAL', 164, 500, 'Unknown error @ rest core!'),
  // oauth2-server errors: the body code is the HTTP status (SOAJS)
  TOKEN_NOT_FOUND: def('GW_TOKEN_NOT_FOUND', 400, 400, 'The access token was not found'),
  TOKEN_MULTIPLE: def('GW_TOKEN_MULTIPLE', 400, 400, 'Only one method may be used to authenticate at a time (Auth header,  GET or POST).'),
  TOKEN_MALFORMED_HEADER: def('GW_TOKEN_MALFORMED_HEADER', 400, 400, 'Malformed auth header'),
  TOKEN_INVALID: def('GW_TOKEN_INVALID', 401, 401, 'The access token provided is invalid.'),
  TOKEN_EXPIRED: def('GW_TOKEN_EXPIRED', 401, 401, 'The access token provided has expired.'),
  // Tessera
  BAD_PATH: def('GW_BAD_PATH', 180, 400, 'Malformed request path.'),
  HEADERS_TOO_LARGE: def('GW_HEADERS_TOO_LARGE', 182, 431, 'Request header fields too large.'),
  URL_TOO_LONG: def('GW_URL_TOO_LONG', 183, 414, 'Request URL too long.'),
  TOO_MANY_HEADERS: def('GW_TOO_MANY_HEADERS', 184, 431, 'Too many request header fields.'),
  REQUEST_TIMEOUT: def('GW_REQUEST_TIMEOUT', 185, 408, 'The request was not received in time.'),
  BAD_HOST: def('GW_BAD_HOST', 186, 400, 'A request must carry exactly one Host header.'),
  METHOD_NOT_ALLOWED: def('GW_METHOD_NOT_ALLOWED', 187, 405, 'The gateway is no tunnel: CONNECT is not allowed.'),
  BODY_TOO_LARGE: def('GW_BODY_TOO_LARGE', 188, 413, 'The request body is larger than this service accepts.'),
  UPSTREAM_BUSY: def('GW_UPSTREAM_BUSY', 189, 503, 'The service is at its concurrency limit; try again shortly.', [HEADERS.RETRY_AFTER, '1']),
  RATE_LIMITED: def('GW_RATE_LIMITED', 190, 429, 'Too many requests: the rate limit is reached; try again later.'),
  PROVISIONING_PENDING: def('GW_PROVISIONING_PENDING', 191, 503, 'The service is still being set up for this tenant; try again shortly.', [HEADERS.RETRY_AFTER, '5']),
  PROVISIONING_FAILED: def('GW_PROVISIONING_FAILED', 194, 503, 'The service could not be set up for this tenant.'),
  SERVICE_INACTIVE: def('GW_SERVICE_INACTIVE', 195, 403, 'The service is not active for this tenant.'),
  REGISTRY_UNAVAILABLE: def('GW_REGISTRY_UNAVAILABLE', 181, 503, 'The registry is unavailable; try again shortly.'),
  WEBSOCKET_DISABLED: def('GW_WEBSOCKET_DISABLED', 192, 403, 'WebSocket is not enabled on this gateway.'),
  UPGRADE_WITH_BODY: def('GW_UPGRADE_WITH_BODY', 193, 400, 'An upgrade request cannot carry a body.'),
} satisfies Record<string, Denial>);

export type ErrorName = keyof typeof ERRORS;

/**
 * Answers the url stage gives itself, before any service (not errors: no code, no envelope, and so
 * not in the error table's README list). Like a denial they end the request at the responder.
 */
export const BUILTIN_ANSWERS = Object.freeze({
  FAVICON: Object.freeze({ name: 'GW_FAVICON', code: 0, status: 200, message: 'favicon', body: Buffer.alloc(0), contentType: 'image/x-icon' }) as Denial,
  PREFLIGHT: Object.freeze({ name: 'GW_PREFLIGHT', code: 0, status: 204, message: 'CORS preflight', body: Buffer.alloc(0), preflight: true }) as Denial,
});
