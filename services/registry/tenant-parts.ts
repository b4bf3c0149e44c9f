import type { Store } from '../../registry/control/store/types.js';
import type { AppKey, Application, ExtKey, Tenant } from '../../registry/view/types.js';
import type { Rebase } from './documents.js';
import { errors } from './errors.js';

/** Finding the parts of a tenant named in a URL (404 when missing), and where they sit for validation errors. */

export function appIndex(t: Tenant, appId: string): number {
  const i = t.applications.findIndex((a) => a.appId === appId);
  if (i === -1) throw errors.notFound(`Application "${appId}" of tenant "${t.id}"`);
  return i;
}

export function keyIndex(app: Application, iKey: string): number {
  const i = app.keys.findIndex((k) => k.key === iKey);
  if (i === -1) throw errors.notFound(`Key "${iKey}" of application "${app.appId}"`);
  return i;
}

/** The ext key with this hint; a hint shared by two keys (possible only for imported keys) is refused. */
export function extKeyIndex(key: AppKey, hint: string): number {
  const found = key.extKeys.flatMap((e, i) => (e.hint === hint ? [i] : []));
  if (found.length === 0) throw errors.notFound(`Ext key "…${hint}" of key "${key.key}"`);
  if (found.length > 1) throw errors.inUse(`Several ext keys of key "${key.key}" end in "${hint}"; rotate or revoke them through the store.`);
  return found[0]!;
}

/** The tenant with application `i` replaced by `app`. */
export function withApp(t: Tenant, i: number, app: Application): Tenant {
  return { ...t, applications: t.applications.map((a, n) => (n === i ? app : a)) };
}

/** The application with key `j` replaced by `key`. */
export function withKey(app: Application, j: number, key: AppKey): Application {
  return { ...app, keys: app.keys.map((k, n) => (n === j ? key : k)) };
}

export function withExtKeys(key: AppKey, extKeys: ExtKey[]): AppKey {
  return { ...key, extKeys };
}

export function appRebase(i: number): Rebase {
  return { label: 'application', prefix: `applications[${i}]` };
}

/** A package the application may name: its product must exist and hold it, else 400 naming the field. */
export async function checkPackage(store: Store, product: string, pkg: string): Promise<void> {
  const found = await store.get('product', product);
  if (found === null) throw errors.badRequest(`body field "product" names no product ("${product}")`);
  if (!found.doc.packages.some((p) => p.code === pkg)) {
    throw errors.badRequest(`body field "package" names no package of product "${product}" ("${pkg}")`);
  }
}
