import { type SchemaObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { fieldPath, validateDocument, ValidationError, versionFlags } from './schema.js';
import type { Acl, Service, ServiceVersion, VersionAcl } from '../view/types.js';
import { normalizeVersion } from '../view/version.js';
import { newAjv } from '../../config/ajv.js';

/**
 * A service owner's declaration (YAML): what SOAJS services declare (name, versions, ports, flags,
 * APIs) plus the permission groups packages pick from, each with its default access.
 *
 * ```yaml
 * service: payments
 * port: 4100
 * versions:
 *   "1":
 *     extKeyRequired: true
 *     oauth: true
 *     apis:
 *       - { method: get, path: /orders, group: Orders }
 *       - { method: post, path: /orders, group: Orders, access: true }
 *       - { method: get, path: /orders/:id, group: Orders }
 *       - { method: delete, path: /orders/:id, group: Admin }
 * groups:
 *   Orders: { access: false }
 *   Admin: { access: [owner] }
 * ```
 */
export interface ManifestApi {
  method: 'get' | 'post' | 'put' | 'delete' | 'patch' | 'head' | 'options';
  path: string;
  group: string;
  /** Overrides the group's default access for this API. */
  access?: boolean | string[];
}

export interface ManifestVersion extends ServiceVersion {
  apis: ManifestApi[];
}

export interface Manifest {
  service: string;
  group?: string;
  port: number;
  maintenancePort?: number;
  requestTimeout?: number;
  maxBodyBytes?: number;
  provisioning?: 'external' | 'none';
  versions: Record<string, ManifestVersion>;
  groups: Record<string, { access?: boolean | string[]; description?: string }>;
  hosts?: Record<string, string[]>;
}

const access = { anyOf: [{ type: 'boolean' }, { type: 'array', items: { type: 'string', minLength: 1 } }] };

const manifestSchema: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  required: ['service', 'port', 'versions', 'groups'],
  properties: {
    service: { type: 'string', pattern: '^[a-z][a-z0-9_.-]{0,63}$' },
    group: { type: 'string' },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    maintenancePort: { type: 'integer', minimum: 1, maximum: 65535 },
    requestTimeout: { type: 'number', exclusiveMinimum: 0, maximum: 3600 },
    maxBodyBytes: { type: 'integer', minimum: 0, maximum: 1099511627776 },
    provisioning: { enum: ['external', 'none'] },
    versions: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[0-9]+(\\.[0-9]+)?$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['extKeyRequired', 'apis'],
        properties: {
          ...versionFlags.properties,
          apis: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['method', 'path', 'group'],
              properties: {
                method: { enum: ['get', 'post', 'put', 'delete', 'patch', 'head', 'options'] },
                path: { type: 'string', pattern: '^/' },
                group: { type: 'string', minLength: 1 },
                access,
              },
            },
          },
        },
      },
    },
    groups: {
      type: 'object',
      minProperties: 1,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: { access, description: { type: 'string' } },
      },
    },
    hosts: {
      type: 'object',
      additionalProperties: { type: 'array', items: { type: 'string' } },
    },
  },
};

const validateManifest = newAjv({ allErrors: false, strict: false }).compile<Manifest>(manifestSchema);

/** Parses and validates a manifest; errors name the field (`manifest: field "versions.1.apis[0].method" …`). */
export function parseManifest(text: string): Manifest {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ValidationError(`manifest: not valid YAML: ${(err as Error).message}`, '(root)');
  }
  if (!validateManifest(raw)) {
    const e = validateManifest.errors![0]!;
    const field = fieldPath(e, raw);
    throw new ValidationError(`manifest: field "${field}" ${e.message ?? 'is invalid'}`, field);
  }
  for (const [v, mv] of Object.entries(raw.versions)) {
    mv.apis.forEach((api, i) => {
      if (raw.groups[api.group] === undefined) {
        const field = `versions.${v}.apis[${i}].group`;
        throw new ValidationError(`manifest: field "${field}" names group "${api.group}", which "groups" does not declare`, field);
      }
    });
  }
  return raw;
}

