import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { type Ajv, type ErrorObject, type Options, type SchemaObject, type ValidateFunction } from 'ajv';
import { compileServiceAcl } from '../view/acl.js';
import { compileCidrs } from '../view/net.js';
import type { DocByKind, DocKind, EnvAcl } from '../view/types.js';
import { newAjv } from '../../config/ajv.js';

const access = {
  description: 'false/absent: public; true: logged-in user; list: user in one of these groups',
  anyOf: [{ type: 'boolean' }, { type: 'array', items: { type: 'string', minLength: 1 } }],
};

const methodAclProps = {
  apis: {
    type: 'object',
    description: 'exact API paths (paths with /:param become regular expressions)',
    propertyNames: { pattern: '^/' },
    additionalProperties: {
      type: 'object',
      additionalProperties: false,
      properties: { access, group: { type: 'string' } },
    },
  },
  apisRegExp: {
    type: 'array',
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['regExp'],
      properties: { regExp: { type: 'string', minLength: 1 }, access },
    },
  },
  apisPermission: { enum: ['restricted'], description: 'only listed APIs may be called' },
};

// The ACL grammar appears in products, tenants (application overrides) and users (per-key and
// per-package overrides). Each piece is its own schema, referenced, never inlined: inlined, ajv
// generated ~5 MB of validator source for it (the method-level piece alone 9 × per version, per
// service, per place), which the gateway kept in its heap for the life of the process.
const ACL_ID = 'https://tessera.invalid/schema/acl';
const ref = (name: string) => ({ $ref: `${ACL_ID}/${name}` });

const methodAclSchema = { $id: `${ACL_ID}/method`, type: 'object', additionalProperties: false, properties: methodAclProps };
const methodAcl = ref('method');

const versionAclProps = {
  ...methodAclProps,
  access,
  get: methodAcl,
  post: methodAcl,
  put: methodAcl,
  delete: methodAcl,
  patch: methodAcl,
  head: methodAcl,
  options: methodAcl,
  other: methodAcl,
};

const versionAclSchema = { $id: `${ACL_ID}/version`, type: 'object', additionalProperties: false, properties: versionAclProps };

/** A service entry: versioned (`{"1": {...}}`) or the legacy unversioned VersionAcl. */
const serviceAclSchema = {
  $id: `${ACL_ID}/service`,
  type: 'object',
  properties: versionAclProps,
  patternProperties: { '^[0-9]+([.x][0-9]+)?$': ref('version') },
  additionalProperties: false,
};

const aclSchema = {
  $id: `${ACL_ID}/services`,
  type: 'object',
  description: '{<service>: ServiceAcl}',
  propertyNames: { pattern: '^[A-Za-z0-9_.-]+$' },
  additionalProperties: ref('service'),
};
const acl = ref('services');

const envAclSchema = {
  $id: `${ACL_ID}/envs`,
  type: 'object',
  description: '{<env>: Acl}',
  propertyNames: { pattern: '^[a-z][a-z0-9_-]*$' },
  additionalProperties: acl,
};
const envAcl = ref('envs');

const code = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' };
/** Rate limits of a package (its tier), an application or a key: the most specific level that has them wins. */
const rateLimits = {
  type: 'array',
  maxItems: 16,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['by', 'limit', 'windowSeconds'],
    properties: {
      by: { enum: ['tenant', 'application', 'key', 'user', 'ip'], description: 'what is counted: ip counts per tenant and client address' },
      limit: { type: 'integer', minimum: 1, maximum: 1000000000 },
      windowSeconds: { type: 'integer', minimum: 1, maximum: 2592000 },
      service: { type: 'string', pattern: '^[a-z][a-z0-9_.-]{0,63}$', description: 'only requests to this service count' },
      name: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,32}$', description: 'the policy name in RateLimit headers' },
    },
  },
};
const id = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' };
const cidrRules = {
  anyOf: [
    { type: 'null' },
    {
      type: 'object',
      additionalProperties: false,
      properties: {
        allow: { type: 'array', items: { type: 'string', minLength: 1 } },
        deny: { type: 'array', items: { type: 'string', minLength: 1 } },
      },
    },
  ],
};
const versionBound = {
  anyOf: [
    { type: 'string' },
    { type: 'object', additionalProperties: false, properties: { min: { type: 'string' }, max: { type: 'string' } } },
  ],
};
const deviceRule = {
  type: 'object',
  additionalProperties: false,
  properties: {
    family: { type: 'string' },
    os: {
      type: 'object',
      additionalProperties: false,
      properties: { family: { type: 'string' }, major: versionBound, minor: versionBound, patch: versionBound },
    },
    major: versionBound,
    minor: versionBound,
    patch: versionBound,
  },
};
const deviceRules = {
  anyOf: [
    { type: 'null' },
    {
      type: 'object',
      additionalProperties: false,
      properties: { allow: { type: 'array', items: deviceRule }, deny: { type: 'array', items: deviceRule } },
    },
  ],
};

