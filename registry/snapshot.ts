import { createPublicKey, type KeyObject } from 'node:crypto';
import type { BlockList } from 'node:net';
import { compileAcl, type CompiledAcl } from './acl.js';
import { compileCidrs } from './net.js';
import type { RegistryData } from './store/types.js';
import type { Acl, DeviceRules, EnvAcl, Group, ServiceVersion, Tenant } from './types.js';
import { latestVersion, normalizeVersion } from './version.js';

/**
 * An immutable, indexed, compiled view of one registry version. Built off the request path by
 * `sync.ts`, swapped atomically; a request pins one with `holder.current()` and never sees two.
 */
export interface Snapshot {
  readonly version: number;
  readonly env: string;
  readonly builtAt: number;
  readonly services: ReadonlyMap<string, ServiceEntry>;
  readonly packages: ReadonlyMap<string, PackageEntry>;
  readonly tenants: ReadonlyMap<string, TenantEntry>;
  /** SHA-256 of ext key -> resolved key. */
  readonly keys: ReadonlyMap<string, KeyEntry>;
  /** Tenant id -> group code -> group. */
  readonly groups: ReadonlyMap<string, ReadonlyMap<string, Readonly<Group>>>;
  /** Access-token verification keys by `kid` (public halves only). */
  readonly signingKeys: ReadonlyMap<string, KeyObject>;
  /** Revoked access-token ids (`jti`) still within their lifetime. */
  readonly revokedTokens: ReadonlySet<string>;
  /** User id -> tokens issued before this time (ms) are revoked. */
  readonly revokedBefore: ReadonlyMap<string, number>;
}

export interface Upstream {
  /** `http://host:port` */
  readonly origin: string;
  readonly host: string;
  readonly port: number;
  readonly heartbeatUrl: string;
}

export interface ServiceEntry {
  readonly name: string;
  readonly group: string;
  readonly port: number;
  readonly maintenancePort: number;
  /** Milliseconds. */
  readonly requestTimeout: number | null;
  readonly versions: ReadonlyMap<string, Readonly<ServiceVersion>>;
  readonly latest: string;
  readonly hosts: ReadonlyMap<string, readonly Upstream[]>;
}

export interface PackageEntry {
  readonly code: string;
  readonly product: string;
  /** ACL of this gateway's env; null when the package has none for it (denies every service). */
  readonly acl: CompiledAcl | null;
  /** The same, as written (injected when a service sets `provision_ACL`). */
  readonly rawAcl: Readonly<Acl> | null;
  readonly rawAclAllEnv: Readonly<EnvAcl>;
}

export interface TenantEntry {
  readonly id: string;
  readonly code: string;
  readonly name: string;
  readonly type: 'product' | 'client';
  readonly locked: boolean;
  readonly main: { readonly id: string; readonly code: string } | null;
  readonly profile: Readonly<Record<string, unknown>> | null;
  readonly doc: Readonly<Tenant>;
}

export interface KeyEntry {
  readonly tenant: TenantEntry;
  readonly appId: string;
  readonly product: string;
  readonly packageCode: string;
  /** Null when the application names a package that does not exist (152). */
  readonly pkg: PackageEntry | null;
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
  /** Per-snapshot memo of serialised inject fragments; valid as long as this snapshot. */
  readonly memo: Map<string, string>;
}

export class SnapshotBuildError extends Error {
  override name = 'SnapshotBuildError';
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value) && !(value instanceof Map)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function expiry(exp: number | string | null | undefined): number {
  if (exp === null || exp === undefined) return Number.POSITIVE_INFINITY;
  return typeof exp === 'number' ? exp : Date.parse(exp);
}

function parseHost(entry: string, defaultPort: number): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry);
  if (!m) throw new SnapshotBuildError(`host "${entry}" is not host[:port]`);
  return { host: m[1]!, port: m[2] ? Number(m[2]) : defaultPort };
}

function upstream(host: string, port: number, maintenancePort: number): Upstream {
  return Object.freeze({
    origin: `http://${host}:${port}`,
    host,
    port,
    heartbeatUrl: `http://${host}:${maintenancePort}/heartbeat`,
  });
}

