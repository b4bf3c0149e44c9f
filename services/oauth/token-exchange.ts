import { ConflictError } from '../../registry/control/store/types.js';
import type { Store } from '../../registry/control/store/types.js';
import type { TenantRef, User } from '../../registry/view/types.js';
import { groupsIn } from '../../registry/view/user-acl.js';
import { ServiceError } from '../kit/envelope.js';
import { errors } from '../kit/errors.js';
import type { SoajsContext } from '../kit/inject.js';
import type { ServiceRequest } from '../kit/server.js';
import { str } from './params.js';
import { ACCESS_TOKEN_TYPE, REFRESH_TOKEN_TYPE, verifySubject, type SubjectType } from './subject-token.js';
import { auditTenantChoice, chooseTenant, type TenantChoiceAudit } from './tenant-choice.js';

/** RFC 8693 §2.1. */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** Bounds on what `issue` signs; each only shortens the configured lifetimes. */
export interface IssueLimits {
  /** The access token expires no later than this, ms. */
  accessExpiresAt?: number;
  /** The refresh token expires no later than this, ms; null: no refresh token. */
  refreshExpiresAt?: number | null;
  /** Answer `issued_token_type` (RFC 8693 §2.2.1). */
  issuedTokenType?: boolean;
}

export interface ExchangeDeps {
  store: Store;
  env: string;
  now: () => number;
  issue(user: User, tenant: TenantRef, iKey: string, limits: IssueLimits): Promise<unknown>;
}

/**
 * Switching tenants without the password: RFC 8693 token exchange at `/oauth/token`.
 *
 *   grant_type=urn:ietf:params:oauth:grant-type:token-exchange
 *   subject_token=<access or refresh token>  subject_token_type=urn:ietf:params:oauth:token-type:(access|refresh)_token
 *   tenant=<id|code> (or RFC 8693's `audience`; default: the key's tenant)
 *
 * The user is the subject token's, and must be active and still a member of that token's tenant,
 * of the key's tenant (the application the call comes through is one of the user's) and of the
 * target. What is issued never outlives the subject: for an access token, an access token that
 * expires with it and no refresh token (a leaked access token must not become a two-week
 * credential, nor live forever by switching back and forth); for a refresh token, a new pair
 * whose refresh token expires with the subject's, and the subject refresh token is used up (single
 * use, as the refresh grant). An access subject stays valid for its own tenant.
 * Throttled per user (EXCHANGES_PER_MINUTE in a row less than a minute apart): a subject token is
 * verified, never guessed, but each exchange writes an audit entry — a loop on one valid token
 * must not grow the store without bound.
 */
/** A person switches tenants a few times a minute at most; a script in a loop, thousands. */
const EXCHANGES_PER_MINUTE = 30;

export function tokenExchange(deps: ExchangeDeps) {
  const { store } = deps;
  return async function exchange(req: ServiceRequest, keyTenant: SoajsContext['tenant'], ip: string): Promise<unknown> {
    const { subject, subjectType, named } = readRequest(req.body);
    const found = await verifySubject(store, subject, subjectType, deps.env, deps.now());
    const burst = await store.countFailure(`exchange:${found.userId}`, deps.now(), 60_000);
    if (burst.count > EXCHANGES_PER_MINUTE) throw errors.exchangeThrottled(60);
    const user = (await store.get('user', found.userId))?.doc;
    const fromGroups = user === undefined ? null : groupsIn(user, found.tenantId);
    if (user === undefined || fromGroups === null) throw errors.invalidSubjectToken('its user is no longer a member of its tenant');
    const from = [user.tenant, ...(user.config?.allowedTenants ?? []).map((e) => e.tenant)].find((m) => m.id === found.tenantId)!;
    const audit: TenantChoiceAudit = {
      action: 'token-exchange',
      user,
      from,
      to: named ?? keyTenant.id,
      via: keyTenant,
      ip,
      details: { subjectType },
    };
    let target: TenantRef;
    try {
      if (user.status !== 'active') throw errors.accountInactive();
      if (groupsIn(user, keyTenant.id) === null) throw errors.tenantForbidden(keyTenant.code);
      target = await chooseTenant(store, user, named ?? keyTenant.id);
    } catch (err) {
      if (err instanceof ServiceError) await auditTenantChoice(store, { ...audit, refused: err }, deps.now());
      throw err;
    }
    if (found.stored !== undefined) {
      // Single use, as the refresh grant: a stolen refresh token exchanged leaves the victim's
      // next refresh failing (the theft shows), and a logout of it ends every copy.
      const { kind, id, version } = found.stored;
      let used: boolean;
      try {
        used = await store.delete(kind, id, { ifVersion: version });
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        used = false;
      }
      if (!used) throw errors.invalidSubjectToken('it was used already');
    }
    await auditTenantChoice(store, audit, deps.now());
    const limits: IssueLimits =
      found.type === ACCESS_TOKEN_TYPE
        ? { accessExpiresAt: found.expiresAt, refreshExpiresAt: null, issuedTokenType: true }
        : { refreshExpiresAt: found.expiresAt, issuedTokenType: true };
    return deps.issue(user, target, keyTenant.key.iKey, limits);
  };
}

/** The request's fields, or a 400 naming what is wrong with them. */
function readRequest(body: Record<string, unknown>): { subject: string; subjectType: SubjectType; named: string | null } {
  const subject = str(body, 'subject_token');
  const subjectType = str(body, 'subject_token_type');
  if (subject === null || subjectType === null) {
    throw errors.badRequest('Missing parameters. "subject_token" and "subject_token_type" are required');
  }
  if (subjectType !== ACCESS_TOKEN_TYPE && subjectType !== REFRESH_TOKEN_TYPE) throw errors.unsupportedTokenType(subjectType);
  const requested = str(body, 'requested_token_type');
  if (requested !== null && requested !== ACCESS_TOKEN_TYPE) throw errors.badRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
  // Delegation (an actor acting for the subject) is the support link's business, not a tenant switch's.
  if (body['actor_token'] !== undefined) throw errors.badRequest('actor_token is not supported: a tenant switch exchanges the user\'s own token');
  if (body['resource'] !== undefined) throw errors.badRequest('resource is not supported: name the target tenant with "tenant" (or "audience")');
  const tenant = str(body, 'tenant');
  const audience = str(body, 'audience');
  if (tenant !== null && audience !== null && tenant !== audience) throw errors.badRequest('"tenant" and "audience" name different tenants: send one');
  return { subject, subjectType, named: tenant ?? audience };
}