export const productSchema: SchemaObject = {
  $id: 'tessera/product',
  type: 'object',
  additionalProperties: false,
  required: ['code', 'name', 'packages'],
  properties: {
    code,
    name: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    packages: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['code', 'name', 'acl'],
        properties: {
          code: { type: 'string', pattern: '^[A-Za-z0-9]+_[A-Za-z0-9_]+$', description: '<PRODUCT>_<NAME>' },
          name: { type: 'string', minLength: 1 },
          description: { type: 'string' },
          acl: envAcl,
          rateLimits,
        },
      },
    },
  },
};

const activationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['state', 'createdAt', 'updatedAt'],
  properties: {
    state: { enum: ['pending', 'active', 'failed', 'inactive'] },
    message: { type: 'string', maxLength: 2000 },
    createdAt: { type: 'integer', minimum: 0 },
    updatedAt: { type: 'integer', minimum: 0 },
  },
};

export const tenantSchema: SchemaObject = {
  $id: 'tessera/tenant',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'code', 'name', 'type', 'applications'],
  properties: {
    id,
    code,
    name: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    type: { enum: ['product', 'client'] },
    main: { type: 'object', additionalProperties: false, required: ['id', 'code'], properties: { id, code } },
    locked: { type: 'boolean' },
    profile: { type: 'object' },
    activations: { type: 'object', propertyNames: { pattern: '^[a-z][a-z0-9_.-]{0,63}$' }, additionalProperties: activationSchema },
    oauth: {
      type: 'object',
      additionalProperties: false,
      properties: {
        secret: { type: 'string', minLength: 1 },
        disabled: { type: 'boolean' },
        loginMode: { enum: ['urac', 'oauth'] },
      },
    },
    applications: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['appId', 'product', 'package', 'keys'],
        properties: {
          appId: id,
          product: code,
          package: { type: 'string', minLength: 1 },
          description: { type: 'string' },
          acl: envAcl,
          rateLimits,
          keys: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['key', 'extKeys'],
              properties: {
                key: { type: 'string', pattern: '^[0-9a-f]{32}$', description: 'internal key, 32 hex' },
                rateLimits,
                config: {
                  type: 'object',
                  description: '{<env>: {commonFields?, <service>: {...}}}',
                  additionalProperties: { type: 'object' },
                },
                extKeys: {
                  type: 'array',
                  items: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['keyHash', 'env'],
                    properties: {
                      keyHash: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the ext key' },
                      hint: { type: 'string', maxLength: 12 },
                      env: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_-]*$' },
                      expDate: {
                        anyOf: [{ type: 'null' }, { type: 'integer', minimum: 0 }, { type: 'string', format: 'date-time' }],
                      },
                      geo: cidrRules,
                      device: deviceRules,
                      label: { type: 'string' },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

/** A service version's flags (also what a manifest version declares beside its APIs). */
export const versionFlags = {
  type: 'object',
  additionalProperties: false,
  required: ['extKeyRequired'],
  properties: {
    extKeyRequired: { type: 'boolean' },
    oauth: { type: 'boolean', description: 'absent means true (SOAJS)' },
    urac: { type: 'boolean' },
    urac_Profile: { type: 'boolean' },
    urac_ACL: { type: 'boolean' },
    urac_Config: { type: 'boolean' },
    urac_GroupConfig: { type: 'boolean' },
    tenant_Profile: { type: 'boolean' },
    provision_ACL: { type: 'boolean' },
  },
};

export const serviceSchema: SchemaObject = {
  $id: 'tessera/service',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'port', 'versions'],
  properties: {
    name: { type: 'string', pattern: '^[a-z][a-z0-9_.-]{0,63}$' },
    group: { type: 'string' },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    maintenancePort: { type: 'integer', minimum: 1, maximum: 65535 },
    requestTimeout: { type: 'number', exclusiveMinimum: 0, maximum: 3600, description: 'seconds' },
    maxBodyBytes: { type: 'integer', minimum: 0, maximum: 1099511627776, description: 'bytes; 0: no limit' },
    provisioning: { enum: ['external', 'none'], description: 'external: activations wait for the service to report' },
    versions: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[0-9]+(\\.[0-9]+)?$' },
      additionalProperties: versionFlags,
    },
    hosts: {
      type: 'object',
      propertyNames: { pattern: '^[0-9]+(\\.[0-9]+)?$' },
      additionalProperties: {
        type: 'array',
        items: {
          type: 'string',
          description: 'host, host:port, [ipv6] or [ipv6]:port',
          pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9_.-]+)(:[0-9]{1,5})?$',
        },
      },
    },
  },
};

