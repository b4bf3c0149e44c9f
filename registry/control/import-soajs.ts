import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hashExtKey, isWellFormedExtKey, keyHint } from '../view/keys.js';
import { validateDocument, ValidationError } from './schema.js';
import {
  ACL_METHODS,
  type Acl,
  type AclMethod,
  type DocByKind,
  type DocKind,
  type EnvAcl,
  type MethodAcl,
  type ServiceAcl,
  type ServiceVersion,
  type VersionAcl,
} from '../view/types.js';
import { normalizeVersion } from '../view/version.js';

/**
 * Reads a SOAJS export (one folder per collection, as the SOAJS test importers lay them out:
 * `environment/`, `marketplace/`, `hosts/`, `products/`, `tenants/`, `urac/users/`, `urac/groups/`,
 * `oauth/token/`; every `*.json` holds one record or an array of them) and converts it into Tessera
 * documents (soajs-reference §1, §4). Reads files, writes nothing: the caller decides what to store.
 *
 * Every produced document has passed `validateDocument`. A source record that cannot be converted
 * becomes a warning naming its file and field, never an exception; only a missing directory or a
 * missing environment record for `env` throw (nothing sensible can be imported without them).
 */

export type ImportedDoc = { [K in DocKind]: { kind: K; doc: DocByKind[K]; origin: string } }[DocKind];

export type ImportedKind = 'product' | 'service' | 'tenant' | 'group' | 'user' | 'legacyToken';

export interface ImportReport {
  /** Documents produced, by kind. */
  counts: Record<ImportedKind, number>;
  /** Source records (or parts of them) not converted. */
  skipped: number;
  /** `<file>: <what> — <consequence>`, one per problem. */
  warnings: string[];
}

export interface ImportResult {
  docs: ImportedDoc[];
  report: ImportReport;
}

export interface ImportOptions {
  /** The environment imported (SOAJS `SOAJS_ENV`), any case. */
  env: string;
  /** Clock for dropping expired tokens (ms epoch); default now. */
  now?: number;
}

export class SoajsImportError extends Error {
  override name = 'SoajsImportError';
}

/** Environments whose gateway keeps the catalog port even when a hosts record gives another (SOAJS_SENSITIVE_ENVS). */
const SENSITIVE_ENVS = new Set(['dashboard']);
const VERSION_ACL_FIELDS = new Set(['access', 'apis', 'apisRegExp', 'apisPermission', ...ACL_METHODS]);
const VERSION_KEY = /^[0-9]+([.x][0-9]+)?$/;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A Mongo id as exported: plain string, `{"$oid": "…"}` (mongoexport) or anything with a string form. */
function oid(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObj(v) && typeof v['$oid'] === 'string') return v['$oid'];
  return undefined;
}

/** A date as exported: ms number, ISO string, `{"$date": …}`. NaN when unreadable. */
function dateMs(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Date.parse(v);
  if (isObj(v)) {
    const d = v['$date'];
    if (isObj(d) && typeof d['$numberLong'] === 'string') return Number(d['$numberLong']);
    return dateMs(d);
  }
  return Number.NaN;
}

interface SourceRecord {
  /** `tenants/dbtn.json` or `tenants/all.json[2]`. */
  origin: string;
  value: unknown;
}

class Reader {
  readonly warnings: string[] = [];
  skipped = 0;
  constructor(readonly dir: string) {}

  warn(origin: string, message: string, skip = true): void {
    this.warnings.push(`${origin}: ${message}`);
    if (skip) this.skipped++;
  }

  /** Every record of `*.json` files directly in `sub` (name order); [] when the folder is absent. */
  records(...subs: string[]): SourceRecord[] {
    for (const sub of subs) {
      const path = join(this.dir, sub);
      let files: string[];
      try {
        if (!statSync(path).isDirectory()) continue;
        files = readdirSync(path).filter((f) => f.endsWith('.json')).sort();
      } catch {
        continue;
      }
      const out: SourceRecord[] = [];
      for (const f of files) {
        const rel = `${sub}/${f}`;
        let parsed: unknown;
        try {
          parsed = JSON.parse(readFileSync(join(path, f), 'utf8'));
        } catch (err) {
          this.warn(rel, `not valid JSON (${(err as Error).message}) — skipped`);
          continue;
        }
        if (Array.isArray(parsed)) parsed.forEach((value, i) => out.push({ origin: `${rel}[${i}]`, value }));
        else out.push({ origin: rel, value: parsed });
      }
      return out;
    }
    return [];
  }