/** Compiles registry data into a snapshot for `env`. Throws SnapshotBuildError; the caller keeps the last good one. */
export function buildSnapshot(data: RegistryData, env: string): Snapshot {
  const services = new Map<string, ServiceEntry>();
  for (const s of data.services) {
    const versions = new Map<string, ServiceVersion>();
    for (const [v, flags] of Object.entries(s.versions)) {
      const nv = normalizeVersion(v);
      if (nv === null) throw new SnapshotBuildError(`service "${s.name}" has an invalid version "${v}"`);
      versions.set(nv, Object.freeze({ ...flags }));
    }
    const maintenancePort = s.maintenancePort ?? s.port + 1000;
    const hosts = new Map<string, Upstream[]>();
    for (const [v, list] of Object.entries(s.hosts ?? {})) {
      const nv = normalizeVersion(v) ?? v;
      const out = hosts.get(nv) ?? [];
      for (const h of list) {
        const { host, port } = parseHost(h, s.port);
        out.push(upstream(host, port, port === s.port ? maintenancePort : port + 1000));
      }
      hosts.set(nv, out);
    }
    for (const reg of data.hosts) {
      if (reg.service !== s.name) continue;
      const nv = normalizeVersion(reg.version) ?? reg.version;
      const out = hosts.get(nv) ?? [];
      if (!out.some((u) => u.host === reg.host && u.port === reg.port)) {
        out.push(upstream(reg.host, reg.port, reg.maintenancePort ?? reg.port + 1000));
      }
      hosts.set(nv, out);
    }
    services.set(
      s.name,
      Object.freeze({
        name: s.name,
        group: s.group ?? '',
        port: s.port,
        maintenancePort,
        requestTimeout: s.requestTimeout === undefined ? null : s.requestTimeout * 1000,
        versions,
        latest: latestVersion(versions.keys())!,
        hosts,
      }),
    );
  }

  const packages = new Map<string, PackageEntry>();
  for (const p of data.products) {
    for (const pkg of p.packages) {
      packages.set(
        pkg.code,
        Object.freeze({
          code: pkg.code,
          product: p.code,
          acl: compileAcl(pkg.acl[env]),
          rawAcl: pkg.acl[env] ?? null,
          rawAclAllEnv: pkg.acl,
        }),
      );
    }
  }

  const tenants = new Map<string, TenantEntry>();
  const keys = new Map<string, KeyEntry>();
  for (const t of data.tenants) {
    const tenant: TenantEntry = Object.freeze({
      id: t.id,
      code: t.code,
      name: t.name,
      type: t.type,
      locked: t.locked ?? false,
      main: t.main ? Object.freeze({ id: t.main.id, code: t.main.code }) : null,
      profile: t.profile ? deepFreeze(structuredClone(t.profile)) : null,
      doc: t,
    });
    tenants.set(t.id, tenant);
    for (const app of t.applications) {
      const appAcl = app.acl ? compileAcl(app.acl[env]) : null;
      const pkg = packages.get(app.package) ?? null;
      for (const k of app.keys) {
        const config = deepFreeze(structuredClone(k.config?.[env] ?? {}));
        for (const e of k.extKeys) {
          let geoAllow: BlockList | null;
          let geoDeny: BlockList | null;
          try {
            geoAllow = compileCidrs(e.geo?.allow);
            geoDeny = compileCidrs(e.geo?.deny);
          } catch (err) {
            throw new SnapshotBuildError(`tenant "${t.code}" key ${e.hint ?? ''}: geo ${(err as Error).message}`);
          }
          if (keys.has(e.keyHash)) {
            throw new SnapshotBuildError(`tenant "${t.code}": ext key …${e.hint ?? ''} is also held by tenant "${keys.get(e.keyHash)!.tenant.code}"`);
          }
          keys.set(e.keyHash, {
            tenant,
            appId: app.appId,
            product: app.product,
            packageCode: app.package,
            pkg,
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
            memo: new Map(),
          });
        }
      }
    }
  }

  const groups = new Map<string, Map<string, Group>>();
  for (const g of data.groups) {
    let byCode = groups.get(g.tenant.id);
    if (byCode === undefined) groups.set(g.tenant.id, (byCode = new Map()));
    byCode.set(g.code, deepFreeze(structuredClone(g)));
  }

  const signingKeys = new Map<string, KeyObject>();
  for (const k of data.signingKeys) {
    try {
      signingKeys.set(k.kid, createPublicKey({ key: k.publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' }));
    } catch (err) {
      throw new SnapshotBuildError(`signing key "${k.kid}": ${(err as Error).message}`);
    }
  }

  const now = Date.now();
  const revokedTokens = new Set<string>();
  const revokedBefore = new Map<string, number>();
  for (const r of data.revocations) {
    if (r.expiresAt <= now) continue;
    if (r.id.startsWith('jti:')) revokedTokens.add(r.id.slice(4));
    else if (r.before !== undefined) revokedBefore.set(r.id.slice(5), r.before);
  }

  return Object.freeze({
    version: data.version,
    env,
    builtAt: now,
    services,
    packages,
    tenants,
    keys,
    groups,
    signingKeys,
    revokedTokens,
    revokedBefore,
  });
}
