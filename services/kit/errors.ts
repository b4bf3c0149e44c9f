import { ServiceError } from './envelope.js';

interface ErrorDef {
  readonly code: number;
  readonly status: number;
  /** A fixed message, or one made from the details the caller gives. */
  readonly message: string | ((...details: never[]) => string);
}

const def = <M extends ErrorDef['message']>(code: number, status: number, message: M) => ({ code, status, message });

/**
 * Every error the bundled services answer, in one table (the gateway's own are gateway/errors.ts):
 * code (SOAJS's where SOAJS has one), HTTP status, message. A test keeps the README's list of
 * them and this table in step.
 */
export const SERVICE_ERRORS = {
  // The kit: every service.
  notThroughGateway: def(142, 500, 'extKeyRequired is ON for this service, Make sure your request is going through soajs.controller and a key is in the header'),
  badSignature: def(142, 403, (fault: string) => `soajsinjectobj is refused: the gateway's signature is ${fault}. Call this service through the gateway`),
  unknownApi: def(151, 400, 'You are trying to reach an unknown rest service!'),
  missingField: def(172, 400, (field: string) => `Missing required field: ${field}`),
  badRequest: def(400, 400, (message: string) => message),
  notLoggedIn: def(401, 401, 'You need to be logged in.'),
  tooLarge: def(413, 413, (limit: number) => `Request body larger than ${limit} bytes`),
  unsupportedType: def(415, 415, (type: string, hint: string = '') => `Unsupported content-type ${type}${hint}`),
  storeUnavailable: def(181, 503, 'The registry store is unavailable; nothing was changed. Try again shortly.'),
  internal: def(500, 500, 'Internal service error'),
  // urac
  userExists: def(402, 409, 'User account already exists.'),
  groupNotFound: def(420, 404, 'Group not found.'),
  groupExists: def(421, 409, 'Group already exists.'),
  userNotFound: def(520, 404, 'User not found.'),
  passwordMismatch: def(522, 400, 'The password and its confirmation do not match.'),
  wrongPassword: def(523, 400, 'Invalid current password.'),
  alreadyMember: def(527, 400, 'User already belongs to this tenant.'),
  changed: def(412, 409, 'The record changed meanwhile; try again.'),
  /** A tenant admin's write naming what its tenant does not hold (services/urac/holdings.ts). */
  notHeld: def(403, 403, (message: string) => message),
  tenantGone: def(403, 403, 'The tenant of this key no longer exists.'),
  // oauth
  missingSecret: def(406, 406, 'Missing Tenant secret'),
  invalidClient: def(401, 401, "Invalid client: the Authorization header does not match the key's tenant"),
  badCredentials: def(401, 401, 'Unable to log in. Credential error or mismatch'),
  invalidRefreshToken: def(400, 400, 'Invalid refresh token'),
  unsupportedGrant: def(400, 400, (grant: string) => `Unsupported grant type "${grant}": use password, refresh_token or urn:ietf:params:oauth:grant-type:token-exchange`),
  /** Token exchange (RFC 8693 §2.2.2: invalid_request): the subject token cannot vouch for the user. */
  invalidSubjectToken: def(400, 400, (why: string) => `Invalid subject token: ${why}`),
  unsupportedTokenType: def(400, 400, (type: string) => `Unsupported subject_token_type "${type}": use urn:ietf:params:oauth:token-type:access_token or urn:ietf:params:oauth:token-type:refresh_token`),
  /** An unknown tenant gets the same answer as a foreign one: a user learns nothing of tenants that are not theirs. */
  tenantForbidden: def(403, 403, (tenant: string) => `No access to tenant "${tenant}": it is not one of the user's tenants`),
  tenantLocked: def(416, 403, (tenant: string) => `Tenant "${tenant}" is locked: no token is issued for it by a tenant choice`),
  accountInactive: def(405, 403, 'The user account is not active'),
  loginThrottled: def(429, 429, (what: string, seconds: number) => `Too many failed logins ${what}; try again in ${seconds} s`),
  exchangeThrottled: def(429, 429, (seconds: number) => `Too many token exchanges for this user; try again in ${seconds} s`),
  revokeForbidden: def(403, 403, "Only the user, or an owner of the user's tenant, may revoke these tokens"),
  // registry
  notPlatform: def(403, 403, "The registry API is for the platform owner tenant's owner (writes) and viewer (reads) groups only."),
  notFound: def(404, 404, (what: string) => `${what} not found.`),
  exists: def(409, 409, (what: string) => `${what} already exists.`),
  inUse: def(409, 409, (message: string) => message),
  /** `If-Match` named another version than the stored one: nothing was written. */
  stale: def(412, 412, (version: number) => `The document changed since you read it (version ${version}); reload and retry.`),
  /** No `If-Match`, and other writers kept getting in between our read and our write. */
  busy: def(409, 409, 'The document kept changing while it was being written; reload and retry.'),
  /** The change is stored but its audit entry is not: say so rather than claim nothing changed. */
  auditFailed: def(500, 500, (version: number | null) => `The change was applied${version === null ? '' : ` (version ${version})`} but its audit entry could not be written; check the store.`),
} as const;

type Table = typeof SERVICE_ERRORS;
type Builder<M> = M extends (...details: infer A) => string ? (...details: A) => ServiceError : () => ServiceError;

/** `errors.userNotFound()`, `errors.notFound('Product "X"')`: a ServiceError from the table, to throw. */
export const errors = Object.fromEntries(
  Object.entries(SERVICE_ERRORS).map(([name, d]) => [
    name,
    (...details: never[]) => new ServiceError(d.code, d.status, typeof d.message === 'function' ? (d.message as (...a: never[]) => string)(...details) : d.message),
  ]),
) as { readonly [K in keyof Table]: Builder<Table[K]['message']> };