const tenantRef = { type: 'object', additionalProperties: false, required: ['id', 'code'], properties: { id, code } };

export const userSchema: SchemaObject = {
  $id: 'tessera/user',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'username', 'passwordHash', 'firstName', 'lastName', 'email', 'status', 'groups', 'tenant'],
  properties: {
    id,
    username: { type: 'string', pattern: '^[A-Za-z0-9_.@+-]{3,64}$' },
    passwordHash: { type: 'string', pattern: '^(scrypt\\$|\\$2[abxy]\\$)' },
    firstName: { type: 'string', maxLength: 100 },
    lastName: { type: 'string', maxLength: 100 },
    email: { type: 'string', maxLength: 254, pattern: '^$|^[^@\\s]+@[^@\\s]+$' },
    status: { enum: ['active', 'inactive', 'pending'] },
    groups: { type: 'array', items: code },
    tenant: tenantRef,
    profile: { type: 'object' },
    ts: { type: 'integer', minimum: 0 },
    config: {
      type: 'object',
      additionalProperties: false,
      properties: {
        keys: {
          type: 'object',
          propertyNames: { pattern: '^[0-9a-f]{32}$' },
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            properties: { acl, config: { type: 'object' } },
          },
        },
        packages: {
          type: 'object',
          additionalProperties: { type: 'object', additionalProperties: false, properties: { acl } },
        },
        allowedTenants: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['tenant', 'groups'],
            properties: { tenant: tenantRef, groups: { type: 'array', items: code } },
          },
        },
      },
    },
  },
};

export const groupSchema: SchemaObject = {
  $id: 'tessera/group',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'code', 'name', 'tenant'],
  properties: {
    id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}:[A-Za-z0-9_-]{1,64}$', description: '<tenant id>:<code>' },
    code,
    name: { type: 'string', minLength: 1, maxLength: 100 },
    description: { type: 'string' },
    tenant: tenantRef,
    config: {
      type: 'object',
      additionalProperties: false,
      properties: {
        allowedPackages: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string', minLength: 1 } } },
      },
    },
  },
};

export const signingKeySchema: SchemaObject = {
  $id: 'tessera/signingKey',
  type: 'object',
  additionalProperties: false,
  required: ['kid', 'alg', 'publicJwk', 'privateJwk', 'createdAt'],
  properties: {
    kid: id,
    alg: { enum: ['ES256'] },
    publicJwk: { type: 'object' },
    privateJwk: { type: 'object' },
    createdAt: { type: 'integer', minimum: 0 },
  },
};

export const refreshTokenSchema: SchemaObject = {
  $id: 'tessera/refreshToken',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'userId', 'tenantId', 'iKey', 'expiresAt', 'createdAt'],
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    userId: id,
    tenantId: id,
    iKey: { type: 'string' },
    expiresAt: { type: 'integer', minimum: 0 },
    createdAt: { type: 'integer', minimum: 0 },
  },
};

export const revocationSchema: SchemaObject = {
  $id: 'tessera/revocation',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'expiresAt'],
  properties: {
    id: { type: 'string', pattern: '^(jti|user):[A-Za-z0-9_-]{1,64}$' },
    before: { type: 'integer', minimum: 0 },
    expiresAt: { type: 'integer', minimum: 0 },
  },
};

export const auditSchema: SchemaObject = {
  $id: 'tessera/audit',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'ts', 'actor', 'action', 'resource', 'resourceId', 'before', 'after'],
  properties: {
    id: { type: 'string', pattern: '^[0-9]{13}-[0-9a-f]{8,32}$' },
    ts: { type: 'integer', minimum: 0 },
    actor: {
      type: 'object',
      additionalProperties: false,
      required: ['userId', 'username', 'tenantId', 'tenantCode'],
      properties: { userId: { type: 'string' }, username: { type: 'string' }, tenantId: { type: 'string' }, tenantCode: { type: 'string' } },
    },
    action: { type: 'string', minLength: 1, maxLength: 64 },
    resource: { type: 'string', minLength: 1, maxLength: 64 },
    resourceId: { type: 'string', maxLength: 256 },
    before: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 0 }] },
    after: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 0 }] },
    details: { type: 'object' },
  },
};

