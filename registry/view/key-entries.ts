import type { BlockList } from 'node:net';
import { compileAcl, type CompiledAcl } from './acl.js';
import { compileCidrs } from './net.js';
import { compileRateRules, type RateRule } from './rate-rules.js';
import { deepFreeze, SnapshotBuildError } from './snapshot.js';
import type { Acl, ActivationState, DeviceRules, EnvAcl, Tenant } from './types.js';

export interface TenantEntry {
  readonly id: string;
  readonly code: string;
  readonly name: string;
  readonly type: 'product' | 'client';
  readonly locked: boolean;
  readonly main: { readonly id: string; readonly code: string } | null;
  readonly profile: Readonly<Record<string, unknown>> | null;
  readonly doc: Readonly<Tenant>;
  /** Services this tenant may not reach yet or any more (pending, failed, inactive activations); null: none. */
  readonly gated: ReadonlyMap<string, Exclude<ActivationState, 'active'>> | null;
}

function gatedOf(t: Readonly<Tenant>): TenantEntry['gated'] {
  let out: Map<string, Exclude<ActivationState, 'active'>> | null = null;
  for (const [service, a] of Object.entries(t.activations ?? {})) if (a.state !== 'active') (out ??= new Map()).set(service, a.state);
  return out;
}

/**
 * One ext key, resolved and compiled for this gateway's env. Depends on its tenant document only:
 * the package is looked up in the request's snapshot, so a package change needs no key eviction.
 */
export interface KeyEntry {
  readonly tenant: TenantEntry;
  readonly appId: string;
  readonly product: string;
  readonly packageCode: string;
  /** Application-level ACL override for this env, or null. */
  readonly appAcl: CompiledAcl | null;
  readonly appRawAcl: Readonly<Acl> | null;
  readonly appRawAclAllEnv: Readonly<EnvAcl> | null;
  readonly iKey: string;
  /** Lower case. */
  readonly env: string;
  /** ms epoch; Infinity for never. */
  readonly expires: number;
  readonly geoAllow: BlockList | null;
  readonly geoDeny: BlockList | null;
  readonly device: Readonly<DeviceRules> | null;
  /** Key config for this env: `{commonFields?, <service>: {...}}`. */
  readonly config: Readonly<Record<string, unknown>>;
  /** The key's own rate limits, else its application's; null: the package's apply. */
  readonly rateLimits: readonly RateRule[] | null;
}

function expiry(exp: number | string | null | undefined): number {
  if (exp === null || exp === undefined) return Number.POSITIVE_INFINITY;
  return typeof exp === 'number' ? exp : Date.parse(exp);
}

/** Every ext key of a tenant, by SHA-256, compiled for `env`. */
export function keyEntriesOf(t: Readonly<Tenant>, env: string): Map<string, KeyEntry> {
  const tenant: TenantEntry = Object.freeze({
    id: t.id,
    code: t.code,
    name: t.name,
    type: t.type,
    locked: t.locked ?? false,
    main: t.main ? Object.freeze({ id: t.main.id, code: t.main.code }) : null,
    profile: t.profile ? deepFreeze(structuredClone(t.profile)) : null,
    doc: t,
    gated: gatedOf(t),
  });
  const keys = new Map<string, KeyEntry>();
  for (const app of t.applications) {
    const appAcl = app.acl ? compileAcl(app.acl[env]) : null;
    const appRates = compileRateRules('application', `${t.id}/${app.appId}`, app.rateLimits);
    for (const k of app.keys) {
      const rateLimits = compileRateRules('key', k.key, k.rateLimits) ?? appRates;
      const config = deepFreeze(structuredClone(k.config?.[env] ?? {}));
      for (const e of k.extKeys) {
        let geoAllow: BlockList | null;
        let geoDeny: BlockList | null;
        try {
          geoAllow = compileCidrs(e.geo?.allow);
          geoDeny = compileCidrs(e.geo?.deny);
        } catch (err) {
          throw new SnapshotBuildError(`tenant "${t.code}" key …${e.hint ?? ''}: geo ${(err as Error).message}`);
        }
        keys.set(e.keyHash, {
          tenant,
          appId: app.appId,
          product: app.product,
          packageCode: app.package,
          appAcl,
          appRawAcl: app.acl?.[env] ?? null,
          appRawAclAllEnv: app.acl ?? null,
          iKey: k.key,
          env: e.env.toLowerCase(),
          expires: expiry(e.expDate),
          geoAllow,
          geoDeny,
          device: e.device ? deepFreeze(structuredClone(e.device)) : null,
          config,
          rateLimits,
        });
      }
    }
  }
  return keys;
}
