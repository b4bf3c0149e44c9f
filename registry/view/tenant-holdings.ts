import { compileAcl, effectiveFor, matchApi, versionAcl, type CompiledAcl, type CompiledVersionAcl } from './acl.js';
import type { TenantEntry } from './key-entries.js';
import type { Snapshot } from './snapshot.js';

/**
 * What the platform gave a tenant, in one env: the key-level ACL of each of its applications (the
 * application's own override, else its package's) and the packages its groups name (SOAJS's way
 * of giving some users a bigger package of the product, e.g. the console's DSBRD_OWNER). Groups
 * count because a tenant admin cannot write one that names anything else: URAC refuses it
 * (services/urac/holdings.ts), so a stored group is the platform's word or within it.
 *
 * User-level ACLs (`config.keys[…].acl`, `config.packages[…].acl`) are bounded by this at every
 * request: they may choose among these and set who of the tenant's users reaches them, never add
 * a service, version, method or API none of them opens.
 */
export interface TenantHoldings {
  readonly acls: readonly CompiledAcl[];
}

const memo = new WeakMap<TenantEntry, { serial: number; holdings: TenantHoldings }>();

/** Compiled once per (tenant document, snapshot build): package ACLs and groups are the build's. */
export function tenantHoldings(tenant: TenantEntry, snapshot: Snapshot): TenantHoldings {
  const hit = memo.get(tenant);
  if (hit !== undefined && hit.serial === snapshot.serial) return hit.holdings;
  const acls: CompiledAcl[] = [];
  const add = (acl: CompiledAcl | null | undefined) => {
    if (acl) acls.push(acl);
  };
  for (const app of tenant.doc.applications) {
    const own = app.acl?.[snapshot.env];
    add(own !== undefined ? compileAcl(own) : snapshot.packages.get(app.package)?.acl);
  }
  const named = new Set<string>();
  for (const g of snapshot.groups.get(tenant.id)?.values() ?? []) {
    for (const codes of Object.values(g.config?.allowedPackages ?? {})) for (const c of codes) named.add(c);
  }
  for (const code of named) add(snapshot.packages.get(code)?.acl);
  const holdings: TenantHoldings = Object.freeze({ acls: Object.freeze(acls) });
  memo.set(tenant, { serial: snapshot.serial, holdings });
  return holdings;
}

/** Why a (service, version, method, API) is outside what the tenant holds, or null when it holds it. */
export type NotHeld = 'service' | 'api';

/**
 * Access rules (who) are the user-level ACL's to set; what is reachable is bounded here: some
 * holding must open this service at this version, and where every such holding restricts the
 * method's APIs, one of them must list this API.
 */
export function notHeld(holdings: TenantHoldings, service: string, version: string | null, method: string, path: string): NotHeld | null {
  let reason: NotHeld = 'service';
  for (const acl of holdings.acls) {
    const entry = acl.get(service);
    if (entry === undefined) continue;
    const v = versionAcl(entry, version);
    if (v === null) continue;
    const effective = effectiveFor(v, method);
    if (!effective.restricted || matchApi(effective, path) !== null) return null;
    reason = 'api';
  }
  return reason;
}

function unrestricted(v: CompiledVersionAcl): boolean {
  if (v.base.restricted) return false;
  for (const m of Object.values(v.methods)) if (m.restricted) return false;
  return true;
}

/**
 * The versions of each service of `acl` that some holding opens whole (no method restricted):
 * there `notHeld` is null whatever the method and path, so a request needs no check. Computed
 * once per resolved user; versioned entries only.
 */
export function wholeVersions(holdings: TenantHoldings, acl: CompiledAcl): ReadonlyMap<string, ReadonlySet<string>> {
  const out = new Map<string, Set<string>>();
  for (const [service, entry] of acl) {
    if (entry.versions === null) continue;
    for (const version of entry.versions.keys()) {
      for (const h of holdings.acls) {
        const held = h.get(service);
        const v = held === undefined ? null : versionAcl(held, version);
        if (v === null || !unrestricted(v)) continue;
        let set = out.get(service);
        if (set === undefined) out.set(service, (set = new Set()));
        set.add(version);
        break;
      }
    }
  }
  return out;
}