export const legacyTokenSchema: SchemaObject = {
  $id: 'tessera/legacyToken',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type', 'userId', 'tenantId', 'env', 'expiresAt'],
  properties: {
    id: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the SOAJS token' },
    type: { enum: ['access', 'refresh'] },
    userId: id,
    tenantId: id,
    env: { type: 'string', minLength: 1 },
    expiresAt: { type: 'integer', minimum: 0 },
  },
};

export const secretSchema: SchemaObject = {
  $id: 'tessera/secret',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'value', 'createdAt'],
  properties: {
    id: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,63}$' },
    value: { type: 'string', pattern: '^[A-Za-z0-9_-]{43,512}$', description: 'base64url, at least 32 bytes' },
    createdAt: { type: 'integer', minimum: 0 },
  },
};


export class ValidationError extends Error {
  override name = 'ValidationError';
  constructor(
    message: string,
    /** Dotted path of the first bad field, e.g. `applications[0].keys[0].key`. */
    readonly field: string,
  ) {
    super(message);
  }
}

/** An Ajv that knows the ACL schemas the document schemas refer to (for schemas built from their parts, too). */
export function registryAjv(options: Options = {}): Ajv {
  const a = newAjv({ allErrors: false, strict: false, ...options, inlineRefs: false });
  a.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
  a.addSchema([methodAclSchema, versionAclSchema, serviceAclSchema, aclSchema, envAclSchema]);
  return a;
}

const ajv = registryAjv();

const validators: { [K in DocKind]: ValidateFunction<DocByKind[K]> } = {
  product: ajv.compile<DocByKind['product']>(productSchema),
  tenant: ajv.compile<DocByKind['tenant']>(tenantSchema),
  service: ajv.compile<DocByKind['service']>(serviceSchema),
  user: ajv.compile<DocByKind['user']>(userSchema),
  group: ajv.compile<DocByKind['group']>(groupSchema),
  signingKey: ajv.compile<DocByKind['signingKey']>(signingKeySchema),
  refreshToken: ajv.compile<DocByKind['refreshToken']>(refreshTokenSchema),
  revocation: ajv.compile<DocByKind['revocation']>(revocationSchema),
  audit: ajv.compile<DocByKind['audit']>(auditSchema),
  legacyToken: ajv.compile<DocByKind['legacyToken']>(legacyTokenSchema),
  secret: ajv.compile<DocByKind['secret']>(secretSchema),
};

/**
 * Dotted field path from an ajv error: `/applications/0/keys` -> `applications[0].keys`. With the
 * validated data, `[n]` is used only for array elements (a version key "1" stays `versions.1`).
 */
export function fieldPath(err: ErrorObject, data?: unknown): string {
  let path = '';
  let node: unknown = data;
  for (const part of err.instancePath.split('/').slice(1)) {
    const seg = part.replace(/~1/g, '/').replace(/~0/g, '~');
    const isIndex = data === undefined ? /^\d+$/.test(seg) : Array.isArray(node);
    path += isIndex ? `[${seg}]` : path ? `.${seg}` : seg;
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[seg] : undefined;
  }
  const extra = (err.params['additionalProperty'] ?? err.params['missingProperty'] ?? err.params['propertyName'] ?? err.propertyName) as
    | string
    | undefined;
  if (extra !== undefined) path += path ? `.${extra}` : extra;
  return path || '(root)';
}

