import type { Store } from '../../registry/control/store/types.js';
import type { Acl, Tenant } from '../../registry/view/types.js';
import { errors } from '../kit/errors.js';
import type { AdminUserConfig } from './schemas.js';

/**
 * The write-time half of the tenant boundary (the gateway bounds every request by what the
 * tenant holds: registry/view/tenant-holdings.ts). What a tenant holds is what the platform gave it:
 * its applications' packages (or application ACLs) and the packages its groups already name. A
 * tenant admin's write that names anything else is refused here with a clear answer — that is
 * what lets the gateway trust stored groups.
 */
interface Held {
  /** Package codes of the tenant's applications, by product. */
  readonly packages: ReadonlyMap<string, ReadonlySet<string>>;
  /** Services some application opens in some env (application override or package ACL). */
  readonly services: ReadonlySet<string>;
  readonly internalKeys: ReadonlySet<string>;
}

const notHeld = errors.notHeld;

async function heldBy(store: Store, tenantId: string): Promise<Held & { code: string }> {
  const tenant: Tenant | undefined = (await store.get('tenant', tenantId))?.doc;
  if (tenant === undefined) throw errors.tenantGone();
  const packages = new Map<string, Set<string>>();
  const services = new Set<string>();
  const internalKeys = new Set<string>();
  const addServices = (byEnv: Record<string, Acl> | undefined) => {
    for (const acl of Object.values(byEnv ?? {})) for (const s of Object.keys(acl)) services.add(s);
  };
  const addPackage = async (product: string, code: string, withAcl: boolean) => {
    let set = packages.get(product);
    if (set === undefined) packages.set(product, (set = new Set()));
    if (set.has(code)) return;
    set.add(code);
    if (withAcl) addServices((await store.get('product', product))?.doc.packages.find((p) => p.code === code)?.acl);
  };
  for (const app of tenant.applications) {
    for (const k of app.keys) internalKeys.add(k.key);
    await addPackage(app.product, app.package, app.acl === undefined);
    if (app.acl !== undefined) addServices(app.acl);
  }
  for (const { doc } of await store.list('group')) {
    if (doc.tenant.id !== tenantId) continue;
    for (const [product, codes] of Object.entries(doc.config?.allowedPackages ?? {})) for (const c of codes) await addPackage(product, c, true);
  }
  return { code: tenant.code, packages, services, internalKeys };
}

function checkAcl(held: Held & { code: string }, acl: Acl | undefined, where: string): void {
  for (const service of Object.keys(acl ?? {})) {
    if (!held.services.has(service)) throw notHeld(`${where}: tenant ${held.code} holds no service "${service}"; a user-level ACL can only narrow what the tenant's applications open`);
  }
}

/** A user's `config` as a tenant admin wrote it: keys of this tenant, packages it holds, services it holds. */
export async function checkUserConfig(store: Store, tenantId: string, config: AdminUserConfig | undefined): Promise<void> {
  if (config === undefined || (config.keys === undefined && config.packages === undefined)) return;
  const held = await heldBy(store, tenantId);
  for (const [iKey, entry] of Object.entries(config.keys ?? {})) {
    if (!held.internalKeys.has(iKey)) throw notHeld(`config.keys.${iKey}: not a key of tenant ${held.code}`);
    checkAcl(held, entry.acl, `config.keys.${iKey}.acl`);
  }
  const allCodes = new Set([...held.packages.values()].flatMap((s) => [...s]));
  for (const [code, entry] of Object.entries(config.packages ?? {})) {
    if (!allCodes.has(code)) throw notHeld(`config.packages.${code}: tenant ${held.code} holds no package "${code}"`);
    checkAcl(held, entry.acl, `config.packages.${code}.acl`);
  }
}

/** A group's `allowedPackages` may name only packages the tenant holds, under their own product. */
export async function checkAllowedPackages(store: Store, tenantId: string, allowed: Record<string, string[]> | undefined): Promise<void> {
  if (allowed === undefined || Object.keys(allowed).length === 0) return;
  const held = await heldBy(store, tenantId);
  for (const [product, codes] of Object.entries(allowed)) {
    for (const code of codes) {
      if (!(held.packages.get(product)?.has(code) ?? false)) {
        throw notHeld(`config.allowedPackages.${product}: tenant ${held.code} holds no package "${code}" of product ${product}`);
      }
    }
  }
}
