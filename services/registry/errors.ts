import { ServiceError } from '../kit/envelope.js';

/** Error answers of the registry service (code, HTTP status, message). */
export const errors = {
  notLoggedIn: () => new ServiceError(401, 401, 'You need to be logged in.'),
  /** Whatever ACL let the call through: the registry is the platform's, not a tenant's. */
  notPlatform: () => new ServiceError(403, 403, "The registry API is for the platform owner tenant's owner (writes) and viewer (reads) groups only."),
  badRequest: (message: string) => new ServiceError(400, 400, message),
  notFound: (what: string) => new ServiceError(404, 404, `${what} not found.`),
  exists: (what: string) => new ServiceError(409, 409, `${what} already exists.`),
  inUse: (message: string) => new ServiceError(409, 409, message),
  /** `If-Match` named another version than the stored one: nothing was written. */
  stale: (version: number) => new ServiceError(412, 412, `The document changed since you read it (version ${version}); reload and retry.`),
  /** No `If-Match`, and other writers kept getting in between our read and our write. */
  busy: () => new ServiceError(409, 409, 'The document kept changing while it was being written; reload and retry.'),
  /** The change is stored but its audit entry is not: say so rather than claim nothing changed. */
  auditFailed: (version: number | null) =>
    new ServiceError(
      500,
      500,
      `The change was applied${version === null ? '' : ` (version ${version})`} but its audit entry could not be written; check the store.`,
    ),
} as const;
