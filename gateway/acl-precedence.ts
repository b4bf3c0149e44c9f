import type { CompiledAcl, CompiledServiceAcl } from '../registry/view/acl.js';
import type { AclLevel } from './decision.js';

/**
 * THE ACL precedence (SOAJS §2.4), in one place. For a request, the first level that exists wins
 * and replaces every level below it — levels are never merged:
 *
 *   1. the user's ACL for the key in use       `user.config.keys[<internal key>].acl`
 *   2. the user's ACL for the key's package    `user.config.packages[<package>].acl`
 *   3. the packages the user's groups allow    `group.config.allowedPackages[<product>]`, merged
 *   4. the application's ACL override          `application.acl[<env>]`, for the services it names
 *   5. the package's ACL                       `package.acl[<env>]`
 *
 * Levels 1–3 make the user-level ACL (registry/view/user-acl.ts, compiled once per resolved user): when
 * one exists it replaces the key level for every service, and a service it does not name is 154
 * even when the package grants it. Levels 4–5 are per service. The user level is known only once
 * the token is verified, so the key level is chosen first (route stage: it decides whether the
 * API is public, i.e. whether a token is needed — SOAJS's oauthCheck) and the user level replaces
 * it afterwards (user stage); both go through `choose`.
 */
export function choose(
  into: { serviceAcl: CompiledServiceAcl | null; aclLevel: AclLevel | null },
  service: string,
  user: CompiledAcl | null,
  application: CompiledAcl | null,
  pkg: CompiledAcl | null,
): void {
  if (user !== null) {
    into.serviceAcl = user.get(service) ?? null;
    into.aclLevel = 'user';
    return;
  }
  const app = application?.get(service);
  if (app !== undefined) {
    into.serviceAcl = app;
    into.aclLevel = 'application';
    return;
  }
  const p = pkg?.get(service);
  into.serviceAcl = p ?? null;
  into.aclLevel = p !== undefined ? 'package' : null;
}

/**
 * The version a request runs against, chosen in one place: the requested one, else the latest
 * the chosen ACL lists, else `fallback` (the service's latest before an ACL is chosen). Null when
 * a version was requested that a versioned ACL does not list: SOAJS's keyACL answers that with
 * 154, whether or not the service has the version.
 */
export function chooseVersion(acl: CompiledServiceAcl | null, requested: string | null, fallback: string): string | null {
  if (requested !== null) return acl !== null && acl.versions !== null && !acl.versions.has(requested) ? null : requested;
  return acl?.latest ?? fallback;
}
