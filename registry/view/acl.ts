import { ACL_METHODS, type Access, type AclMethod, type MethodAcl, type ServiceAcl, type VersionAcl } from './types.js';
import { latestVersion, normalizeVersion } from './version.js';

/**
 * The SOAJS ACL grammar compiled once per snapshot (soajs-reference §1.5):
 *
 *   CompiledServiceAcl ── versions: Map<"1" | "1.1", CompiledVersionAcl>   (or legacy: one for all)
 *   CompiledVersionAcl ── access, base (method-less apis), methods.get|post|…
 *   CompiledMethodAcl  ── apis: Map<exact path, access>, regex: [{re, access}] (last match wins)
 *
 * Paths with `/:param` become regular expressions at compile time, never per request.
 */
export interface CompiledApi {
  readonly access: Access;
}

export interface CompiledMethodAcl {
  readonly apis: ReadonlyMap<string, CompiledApi>;
  readonly regex: readonly { readonly re: RegExp; readonly api: CompiledApi }[];
  readonly restricted: boolean | undefined;
}

/** What apiCheck evaluates for one (service, version, method). */
export interface EffectiveAcl {
  readonly access: Access;
  readonly restricted: boolean;
  readonly apis: ReadonlyMap<string, CompiledApi>;
  readonly regex: readonly { readonly re: RegExp; readonly api: CompiledApi }[];
}

export interface CompiledVersionAcl {
  readonly base: EffectiveAcl;
  readonly methods: Readonly<Partial<Record<AclMethod, EffectiveAcl>>>;
}

export interface CompiledServiceAcl {
  /** Null for the legacy unversioned form. */
  readonly versions: ReadonlyMap<string, CompiledVersionAcl> | null;
  readonly legacy: CompiledVersionAcl | null;
  readonly latest: string | null;
}

export type CompiledAcl = ReadonlyMap<string, CompiledServiceAcl>;

const VERSION_KEY = /^[0-9]+([.x][0-9]+)?$/;

function normalizeAccess(a: Access | undefined): Access {
  if (Array.isArray(a)) return Object.freeze([...a]) as unknown as string[];
  return a === true;
}

/**
 * path-to-regexp semantics (optional trailing slash, `:name` = one segment) but case-insensitive:
 * Express, which most SOAJS services run on, routes `/ADMIN/users` to `/admin/users`, so an ACL
 * that told them apart would let the first through as an unlisted API (SOAJS matched case-sensitively).
 */
export function pathToRegExp(path: string): RegExp {
  let src = '';
  for (const segment of path.split('/').slice(1)) {
    const param = /^:([A-Za-z0-9_]+)(\?)?$/.exec(segment);
    if (param) src += param[2] ? '(?:/([^/]+?))?' : '/([^/]+?)';
    else src += `/${segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
  }
  return new RegExp(`^${src}/?$`, 'i');
}

function compileMethod(m: MethodAcl, access: Access, inheritedRestricted: boolean): EffectiveAcl {
  const apis = new Map<string, CompiledApi>();
  const regex: { re: RegExp; api: CompiledApi }[] = [];
  for (const [path, api] of Object.entries(m.apis ?? {})) {
    const compiled = Object.freeze({ access: normalizeAccess(api.access) });
    if (path.includes('/:')) regex.push({ re: pathToRegExp(path), api: compiled });
    else apis.set(path.toLowerCase(), compiled);
  }
  for (const r of m.apisRegExp ?? []) {
    let re: RegExp;
    try {
      re = new RegExp(r.regExp, 'i');
    } catch {
      throw new Error(`has an invalid regular expression ${JSON.stringify(r.regExp)}`);
    }
    regex.push({ re, api: Object.freeze({ access: normalizeAccess(r.access) }) });
  }
  return Object.freeze({
    access,
    restricted: m.apisPermission === 'restricted' || (m.apisPermission === undefined && inheritedRestricted),
    apis,
    regex: Object.freeze(regex),
  });
}

function compileVersion(v: VersionAcl): CompiledVersionAcl {
  const access = normalizeAccess(v.access);
  const restricted = v.apisPermission === 'restricted';
  const methods: Partial<Record<AclMethod, EffectiveAcl>> = {};
  for (const m of ACL_METHODS) {
    const section = v[m];
    if (section && typeof section === 'object') methods[m] = compileMethod(section, access, restricted);
  }
  return Object.freeze({ base: compileMethod(v, access, false), methods: Object.freeze(methods) });
}

/** Compiles one `acl.<service>` entry; throws (with a reason) when versioned and legacy keys are mixed. */
export function compileServiceAcl(entry: ServiceAcl): CompiledServiceAcl {
  const keys = Object.keys(entry);
  const versionKeys = keys.filter((k) => VERSION_KEY.test(k));
  if (versionKeys.length > 0 && versionKeys.length !== keys.length) {
    throw new Error('mixes versioned entries with unversioned fields');
  }
  if (versionKeys.length === 0) {
    return Object.freeze({ versions: null, legacy: compileVersion(entry as VersionAcl), latest: null });
  }
  const versions = new Map<string, CompiledVersionAcl>();
  for (const k of versionKeys) {
    const v = normalizeVersion(k);
    if (v === null) throw new Error(`has an invalid version "${k}"`);
    if (versions.has(v)) throw new Error(`lists version ${v} twice ("${k}")`);
    versions.set(v, compileVersion((entry as Record<string, VersionAcl>)[k]!));
  }
  return Object.freeze({ versions, legacy: null, latest: latestVersion(versions.keys()) });
}

export function compileAcl(acl: Record<string, ServiceAcl> | undefined): CompiledAcl | null {
  if (!acl) return null;
  const out = new Map<string, CompiledServiceAcl>();
  for (const [service, entry] of Object.entries(acl)) out.set(service, compileServiceAcl(entry));
  return out;
}

/** The VersionAcl for a version: requested one, or the latest the ACL lists. Null → 154. */
export function versionAcl(s: CompiledServiceAcl, version: string | null): CompiledVersionAcl | null {
  if (s.legacy) return s.legacy;
  const v = version ?? s.latest;
  return v === null ? null : (s.versions?.get(v) ?? null);
}

/**
 * The ACL section a request method reads: its own, `other` for a method outside the list. The
 * common ones map to constant strings: no lower-cased copy to look up on every request.
 */
function aclMethod(method: string): AclMethod {
  switch (method) {
    case 'GET':
      return 'get';
    case 'POST':
      return 'post';
    case 'PUT':
      return 'put';
    case 'DELETE':
      return 'delete';
    case 'PATCH':
      return 'patch';
    case 'HEAD':
      return 'head';
    case 'OPTIONS':
      return 'options';
    default: {
      const m = method.toLowerCase();
      return (ACL_METHODS as readonly string[]).includes(m) ? (m as AclMethod) : 'other';
    }
  }
}

/** SOAJS keyACL: a listed method section replaces the version's apis; an unlisted method uses the version. */
export function effectiveFor(v: CompiledVersionAcl, method: string): EffectiveAcl {
  return v.methods[aclMethod(method)] ?? v.base;
}

/** Exact path first (case-insensitive, see pathToRegExp), else the last matching regular expression (SOAJS). */
export function matchApi(acl: EffectiveAcl, path: string): CompiledApi | null {
  const exact = acl.apis.get(path.toLowerCase());
  if (exact) return exact;
  let found: CompiledApi | null = null;
  for (const r of acl.regex) if (r.re.test(path)) found = r.api;
  return found;
}