/** The registry's service document for a manifest (validated like any other write). */
export function serviceFromManifest(m: Manifest): Service {
  const versions: Service['versions'] = {};
  for (const [v, { apis: _apis, ...flags }] of Object.entries(m.versions)) versions[v] = flags;
  return validateDocument('service', {
    name: m.service,
    ...(m.group !== undefined ? { group: m.group } : {}),
    port: m.port,
    ...(m.maintenancePort !== undefined ? { maintenancePort: m.maintenancePort } : {}),
    ...(m.requestTimeout !== undefined ? { requestTimeout: m.requestTimeout } : {}),
    ...(m.maxBodyBytes !== undefined ? { maxBodyBytes: m.maxBodyBytes } : {}),
    ...(m.provisioning !== undefined ? { provisioning: m.provisioning } : {}),
    versions,
    ...(m.hosts !== undefined ? { hosts: m.hosts } : {}),
  });
}

/**
 * The ACL entry a package gets for `service` when it picks `groups` (SOAJS's scope groups): the
 * listed groups' APIs, restricted to them, each with its API or group default access.
 */
export function aclForGroups(m: Manifest, version: string, groups: readonly string[]): Acl {
  const v = normalizeVersion(version);
  const mv = v === null ? undefined : Object.entries(m.versions).find(([k]) => normalizeVersion(k) === v)?.[1];
  if (mv === undefined) throw new ValidationError(`manifest: "${m.service}" has no version ${version}`, 'versions');
  for (const g of groups) if (m.groups[g] === undefined) throw new ValidationError(`manifest: no group "${g}"`, 'groups');
  const entry: VersionAcl = { access: false, apisPermission: 'restricted' };
  for (const api of mv.apis) {
    if (!groups.includes(api.group)) continue;
    const section = (entry[api.method] ??= { apis: {} });
    section.apis![api.path] = { access: api.access ?? m.groups[api.group]!.access ?? false, group: api.group };
  }
  return { [m.service]: { [v!]: entry } };
}

/** Field-level differences between two JSON documents, as dotted paths (for "what would change"). */
export function diffDocs(before: unknown, after: unknown, path = ''): string[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObj(before) || !isObj(after)) return [`${path || '(root)'}: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`];
  const out: string[] = [];
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    out.push(...diffDocs(before[k], after[k], path ? `${path}.${k}` : k));
  }
  return out;
}

export interface RegisterResult {
  /** `created`, `updated` or `unchanged`. */
  outcome: 'created' | 'updated' | 'unchanged';
  diff: string[];
  version: number;
  /** Packages whose ACL for the service was set (`--grant`). */
  granted: string[];
}

/**
 * Registers (or re-registers) a service from its manifest: the service document is written in one
 * versioned write against the version read (a concurrent change fails cleanly), and each
 * `grants` entry (`PACKAGE → groups`) sets that package's ACL for the service in this env.
 */
export async function registerManifest(
  store: import('./store/types.js').Store,
  manifest: Manifest,
  opts: { env: string; grants?: Readonly<Record<string, readonly string[]>>; dryRun?: boolean },
): Promise<RegisterResult> {
  const next = serviceFromManifest(manifest);
  const current = await store.get('service', next.name);
  const diff = diffDocs(current?.doc ?? null, next);
  let version = current?.version ?? 0;
  let outcome: RegisterResult['outcome'] = current === null ? 'created' : diff.length ? 'updated' : 'unchanged';
  if (!opts.dryRun && outcome !== 'unchanged') version = await store.put('service', next, { ifVersion: current?.version ?? 0 });
  const granted: string[] = [];
  for (const [pkgCode, groups] of Object.entries(opts.grants ?? {})) {
    const productCode = pkgCode.split('_')[0]!;
    const product = await store.get('product', productCode);
    const pkg = product?.doc.packages.find((p) => p.code === pkgCode);
    if (!product || !pkg) throw new ValidationError(`manifest: --grant names package "${pkgCode}", which does not exist`, 'grant');
    const latest = Object.keys(manifest.versions).sort((a, b) => Number(a) - Number(b)).at(-1)!;
    const acl = aclForGroups(manifest, latest, groups);
    const envAcl = { ...(pkg.acl[opts.env] ?? {}), ...acl };
    const doc = { ...product.doc, packages: product.doc.packages.map((p) => (p.code === pkgCode ? { ...p, acl: { ...p.acl, [opts.env]: envAcl } } : p)) };
    if (!opts.dryRun) await store.put('product', doc, { ifVersion: product.version });
    granted.push(pkgCode);
    if (outcome === 'unchanged') outcome = 'updated';
  }
  return { outcome, diff, version, granted };
}