  /** validateDocument, or a warning naming the file and the field. */
  validate<K extends DocKind>(kind: K, doc: unknown, origin: string): DocByKind[K] | null {
    try {
      return validateDocument(kind, doc);
    } catch (err) {
      const msg = err instanceof ValidationError ? err.message : `${kind}: ${(err as Error).message}`;
      this.warn(origin, `${msg} — skipped`);
      return null;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ACLs

/** A scope/ACL api entry reduced to what the grammar knows (SOAJS stores labels etc. beside it). */
function cleanApis(apis: unknown): MethodAcl['apis'] {
  if (!isObj(apis)) return apis as MethodAcl['apis'];
  const out: NonNullable<MethodAcl['apis']> = {};
  for (const [path, api] of Object.entries(apis)) {
    if (!isObj(api)) {
      out[path] = api as never;
      continue;
    }
    out[path] = {
      ...(api['access'] !== undefined ? { access: api['access'] as boolean } : {}),
      ...(typeof api['group'] === 'string' ? { group: api['group'] } : {}),
    };
  }
  return out;
}

function cleanRegExps(list: unknown): MethodAcl['apisRegExp'] {
  if (!Array.isArray(list)) return list as MethodAcl['apisRegExp'];
  return list.map((r: unknown) =>
    isObj(r) ? { regExp: r['regExp'] as string, ...(r['access'] !== undefined ? { access: r['access'] as boolean } : {}) } : (r as never),
  );
}

/** The scope's value for a version is `{access?, apisPermission?, packagesPermission?, <method>: [groups]}`. */
function scopeGroups(scope: Obj, method: string): Obj[] {
  const list = scope[method];
  return Array.isArray(list) ? list.filter(isObj) : [];
}

/** Merges one scope group's apis / apisRegExp into a method section (SOAJS: later keys overwrite). */
function mergeGroup(target: MethodAcl, group: Obj): void {
  if ('apis' in group) {
    const apis = cleanApis(group['apis']);
    target.apis = target.apis && isObj(apis) ? { ...target.apis, ...apis } : apis;
  }
  if ('apisRegExp' in group) {
    const rx = cleanRegExps(group['apisRegExp']);
    // SOAJS copies array entries by index over the previous group's ones.
    if (Array.isArray(target.apisRegExp) && Array.isArray(rx)) {
      const merged = [...target.apisRegExp];
      rx.forEach((r, i) => (merged[i] = r));
      target.apisRegExp = merged;
    } else target.apisRegExp = rx;
  }
}

/**
 * SOAJS `getACL` (CORE-MOD `provision/lib.js`, soajs-reference §1.4): a package's
 * `{version, get: ["Group"], …}` against the product scope's version entry.
 */
function compileFromScope(scope: Obj, pack: Obj, note: (msg: string) => void): VersionAcl {
  const acl: VersionAcl = {};
  if ('access' in scope) acl.access = scope['access'] as VersionAcl['access'];
  if (scope['apisPermission'] === 'restricted') acl.apisPermission = 'restricted';
  let listed = 0;
  for (const [method, groups] of Object.entries(pack)) {
    if (method === 'version') continue;
    if (!Array.isArray(scope[method])) {
      note(`method "${method}" is not in the product scope (ignored, as SOAJS does)`);
      continue;
    }
    if (!(ACL_METHODS as readonly string[]).includes(method)) {
      note(`method "${method}" is not an HTTP method the ACL grammar knows (ignored)`);
      continue;
    }
    listed++;
    const section: MethodAcl = {};
    for (const name of Array.isArray(groups) ? groups : []) {
      // SOAJS takes the first scope group of that name only.
      const same = scopeGroups(scope, method).filter((sg) => sg['group'] === name);
      if (same.length === 0) note(`${method} group "${String(name)}" is not in the product scope (ignored, as SOAJS does)`);
      else mergeGroup(section, same[0]!);
      if (same.length > 1) note(`${method} group "${String(name)}" appears ${same.length} times in the product scope; only the first is used (as SOAJS does)`);
    }
    acl[method as AclMethod] = section;
  }
  if (listed === 0) {
    // No method listed: every method and group of the scope.
    for (const method of ACL_METHODS) {
      if (!Array.isArray(scope[method])) continue;
      const section: MethodAcl = {};
      for (const g of scopeGroups(scope, method)) mergeGroup(section, g);
      acl[method] = section;
    }
  } else if (acl.apisPermission === undefined && scope['packagesPermission'] !== undefined && scope['packagesPermission'] !== false && scope['packagesPermission'] !== null && scope['packagesPermission'] !== '') {
    acl.apisPermission = 'restricted';
  }
  return acl;
}

/** The scope entry of a version: `"1.1"` may be stored as `"1x1"`. */
function scopeVersion(scopeService: Obj, version: string): Obj | undefined {
  const direct = scopeService[version];
  if (isObj(direct)) return direct;
  const nv = normalizeVersion(version);
  if (nv === null) return undefined;
  for (const [k, v] of Object.entries(scopeService)) if (VERSION_KEY.test(k) && normalizeVersion(k) === nv && isObj(v)) return v;
  return undefined;
}

/** Lower-cases the env keys of a map; a second key differing only in case is reported and dropped. */
function lowerEnvKeys<T>(map: Obj, note: (msg: string) => void): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [env, v] of Object.entries(map)) {
    const e = env.toLowerCase();
    if (e in out) {
      note(`env "${env}" appears twice (case differs); the first is kept`);
      continue;
    }
    out[e] = v as T;
  }
  return out;
}

/** Whether an object is a service ACL entry (versioned or legacy) rather than a map of services. */
function looksLikeServiceAcl(v: unknown): boolean {
  if (!isObj(v)) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys.every((k) => VERSION_ACL_FIELDS.has(k) || VERSION_KEY.test(k));
}

/**
 * An ACL that is either `{<env>: Acl}` or a legacy `Acl` without envs (SOAJS uses the whole object
 * then): the latter is keyed under the import env.
 */
function envKeyedAcl(raw: Obj, knownEnvs: ReadonlySet<string>, importEnv: string, note: (msg: string) => void): EnvAcl {
  const keys = Object.keys(raw);
  const envKeyed = keys.some((k) => knownEnvs.has(k.toLowerCase())) || !keys.every((k) => looksLikeServiceAcl(raw[k]));
  if (envKeyed) return lowerEnvKeys<Acl>(raw, note);
  note(`ACL is not keyed by environment (legacy form); imported for env "${importEnv}"`);
  return { [importEnv]: raw as Acl };
}

/** A compiled service entry with no version and no field would make every API public: dropped. */
function isEmptyServiceAcl(s: ServiceAcl): boolean {
  return Object.keys(s).length === 0;
}

function convertPackageAcl(
  product: Obj,
  pkg: Obj,
  knownEnvs: ReadonlySet<string>,
  importEnv: string,
  note: (msg: string) => void,
): EnvAcl {
  const raw = pkg['acl'];
  if (raw === undefined || raw === null) return {};
  if (!isObj(raw)) return raw as EnvAcl; // validation names the field
  const scope = isObj(product['scope']) && isObj(product['scope']['acl']) ? (product['scope']['acl'] as Obj) : null;
  const byEnv = isObj(pkg['aclTypeByEnv']) ? lowerEnvKeys<unknown>(pkg['aclTypeByEnv'], () => undefined) : {};
  const granular = (env: string) => scope === null || pkg['aclType'] === 'granular' || byEnv[env] === 'granular';

  if (scope === null || pkg['aclType'] === 'granular') return envKeyedAcl(raw, knownEnvs, importEnv, note);

  const scopeByEnv = lowerEnvKeys<unknown>(scope, note);
  const out: EnvAcl = {};
  for (const [env, envAcl] of Object.entries(lowerEnvKeys<unknown>(raw, note))) {
    if (granular(env)) {
      out[env] = envAcl as Acl;
      continue;
    }
    const scopeEnv = scopeByEnv[env];
    if (!isObj(scopeEnv)) {
      note(`env "${env}" is not in the product scope — no ACL for it (SOAJS ignores it too)`);
      continue;
    }
    if (!isObj(envAcl)) {
      out[env] = envAcl as Acl; // validation names the field
      continue;
    }
    const acl: Acl = {};
    for (const [service, entries] of Object.entries(envAcl)) {
      const scopeService = scopeEnv[service];
      if (!isObj(scopeService)) {
        note(`${env}.${service} is not in the product scope — not granted (SOAJS ignores it too)`);
        continue;
      }
      const versionedScope = Object.keys(scopeService).some((k) => VERSION_KEY.test(k));
      let entry: Record<string, VersionAcl> | VersionAcl = {};
      for (const item of Array.isArray(entries) ? entries : [entries]) {
        if (!isObj(item)) continue;
        const at = (m: string) => note(`${env}.${service}${item['version'] !== undefined ? ` v${String(item['version'])}` : ''}: ${m}`);
        if (item['version'] !== undefined && item['version'] !== null && item['version'] !== '') {
          const version = String(item['version']);
          const nv = normalizeVersion(version);
          const sv = scopeVersion(scopeService, version);
          if (nv === null || sv === undefined) {
            at('version is not in the product scope — not granted (SOAJS ignores it too)');
            continue;
          }
          (entry as Record<string, VersionAcl>)[nv] = compileFromScope(sv, item, at);
        } else if (versionedScope) {
          at('entry has no "version" but the product scope is versioned — not granted');
        } else {
          // Legacy scope without versions: the whole service entry is one VersionAcl.
          entry = compileFromScope(scopeService, item, at);
        }
      }
      if (isEmptyServiceAcl(entry)) {
        note(`${env}.${service}: nothing compiled — service left out (an empty entry would open every API)`);
        continue;
      }
      acl[service] = entry;
    }
    out[env] = acl;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Converters

interface Context {
  env: string;
  knownEnvs: Set<string>;
  maintenanceInc: number;
  now: number;
  r: Reader;
}

function convertProduct(rec: SourceRecord, ctx: Context): DocByKind['product'] | null {
  const p = rec.value;
  if (!isObj(p)) {
    ctx.r.warn(rec.origin, 'product: not an object — skipped');
    return null;
  }
  const code = str(p['code']);
  const packages: unknown[] = Array.isArray(p['packages']) ? p['packages'] : [];
  const doc = {
    code: p['code'],
    name: str(p['name']) || code,
    ...(typeof p['description'] === 'string' ? { description: p['description'] } : {}),
    packages: Array.isArray(p['packages'])
      ? packages.map((pkg) => {
          if (!isObj(pkg)) return pkg;
          const note = (m: string) => ctx.r.warn(rec.origin, `package ${String(pkg['code'])}: ${m}`, false);
          return {
            code: pkg['code'],
            name: str(pkg['name']) || pkg['code'],
            ...(typeof pkg['description'] === 'string' ? { description: pkg['description'] } : {}),
            acl: convertPackageAcl(p, pkg, ctx.knownEnvs, ctx.env, note),
          };
        })
      : p['packages'],
  };
  return ctx.r.validate('product', doc, rec.origin);
}

function convertTenant(rec: SourceRecord, ctx: Context, seenHashes: Map<string, string>): DocByKind['tenant'] | null {
  const t = rec.value;
  if (!isObj(t)) {
    ctx.r.warn(rec.origin, 'tenant: not an object — skipped');
    return null;
  }
  const id = oid(t['_id']) ?? oid(t['id']);
  const code = str(t['code']);
  const mainRef = isObj(t['tenant']) ? t['tenant'] : null;
  const type = t['type'] === undefined ? (mainRef ? 'client' : 'product') : t['type'];
  const oauth = isObj(t['oauth']) ? t['oauth'] : null;
  const warnT = (m: string, skip = true) => ctx.r.warn(rec.origin, `tenant ${code ?? id ?? '?'}: ${m}`, skip);
  if (oauth && isObj(oauth['pin']) && Object.values(oauth['pin']).some((x) => isObj(x) && x['enabled'] === true)) {
    warnT('oauth.pin is not supported by Tessera — pin login is not enforced', false);
  }
  if (oauth && oauth['type'] === 0) warnT('oauth.type 0 (JWT signed with the tenant secret) — Tessera issues its own tokens', false);

  const applications = Array.isArray(t['applications'])
    ? (t['applications'] as unknown[]).map((app, i) => {
        if (!isObj(app)) return app;
        const where = `applications[${i}]`;
        const keys = Array.isArray(app['keys'])
          ? (app['keys'] as unknown[]).map((k, j) => {
              if (!isObj(k)) return k;
              const extKeys = Array.isArray(k['extKeys'])
                ? (k['extKeys'] as unknown[]).flatMap((e, n) => {
                    const field = `${where}.keys[${j}].extKeys[${n}]`;
                    if (!isObj(e)) return [e];
                    const plain = e['extKey'];
                    if (typeof plain !== 'string' || !isWellFormedExtKey(plain)) {
                      warnT(`field "${field}.extKey" is not a lower-case hex ext key — that ext key is skipped`);
                      return [];
                    }
                    const keyHash = hashExtKey(plain);
                    const holder = seenHashes.get(keyHash);
                    if (holder !== undefined && holder !== (id ?? code)) {
                      warnT(`field "${field}.extKey" is also held by tenant ${holder} — that ext key is skipped`);
                      return [];
                    }
                    // Numbers and ISO strings are kept as they are; an extended-JSON `{$date}` becomes ms.
                    let expDate: unknown = e['expDate'] ?? null;
                    if (isObj(expDate)) expDate = dateMs(expDate);
                    let keyEnv = e['env'];
                    if (keyEnv === undefined || keyEnv === null || keyEnv === '') {
                      warnT(`field "${field}.env" is not set (SOAJS: any env) — imported for env "${ctx.env}"`, false);
                      keyEnv = ctx.env;
                    }
                    return [
                      {
                        keyHash,
                        hint: keyHint(plain),
                        env: keyEnv,
                        expDate,
                        geo: e['geo'] ?? null,
                        device: e['device'] ?? null,
                        ...(typeof e['label'] === 'string' ? { label: e['label'] } : {}),
                      },
                    ];
                  })
                : k['extKeys'];
              return {
                key: k['key'],
                ...(isObj(k['config']) ? { config: lowerEnvKeys(k['config'], (m) => warnT(`${where}.keys[${j}].config: ${m}`, false)) } : {}),
                extKeys,
              };
            })
          : app['keys'];
        return {
          appId: oid(app['appId']) ?? app['appId'],
          product: app['product'],
          package: app['package'],
          ...(typeof app['description'] === 'string' ? { description: app['description'] } : {}),
          ...(isObj(app['acl']) ? { acl: envKeyedAcl(app['acl'], ctx.knownEnvs, ctx.env, (m) => warnT(`${where}.acl: ${m}`, false)) } : {}),
          keys,
        };
      })
    : t['applications'];

  const doc = {
    id,
    code,
    name: str(t['name']) || code,
    ...(typeof t['description'] === 'string' ? { description: t['description'] } : {}),
    type,
    ...(mainRef && type === 'client' ? { main: { id: oid(mainRef['id']), code: mainRef['code'] } } : {}),
    ...(typeof t['locked'] === 'boolean' ? { locked: t['locked'] } : {}),
    ...(isObj(t['profile']) && Object.keys(t['profile']).length > 0 ? { profile: t['profile'] } : {}),
    ...(oauth
      ? {
          oauth: {
            ...(typeof oauth['secret'] === 'string' && oauth['secret'] !== '' ? { secret: oauth['secret'] } : {}),
            ...(oauth['disabled'] !== undefined ? { disabled: oauth['disabled'] === true || oauth['disabled'] === 1 } : {}),
            ...(oauth['loginMode'] !== undefined ? { loginMode: oauth['loginMode'] } : {}),
          },
        }
      : {}),
    applications,
  };
  const valid = ctx.r.validate('tenant', doc, rec.origin);
  if (valid) {
    for (const app of valid.applications) for (const k of app.keys) for (const e of k.extKeys) seenHashes.set(e.keyHash, valid.id);
  }
  return valid;
}

function flag(v: unknown, dflt: boolean): boolean {
  return typeof v === 'boolean' ? v : dflt;
}

const OPTIONAL_FLAGS = ['urac', 'urac_Profile', 'urac_ACL', 'urac_Config', 'urac_GroupConfig', 'tenant_Profile', 'provision_ACL'] as const;

interface HostRecord {
  origin: string;
  name: string;
  version: string;
  ip: string;
  port: number | undefined;
}

function convertService(rec: SourceRecord, ctx: Context, hosts: readonly HostRecord[]): DocByKind['service'] | null {
  const s = rec.value as Obj;
  const name = str(s['name']);
  const conf = isObj(s['configuration']) ? s['configuration'] : {};
  const versions: Record<string, ServiceVersion> = {};
  let maintenance: Obj | null = null;
  const srcVersions = Array.isArray(s['versions']) ? (s['versions'] as unknown[]) : [];
  for (const [i, v] of srcVersions.entries()) {
    if (!isObj(v)) continue;
    const nv = normalizeVersion(String(v['version'] ?? ''));
    if (nv === null) {
      ctx.r.warn(rec.origin, `service ${name}: field "versions[${i}].version" is not a version (${JSON.stringify(v['version'])}) — that version is skipped`);
      continue;
    }
    if (nv in versions) {
      ctx.r.warn(rec.origin, `service ${name}: version ${nv} is listed twice — the first is kept`);
      continue;
    }
    const byEnv = isObj(v['customByEnv']) ? lowerEnvKeys<unknown>(v['customByEnv'], () => undefined)[ctx.env] : undefined;
    const custom = isObj(byEnv) ? byEnv : {};
    const flags: ServiceVersion = {
      extKeyRequired: flag(custom['extKeyRequired'], flag(v['extKeyRequired'], false)),
      // The SOAJS gateway treats a version without `oauth` as oauth: true.
      oauth: flag(custom['oauth'], flag(v['oauth'], true)),
    };
    for (const f of OPTIONAL_FLAGS) if (typeof v[f] === 'boolean') flags[f] = v[f];
    versions[nv] = flags;
    if (maintenance === null && isObj(v['maintenance']) && isObj(v['maintenance']['port'])) maintenance = v['maintenance']['port'];
  }

  // A hosts record of this env overrides the catalog port (SOAJS, except sensitive envs); the
  // registry has one port per service, so the last record's port applies to every host.
  const mine = hosts.filter((h) => h.name === name);
  let port = conf['port'];
  const last = mine.at(-1);
  if (last?.port !== undefined && !SENSITIVE_ENVS.has(ctx.env)) port = last.port;
  const hostPorts = new Set(mine.map((h) => h.port).filter((p) => p !== undefined));
  if (hostPorts.size > 1 && !SENSITIVE_ENVS.has(ctx.env)) {
    ctx.r.warn(rec.origin, `service ${name}: hosts records give ports ${[...hostPorts].join(', ')}; as in SOAJS, every host is reached on the last one (${String(port)})`, false);
  }
  let hostMap: Record<string, string[]> | undefined;
  for (const h of mine) {
    const hv = normalizeVersion(h.version);
    if (hv === null) {
      ctx.r.warn(h.origin, `host of ${name}: field "version" is not a version (${JSON.stringify(h.version)}) — skipped`);
      continue;
    }
    if (!(hv in versions)) ctx.r.warn(h.origin, `host of ${name}: version ${hv} is not in the catalog — kept, but not routable until it is`, false);
    const ip = h.ip.includes(':') && !h.ip.startsWith('[') ? `[${h.ip}]` : h.ip;
    const entry = `${ip}:${String(port)}`;
    hostMap ??= {};
    const list = (hostMap[hv] ??= []);
    if (!list.includes(entry)) list.push(entry);
  }

  // soajs-reference §2.10: maintenance port of type maintenance → port + maintenanceInc, inherit → port,
  // custom → value; none declared → port + maintenanceInc (SOAJS probes that first).
  let maintenancePort: unknown;
  if (typeof port === 'number') {
    const type = maintenance?.['type'];
    if (type === 'inherit') maintenancePort = port;
    else if (type === 'custom') maintenancePort = typeof maintenance?.['value'] === 'number' ? maintenance['value'] : Number(maintenance?.['value']);
    else maintenancePort = port + ctx.maintenanceInc;
  }
  const timeout = conf['requestTimeout'];
  const doc = {
    name,
    ...(typeof conf['group'] === 'string' ? { group: conf['group'] } : {}),
    port,
    ...(maintenancePort !== undefined ? { maintenancePort } : {}),
    ...(typeof timeout === 'number' && timeout > 0 ? { requestTimeout: timeout } : {}),
    versions,
    ...(hostMap ? { hosts: hostMap } : {}),
  };
  return ctx.r.validate('service', doc, rec.origin);
}

const USER_STATUS: Readonly<Record<string, DocByKind['user']['status']>> = {
  active: 'active',
  inactive: 'inactive',
  pendingNew: 'pending',
  pendingJoin: 'pending',
  pending: 'pending',
};

function tenantRef(v: unknown): unknown {
  return isObj(v) ? { id: oid(v['id']), code: v['code'] } : v;
}

function convertUserConfig(c: Obj): Obj {
  const out: Obj = {};
  if (isObj(c['keys'])) {
    const keys: Obj = {};
    for (const [iKey, entry] of Object.entries(c['keys'])) {
      keys[iKey] = isObj(entry)
        ? { ...(entry['acl'] !== undefined ? { acl: entry['acl'] } : {}), ...(entry['config'] !== undefined ? { config: entry['config'] } : {}) }
        : entry;
    }
    if (Object.keys(keys).length) out['keys'] = keys;
  }
  if (isObj(c['packages'])) {
    const packages: Obj = {};
    for (const [code, entry] of Object.entries(c['packages'])) {
      packages[code] = isObj(entry) ? (entry['acl'] !== undefined ? { acl: entry['acl'] } : {}) : entry;
    }
    if (Object.keys(packages).length) out['packages'] = packages;
  }
  if (Array.isArray(c['allowedTenants']) && c['allowedTenants'].length) {
    out['allowedTenants'] = (c['allowedTenants'] as unknown[]).map((a) =>
      isObj(a) ? { tenant: tenantRef(a['tenant']), groups: a['groups'] ?? [] } : a,
    );
  }
  return out;
}

function convertUser(rec: SourceRecord, ctx: Context): DocByKind['user'] | null {
  const u = rec.value;
  if (!isObj(u)) {
    ctx.r.warn(rec.origin, 'user: not an object — skipped');
    return null;
  }
  const status = typeof u['status'] === 'string' ? (USER_STATUS[u['status']] ?? u['status']) : u['status'];
  const password = u['password'];
  if (typeof password !== 'string' || !/^\$2[abxy]\$\d\d\$/.test(password)) {
    ctx.r.warn(
      rec.origin,
      `user ${String(u['username'])}: field "password" is ${typeof password === 'string' ? 'not a bcrypt hash' : 'missing'} — skipped (Tessera logs users in by password only)`,
    );
    return null;
  }
  const config = isObj(u['config']) ? convertUserConfig(u['config']) : undefined;
  const ts = u['ts'] !== undefined ? dateMs(u['ts']) : Number.NaN;
  const doc = {
    id: oid(u['_id']) ?? oid(u['id']),
    username: u['username'],
    passwordHash: password,
    firstName: u['firstName'] ?? '',
    lastName: u['lastName'] ?? '',
    email: u['email'] ?? '',
    status,
    groups: u['groups'] ?? [],
    tenant: tenantRef(u['tenant']),
    ...(isObj(u['profile']) ? { profile: u['profile'] } : {}),
    ...(config && Object.keys(config).length ? { config } : {}),
    ...(Number.isInteger(ts) && ts >= 0 ? { ts } : {}),
  };
  return ctx.r.validate('user', doc, rec.origin);
}

function convertGroup(rec: SourceRecord, ctx: Context): DocByKind['group'] | null {
  const g = rec.value;
  if (!isObj(g)) {
    ctx.r.warn(rec.origin, 'group: not an object — skipped');
    return null;
  }
  const tenant = tenantRef(g['tenant']);
  const code = g['code'];
  if (!isObj(tenant)) {
    ctx.r.warn(rec.origin, `group ${String(code)}: field "tenant" is missing — skipped`);
    return null;
  }
  // The id is built from these two: name them rather than the id.
  for (const [field, v] of [['code', code], ['tenant.id', tenant['id']]] as const) {
    if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(v)) {
      ctx.r.warn(rec.origin, `group: field "${field}" must be 1 to 64 of A-Z a-z 0-9 _ - (${JSON.stringify(v)}) — skipped`);
      return null;
    }
  }
  const allowed = isObj(g['config']) ? g['config']['allowedPackages'] : undefined;
  const doc = {
    id: `${String(tenant['id'])}:${String(code)}`,
    code,
    name: str(g['name']) || code,
    ...(typeof g['description'] === 'string' ? { description: g['description'] } : {}),
    tenant,
    ...(allowed !== undefined ? { config: { allowedPackages: allowed } } : {}),
  };
  return ctx.r.validate('group', doc, rec.origin);
}

function convertToken(rec: SourceRecord, ctx: Context): DocByKind['legacyToken'] | null {
  const t = rec.value;
  if (!isObj(t)) {
    ctx.r.warn(rec.origin, 'token: not an object — skipped');
    return null;
  }
  const type = t['type'] === 'accessToken' ? 'access' : t['type'] === 'refreshToken' ? 'refresh' : null;
  if (type === null) {
    ctx.r.warn(rec.origin, `token: field "type" is ${JSON.stringify(t['type'])}, not accessToken or refreshToken — skipped`);
    return null;
  }
  if (typeof t['token'] !== 'string' || t['token'] === '') {
    ctx.r.warn(rec.origin, 'token: field "token" is missing — skipped');
    return null;
  }
  const expiresAt = dateMs(t['expires']);
  if (Number.isNaN(expiresAt)) {
    ctx.r.warn(rec.origin, `token: field "expires" is not a date (${JSON.stringify(t['expires'])}) — skipped`);
    return null;
  }
  if (expiresAt <= ctx.now) {
    ctx.r.warn(rec.origin, `token: expired at ${new Date(expiresAt).toISOString()} — skipped`);
    return null;
  }
  const user = isObj(t['user']) ? t['user'] : null;
  const doc = {
    id: createHash('sha256').update(t['token']).digest('hex'),
    type,
    userId: user ? (oid(user['_id']) ?? oid(user['id'])) : undefined,
    tenantId: oid(t['clientId']),
    env: t['env'],
    expiresAt,
  };
  if (user && user['loginMode'] === 'oauth') {
    ctx.r.warn(rec.origin, 'token: its user logged in with loginMode "oauth" (oauth_urac) — such users are not imported, the token will not resolve', false);
  }
  return ctx.r.validate('legacyToken', doc, rec.origin);
}

// ---------------------------------------------------------------------------------------------

/** Reads and converts a SOAJS export for `opts.env`. Throws SoajsImportError only for a missing directory or environment. */
export function readSoajsExport(dir: string, opts: ImportOptions): ImportResult {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new SoajsImportError(`import: ${dir} is not a directory`);
  const env = opts.env.toLowerCase();
  const r = new Reader(dir);

  const envRecords = r.records('environment', 'environments');
  const knownEnvs = new Set<string>();
  let envRecord: Obj | null = null;
  for (const rec of envRecords) {
    const code = isObj(rec.value) ? str(rec.value['code']) : undefined;
    if (code === undefined) {
      r.warn(rec.origin, 'environment: field "code" is missing — skipped');
      continue;
    }
    knownEnvs.add(code.toLowerCase());
    if (code.toLowerCase() === env) envRecord = rec.value as Obj;
  }
  if (envRecord === null) {
    const have = [...knownEnvs].join(', ') || 'none';
    throw new SoajsImportError(`import: no environment record for "${env}" in ${join(dir, 'environment')} (found: ${have})`);
  }
  knownEnvs.add(env);
  const services = isObj(envRecord['services']) ? envRecord['services'] : {};
  const config = isObj(services['config']) ? services['config'] : {};
  const ports = isObj(config['ports']) ? config['ports'] : {};
  const inc = ports['maintenanceInc'];
  const ctx: Context = {
    env,
    knownEnvs,
    maintenanceInc: typeof inc === 'number' && Number.isInteger(inc) && inc > 0 ? inc : 1000,
    now: opts.now ?? Date.now(),
    r,
  };

  const docs: ImportedDoc[] = [];
  const push = <K extends DocKind>(kind: K, doc: DocByKind[K] | null, origin: string) => {
    if (doc !== null) docs.push({ kind, doc, origin } as ImportedDoc);
  };

  for (const rec of r.records('products')) push('product', convertProduct(rec, ctx), rec.origin);

  // Hosts of this env, then the catalog.
  const hosts: HostRecord[] = [];
  for (const rec of r.records('hosts')) {
    const h = rec.value;
    if (!isObj(h) || typeof h['env'] !== 'string' || h['env'].toLowerCase() !== env) continue;
    const name = str(h['name']);
    const ip = str(h['ip']);
    if (name === undefined || ip === undefined || ip === '') {
      r.warn(rec.origin, `host: field "${name === undefined ? 'name' : 'ip'}" is missing — skipped`);
      continue;
    }
    const port = h['port'];
    hosts.push({ origin: rec.origin, name, ip, version: String(h['version'] ?? ''), port: typeof port === 'number' ? port : undefined });
  }
  const catalog = new Set<string>();
  for (const rec of r.records('marketplace')) {
    const s = rec.value;
    if (!isObj(s)) {
      r.warn(rec.origin, 'marketplace: not an object — skipped');
      continue;
    }
    const name = str(s['name']);
    if (name === 'controller') continue;
    const type = s['type'] ?? 'service';
    if (type !== 'service') {
      r.warn(
        rec.origin,
        `marketplace ${String(name)}: type "${String(type)}" is not imported — Tessera routes services to hosts; endpoints (upstream URLs) and daemons have no equivalent`,
      );
      if (name !== undefined) catalog.add(name);
      continue;
    }
    if (name !== undefined) catalog.add(name);
    push('service', convertService(rec, ctx, hosts), rec.origin);
  }
  for (const h of hosts) {
    if (!catalog.has(h.name) && h.name !== 'controller') r.warn(h.origin, `host: service "${h.name}" is not in the marketplace — skipped`);
  }

  const seenHashes = new Map<string, string>();
  const packages = new Set(docs.flatMap((d) => (d.kind === 'product' ? d.doc.packages.map((p) => p.code) : [])));
  for (const rec of r.records('tenants')) {
    const t = convertTenant(rec, ctx, seenHashes);
    if (t === null) continue;
    t.applications.forEach((app, i) => {
      if (!packages.has(app.package)) {
        r.warn(rec.origin, `tenant ${t.code}: applications[${i}].package "${app.package}" is not in the export — its keys get 152 until it exists`, false);
      }
    });
    push('tenant', t, rec.origin);
  }

  for (const rec of r.records('urac/groups')) push('group', convertGroup(rec, ctx), rec.origin);
  const usernames = new Map<string, string>();
  for (const rec of r.records('urac/users')) {
    const u = convertUser(rec, ctx);
    if (u === null) continue;
    const taken = usernames.get(u.username.toLowerCase());
    if (taken !== undefined && taken !== u.id) {
      r.warn(rec.origin, `user: field "username" "${u.username}" is already used by user ${taken} — skipped (usernames are unique across tenants)`);
      continue;
    }
    usernames.set(u.username.toLowerCase(), u.id);
    push('user', u, rec.origin);
  }
  for (const rec of r.records('oauth/token')) push('legacyToken', convertToken(rec, ctx), rec.origin);

  // Collections the gateway reads that have no Tessera document.
  for (const [sub, why] of [
    ['customRegistry', 'custom registry entries (gateway maintenance mode, ip2ban, whitelist, lastSeen, roaming, urac) are not imported'],
    ['resources', 'resources (database clusters) are not imported'],
  ] as const) {
    const n = r.records(sub).length;
    if (n > 0) r.warn(`${sub}/`, `${n} record(s): ${why}`, false);
  }

  const counts: Record<ImportedKind, number> = { product: 0, service: 0, tenant: 0, group: 0, user: 0, legacyToken: 0 };
  for (const d of docs) counts[d.kind as ImportedKind]++;
  return { docs, report: { counts, skipped: r.skipped, warnings: r.warnings } };
}

/** A short, printable name for a document. */
export function docLabel(d: ImportedDoc): string {
  switch (d.kind) {
    case 'product':
      return `product ${d.doc.code}`;
    case 'service':
      return `service ${d.doc.name}`;
    case 'tenant':
      return `tenant ${d.doc.code} (${d.doc.id})`;
    case 'user':
      return `user ${d.doc.username} (${d.doc.id})`;
    case 'group':
      return `group ${d.doc.id}`;
    case 'legacyToken':
      return `legacyToken ${d.doc.type} ${d.doc.id.slice(0, 12)}… (user ${d.doc.userId})`;
    default:
      return `${d.kind}`;
  }
}
