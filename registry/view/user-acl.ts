import { compileAcl, type CompiledAcl } from './acl.js';
import type { Snapshot } from './snapshot.js';
import type { Acl, User, VersionAcl } from './types.js';

const VERSION_KEY = /^[0-9]+([.x][0-9]+)?$/;

/**
 * The groups a user has in a tenant: its own in its home tenant, the membership's in a tenant it
 * was invited to; null when it does not belong there (→ 146).
 */
export function groupsIn(user: User, tenantId: string): string[] | null {
  if (user.tenant.id === tenantId) return user.groups;
  const m = user.config?.allowedTenants?.find((a) => a.tenant.id === tenantId);
  return m ? m.groups : null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mergeDeep(a: unknown, b: unknown): unknown {
  if (Array.isArray(a) && Array.isArray(b)) {
    const seen = new Set(a.map((x) => JSON.stringify(x)));
    return [...a, ...b.filter((x) => !seen.has(JSON.stringify(x)))];
  }
  if (isObject(a) && isObject(b)) {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = k in out ? mergeDeep(out[k], v) : v;
    return out;
  }
  return b;
}

/**
 * SOAJS `mergeACLArray`: per service and version, a restricted version merges only with another
 * restricted one, a non-restricted version replaces a restricted one, non-restricted versions
 * deep-merge. A service in the legacy unversioned form is taken whole from the last ACL naming it.
 */
export function mergeAcls(acls: readonly Acl[]): Acl {
  const out: Record<string, Record<string, unknown>> = {};
  for (const acl of acls) {
    for (const [service, entry] of Object.entries(acl)) {
      const versioned = Object.keys(entry).every((k) => VERSION_KEY.test(k));
      const current = out[service];
      if (!versioned || current === undefined || !Object.keys(current).every((k) => VERSION_KEY.test(k))) {
        out[service] = structuredClone(entry) as Record<string, unknown>;
        continue;
      }
      for (const [v, va] of Object.entries(entry as Record<string, VersionAcl>)) {
        const prev = current[v] as VersionAcl | undefined;
        if (prev === undefined) {
          current[v] = structuredClone(va);
          continue;
        }
        const prevR = prev.apisPermission === 'restricted';
        const nextR = va.apisPermission === 'restricted';
        if (prevR && !nextR) current[v] = structuredClone(va);
        else if (!prevR && nextR) continue;
        else current[v] = mergeDeep(prev, va);
      }
    }
  }
  return out as Acl;
}

/**
 * The user-level ACL for a key: levels 1–3 of the precedence (gateway/acl-precedence.ts), first
 * existing level wins and replaces every lower one (never merged across levels):
 *  1. `user.config.keys[<internal key>].acl`
 *  2. `user.config.packages[<package>].acl`
 *  3. the packages the user's groups (in the key's tenant) allow for the application's product,
 *     merged as SOAJS merges them
 * Null when none exists: the key-level ACL (application override, else package) applies.
 */
export function userAclFor(
  user: User,
  groups: readonly string[],
  key: { readonly iKey: string; readonly packageCode: string; readonly product: string; readonly tenant: { readonly id: string } },
  snapshot: Snapshot,
): CompiledAcl | null {
  const byKey = user.config?.keys?.[key.iKey]?.acl;
  if (byKey) return compileAcl(byKey);
  const byPackage = user.config?.packages?.[key.packageCode]?.acl;
  if (byPackage) return compileAcl(byPackage);
  return groupAcl(groups, key, snapshot);
}

/** True when the user-level ACL is an override (levels 1 and 2): only those can reach past what the tenant holds. */
export function isOverride(user: User, key: { readonly iKey: string; readonly packageCode: string }): boolean {
  return Boolean(user.config?.keys?.[key.iKey]?.acl ?? user.config?.packages?.[key.packageCode]?.acl);
}

/** Level 3: the packages of the user's groups. They are part of what the tenant holds, by construction. */
function groupAcl(
  groups: readonly string[],
  key: { readonly product: string; readonly tenant: { readonly id: string } },
  snapshot: Snapshot,
): CompiledAcl | null {
  const tenantGroups = snapshot.groups.get(key.tenant.id);
  if (tenantGroups === undefined || groups.length === 0) return null;
  const codes = new Set<string>();
  for (const g of groups) for (const p of tenantGroups.get(g)?.config?.allowedPackages?.[key.product] ?? []) codes.add(p);
  if (codes.size === 0) return null;
  const acls: Acl[] = [];
  for (const code of codes) {
    const raw = snapshot.packages.get(code)?.rawAcl;
    if (raw) acls.push(raw as Acl);
  }
  // Groups that name only packages without an ACL for this env grant nothing: an empty ACL (154), not a fallback.
  return compileAcl(mergeAcls(acls)) ?? new Map();
}
