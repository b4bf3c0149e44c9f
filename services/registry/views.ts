import type { AppKey, Application, ExtKey, Tenant } from '../../registry/view/types.js';

/**
 * How tenants look on the wire. Ext keys are shown by their hint (their hash stays in the store:
 * not a secret, but nothing a client needs); the oauth secret is masked.
 */

export const MASK = '***';

export interface ExtKeyView {
  /** The hint: how the ext key is addressed in URLs (`…/extKeys/:hint`). */
  id: string | null;
  hint: string | null;
  env: string;
  expDate: number | string | null;
  geo: ExtKey['geo'];
  device: ExtKey['device'];
  label: string | null;
}

export interface KeyView {
  key: string;
  config: NonNullable<AppKey['config']>;
  extKeys: ExtKeyView[];
}

export type ApplicationView = Omit<Application, 'keys'> & { keys: KeyView[] };
export type TenantView = Omit<Tenant, 'applications'> & { applications: ApplicationView[] };

export function extKeyView(e: ExtKey): ExtKeyView {
  return {
    id: e.hint ?? null,
    hint: e.hint ?? null,
    env: e.env,
    expDate: e.expDate ?? null,
    geo: e.geo ?? null,
    device: e.device ?? null,
    label: e.label ?? null,
  };
}

export function keyView(k: AppKey): KeyView {
  return { key: k.key, config: k.config ?? {}, extKeys: k.extKeys.map(extKeyView) };
}

export function applicationView(a: Application): ApplicationView {
  return { ...a, keys: a.keys.map(keyView) };
}

/** The oauth settings with the secret masked (present) or left out (absent). */
export function oauthView(oauth: Tenant['oauth']): Tenant['oauth'] {
  if (oauth === undefined) return undefined;
  const { secret, ...rest } = oauth;
  return secret === undefined ? rest : { ...rest, secret: MASK };
}

export function tenantView(t: Tenant): TenantView {
  const { oauth, applications, ...rest } = t;
  const masked = oauthView(oauth);
  return { ...rest, ...(masked !== undefined ? { oauth: masked } : {}), applications: applications.map(applicationView) };
}