/** The most specific error: ajv reports anyOf failures after the branch errors. */
function describe(errors: ErrorObject[], data: unknown): { field: string; message: string } {
  // A bad property name is reported twice: as the name's own error (with `propertyName`) and as the
  // parent's `propertyNames`; the first names the field.
  const best = errors.find((e) => e.propertyName !== undefined) ?? errors.find((e) => e.keyword !== 'anyOf' && e.keyword !== 'if') ?? errors[0]!;
  let message = best.message ?? 'is invalid';
  if (best.propertyName !== undefined) message = `is not a valid name (${best.message ?? 'invalid'})`;
  if (best.keyword === 'enum') message += `: ${(best.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  if (best.keyword === 'additionalProperties') message = 'is not a known field';
  if (best.keyword === 'propertyName' || best.keyword === 'propertyNames') message = 'is not a valid name';
  return { field: fieldPath(best, data), message };
}

/**
 * Validates a document of `kind`: the JSON Schema first, then what a schema cannot say
 * (ACLs compile, codes agree with their product, no duplicate keys). Throws ValidationError naming
 * the field.
 */
export function validateDocument<K extends DocKind>(kind: K, doc: unknown): DocByKind[K] {
  const validate = validators[kind] as ValidateFunction<DocByKind[K]>;
  if (!validate(doc)) {
    const { field, message } = describe(validate.errors ?? [], doc);
    throw new ValidationError(`${kind}: field "${field}" ${message}`, field);
  }
  if (kind === 'product') checkProduct(doc as DocByKind['product']);
  if (kind === 'tenant') checkTenant(doc as DocByKind['tenant']);
  if (kind === 'user') checkUser(doc as DocByKind['user']);
  if (kind === 'signingKey') {
    try {
      createPublicKey({ key: (doc as DocByKind['signingKey']).publicJwk as JsonWebKey, format: 'jwk' });
    } catch (err) {
      throw new ValidationError(`signingKey: field "publicJwk" is not a usable public key (${(err as Error).message})`, 'publicJwk');
    }
  }
  if (kind === 'group') {
    const g = doc as DocByKind['group'];
    if (g.id !== `${g.tenant.id}:${g.code}`) throw new ValidationError('group: field "id" must be "<tenant.id>:<code>"', 'id');
  }
  return doc;
}

function checkEnvAcl(envAcl: EnvAcl, base: string, kind: DocKind): void {
  for (const [env, acl] of Object.entries(envAcl)) {
    for (const [service, entry] of Object.entries(acl)) {
      try {
        compileServiceAcl(entry);
      } catch (err) {
        const field = `${base}.${env}.${service}`;
        throw new ValidationError(`${kind}: field "${field}" ${(err as Error).message}`, field);
      }
    }
  }
}

function checkUser(u: DocByKind['user']): void {
  for (const [iKey, entry] of Object.entries(u.config?.keys ?? {})) {
    for (const [service, sacl] of Object.entries(entry.acl ?? {})) {
      try {
        compileServiceAcl(sacl);
      } catch (err) {
        const field = `config.keys.${iKey}.acl.${service}`;
        throw new ValidationError(`user: field "${field}" ${(err as Error).message}`, field);
      }
    }
  }
  for (const [pkg, entry] of Object.entries(u.config?.packages ?? {})) {
    for (const [service, sacl] of Object.entries(entry.acl ?? {})) {
      try {
        compileServiceAcl(sacl);
      } catch (err) {
        const field = `config.packages.${pkg}.acl.${service}`;
        throw new ValidationError(`user: field "${field}" ${(err as Error).message}`, field);
      }
    }
  }
}

function checkProduct(p: DocByKind['product']): void {
  const seen = new Set<string>();
  p.packages.forEach((pkg, i) => {
    if (!pkg.code.startsWith(`${p.code}_`)) {
      throw new ValidationError(`product: field "packages[${i}].code" must start with "${p.code}_"`, `packages[${i}].code`);
    }
    if (seen.has(pkg.code)) throw new ValidationError(`product: field "packages[${i}].code" is a duplicate`, `packages[${i}].code`);
    seen.add(pkg.code);
    checkEnvAcl(pkg.acl, `packages[${i}].acl`, 'product');
  });
}

function checkTenant(t: DocByKind['tenant']): void {
  const keys = new Set<string>();
  const hashes = new Set<string>();
  t.applications.forEach((app, i) => {
    if (!app.package.startsWith(`${app.product}_`)) {
      const field = `applications[${i}].package`;
      throw new ValidationError(`tenant: field "${field}" must be a package of product "${app.product}"`, field);
    }
    if (app.acl) checkEnvAcl(app.acl, `applications[${i}].acl`, 'tenant');
    app.keys.forEach((k, j) => {
      if (keys.has(k.key)) {
        const field = `applications[${i}].keys[${j}].key`;
        throw new ValidationError(`tenant: field "${field}" is a duplicate`, field);
      }
      keys.add(k.key);
      k.extKeys.forEach((e, n) => {
        for (const side of ['allow', 'deny'] as const) {
          try {
            compileCidrs(e.geo?.[side]);
          } catch (err) {
            const field = `applications[${i}].keys[${j}].extKeys[${n}].geo.${side}`;
            throw new ValidationError(`tenant: field "${field}" ${(err as Error).message}`, field);
          }
        }
        if (hashes.has(e.keyHash)) {
          const field = `applications[${i}].keys[${j}].extKeys[${n}].keyHash`;
          throw new ValidationError(`tenant: field "${field}" is a duplicate`, field);
        }
        hashes.add(e.keyHash);
      });
    });
  });
}
