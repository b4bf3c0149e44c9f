import { compileRateRules, type RateRule } from './rate-rules.js';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { compileAcl, type CompiledAcl } from './acl.js';
import type { RegistryData } from './registry-data.js';
import type { Acl, EnvAcl, Group, ServiceVersion } from './types.js';
import { latestVersion, normalizeVersion } from './version.js';

/**
 * An immutable, indexed, compiled view of one registry version. Built off the request path by
 * `sync.ts`, swapped atomically; a request pins one with `holder.current()` and never sees two.
 */
export interface Snapshot {
  readonly version: number;
  /** Unique to this build in this process (two builds may share a version): what per-snapshot memos compare, so they hold no snapshot alive. */
  readonly serial: number;
  readonly env: string;
  readonly builtAt: number;
  readonly services: ReadonlyMap<string, ServiceEntry>;
  readonly packages: ReadonlyMap<string, PackageEntry>;
  /** Tenant id -> group code -> group. */
  readonly groups: ReadonlyMap<string, ReadonlyMap<string, Readonly<Group>>>;
  /** Access-token verification keys by `kid` (public halves only). */
  readonly signingKeys: ReadonlyMap<string, KeyObject>;
  /** Revoked access-token ids (`jti`) still within their lifetime. */
  readonly revokedTokens: ReadonlySet<string>;
  /** User id -> tokens issued before this time (ms) are revoked. */
  readonly revokedBefore: ReadonlyMap<string, number>;
  /** When the first host registration in this snapshot expires (ms), or Infinity: rebuild then. */
  readonly nextExpiry: number;
}

let builds = 0;

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
  /** Bytes; null: the gateway's default; 0: no limit. */
  readonly maxBodyBytes: number | null;
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
  /** The tier's rate limits (an application's or key's own replace them); null: none. */
  readonly rateLimits: readonly RateRule[] | null;
}

export class SnapshotBuildError extends Error {
  override name = 'SnapshotBuildError';
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value) && !(value instanceof Map)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
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
export function buildSnapshot(data: RegistryData, env: string, now: number = Date.now()): Snapshot {
  const builtAt = now;
  let nextExpiry = Number.POSITIVE_INFINITY;
  for (const h of data.hosts) if (h.expiresAt !== undefined && h.expiresAt > builtAt && h.expiresAt < nextExpiry) nextExpiry = h.expiresAt;
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
      if (reg.service !== s.name || (reg.expiresAt !== undefined && reg.expiresAt <= builtAt)) continue;
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
        maxBodyBytes: s.maxBodyBytes === undefined ? null : s.maxBodyBytes,
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
          rateLimits: compileRateRules('package', pkg.code, pkg.rateLimits),
        }),
      );
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
    serial: ++builds,
    builtAt: now,
    services,
    packages,
    groups,
    signingKeys,
    revokedTokens,
    revokedBefore,
    nextExpiry,
  });
}
