/**
 * Registry documents as stored. The JSON Schemas in `schema.ts` are the source of truth; these
 * types describe what passes them.
 */

/** `false`/absent: public; `true`: any logged-in user; list: a user in one of these groups. */
export type Access = boolean | string[];

export interface ApiAcl {
  access?: Access;
  group?: string;
}

export interface ApiRegExpAcl {
  regExp: string;
  access?: Access;
}

export interface MethodAcl {
  apis?: Record<string, ApiAcl>;
  apisRegExp?: ApiRegExpAcl[];
  apisPermission?: 'restricted';
}

export const ACL_METHODS = ['get', 'post', 'put', 'delete', 'patch', 'head', 'options', 'other'] as const;
export type AclMethod = (typeof ACL_METHODS)[number];

export interface VersionAcl extends MethodAcl, Partial<Record<AclMethod, MethodAcl>> {
  access?: Access;
}

/** Either `{"<version>": VersionAcl}` or, in the legacy form, a VersionAcl that applies to every version. */
export type ServiceAcl = VersionAcl | Record<string, VersionAcl>;

/** `{<serviceName>: ServiceAcl}` */
export type Acl = Record<string, ServiceAcl>;

/** `{<env>: Acl}` */
export type EnvAcl = Record<string, Acl>;

/** What a rate limit counts: ip counts per tenant and client address (SOAJS's throttling type 1). */
export type RateLimitBy = 'tenant' | 'application' | 'key' | 'user' | 'ip';

export interface RateLimitRule {
  by: RateLimitBy;
  limit: number;
  windowSeconds: number;
  /** Only requests to this service count (and are limited). */
  service?: string;
  /** The policy's name in the RateLimit headers; default `<by>`. */
  name?: string;
}

export interface Package {
  code: string;
  name: string;
  description?: string;
  acl: EnvAcl;
  /** The tier's limits; an application's or a key's own replace them. */
  rateLimits?: RateLimitRule[];
}

export interface Product {
  code: string;
  name: string;
  description?: string;
  packages: Package[];
}

export interface CidrRules {
  allow?: string[];
  deny?: string[];
}

export type VersionBound = string | { min?: string; max?: string };

export interface DeviceRule {
  family?: string;
  os?: { family?: string; major?: VersionBound; minor?: VersionBound; patch?: VersionBound };
  major?: VersionBound;
  minor?: VersionBound;
  patch?: VersionBound;
}

export interface DeviceRules {
  allow?: DeviceRule[];
  deny?: DeviceRule[];
}

export interface ExtKey {
  /** SHA-256 (hex) of the ext key; the key itself is never stored. */
  keyHash: string;
  /** Last characters of the key, to tell keys apart in listings. */
  hint?: string;
  env: string;
  /** ms since epoch, ISO date, or null for never. */
  expDate?: number | string | null;
  geo?: CidrRules | null;
  device?: DeviceRules | null;
  label?: string;
}

export interface AppKey {
  /** Internal key, 32 hex. */
  key: string;
  rateLimits?: RateLimitRule[];
  /** `{<env>: {commonFields?, <service>: {...}}}` */
  config?: Record<string, Record<string, unknown>>;
  extKeys: ExtKey[];
}

export interface Application {
  appId: string;
  product: string;
  package: string;
  description?: string;
  /** Application-level ACL override, `{<env>: Acl}`. */
  acl?: EnvAcl;
  rateLimits?: RateLimitRule[];
  keys: AppKey[];
}

export interface TenantOauth {
  secret?: string;
  disabled?: boolean;
  loginMode?: 'urac' | 'oauth';
}

export interface Tenant {
  id: string;
  code: string;
  name: string;
  description?: string;
  type: 'product' | 'client';
  /** Main tenant of a `client` sub-tenant. */
  main?: { id: string; code: string };
  locked?: boolean;
  profile?: Record<string, unknown>;
  oauth?: TenantOauth;
  applications: Application[];
  /** Services activated in this tenant, by name (issue 17). */
  activations?: Record<string, Activation>;
}

export interface ServiceVersion {
  extKeyRequired: boolean;
  oauth?: boolean;
  urac?: boolean;
  urac_Profile?: boolean;
  urac_ACL?: boolean;
  urac_Config?: boolean;
  urac_GroupConfig?: boolean;
  tenant_Profile?: boolean;
  provision_ACL?: boolean;
}

export interface Service {
  name: string;
  group?: string;
  port: number;
  /** Defaults to port + 1000. */
  maintenancePort?: number;
  /** Seconds without response headers/body data before 134. */
  requestTimeout?: number;
  /** Largest request body, bytes: more is 413 (code 188). Absent: `gateway.maxBodyBytes`. */
  maxBodyBytes?: number;
  versions: Record<string, ServiceVersion>;
  /** Static hosts per version, `host` or `host:port`. Running services also register themselves. */
  hosts?: Record<string, string[]>;
  /** `external`: an activation stays pending until the service reports it provisioned the tenant. Default `none`. */
  provisioning?: 'external' | 'none';
}

export interface TenantRef {
  id: string;
  code: string;
}

/** `config.keys[<internal key>]` and `config.packages[<package>]` of a user (SOAJS URAC). */
export interface UserConfig {
  keys?: Record<string, { acl?: Acl; config?: Record<string, unknown> }>;
  packages?: Record<string, { acl?: Acl }>;
  /** Membership in other tenants; the entry's groups apply there. */
  allowedTenants?: { tenant: TenantRef; groups: string[] }[];
}

export interface User {
  id: string;
  username: string;
  /** `scrypt$N$r$p$<salt b64>$<hash b64>` (registry/password.ts); `$2a$…` bcrypt when imported from SOAJS (re-hashed at the next login). */
  passwordHash: string;
  firstName: string;
  lastName: string;
  email: string;
  status: 'active' | 'inactive' | 'pending';
  groups: string[];
  /** Home tenant. */
  tenant: TenantRef;
  profile?: Record<string, unknown>;
  config?: UserConfig;
  /** ms epoch */
  ts?: number;
}

export interface Group {
  /** `<tenant id>:<code>` */
  id: string;
  code: string;
  name: string;
  description?: string;
  tenant: TenantRef;
  config?: { allowedPackages?: Record<string, string[]> };
}

/** An access-token signing key (oauth). The private half never leaves the oauth service's reads. */
export interface SigningKey {
  kid: string;
  alg: 'ES256';
  publicJwk: Record<string, unknown>;
  privateJwk: Record<string, unknown>;
  createdAt: number;
}

/** A refresh token, stored by the SHA-256 of its value: opaque, single use. */
export interface RefreshToken {
  /** SHA-256 hex of the token. */
  id: string;
  userId: string;
  tenantId: string;
  /** Internal key of the login, for audit. */
  iKey: string;
  expiresAt: number;
  createdAt: number;
}

/**
 * A revoked access token (`jti:<id>`) or every token of a user issued before `before`
 * (`user:<id>`). Kept until the last token it covers would have expired.
 */
export interface Revocation {
  id: string;
  before?: number;
  expiresAt: number;
}

/** One change made through an API: who, when, what, and the versions before and after. Never secrets. */
export interface AuditEntry {
  /** Time-sortable: `<ms epoch, 13 digits>-<random hex>`. */
  id: string;
  ts: number;
  actor: { userId: string; username: string; tenantId: string; tenantCode: string };
  action: string;
  resource: string;
  resourceId: string;
  /** Document versions; null where the document did not exist. */
  before: number | null;
  after: number | null;
  details?: Record<string, unknown>;
}

/**
 * A token issued by SOAJS before the move (40 hex, opaque), kept by its SHA-256 so SOAJS clients
 * stay logged in until it expires.
 */
export interface LegacyToken {
  id: string;
  type: 'access' | 'refresh';
  userId: string;
  tenantId: string;
  env: string;
  expiresAt: number;
}

/**
 * A deployment secret every process of one registry shares (e.g. the key that signs
 * `soajsinjectobj`): created once with compare-and-set, never sent in any answer.
 */
export interface Secret {
  id: string;
  /** base64url, at least 32 bytes of randomness. */
  value: string;
  createdAt: number;
}

/**
 * A service's activation in a tenant (issue 17): `pending` until a service with external
 * provisioning reports, then `active` or `failed`; `inactive` once deactivated. A tenant whose
 * package grants a service and that has no activation document for it counts as active.
 */
export type ActivationState = 'pending' | 'active' | 'failed' | 'inactive';

/** Kept in the tenant document (`activations[service]`): read with the tenant's key, no extra lookup. */
export interface Activation {
  state: ActivationState;
  /** What the service said with `failed` (or `finished`). */
  message?: string;
  createdAt: number;
  updatedAt: number;
}

export type DocKind =
  | 'product'
  | 'tenant'
  | 'service'
  | 'user'
  | 'group'
  | 'signingKey'
  | 'refreshToken'
  | 'revocation'
  | 'audit'
  | 'legacyToken'
  | 'secret';

export interface DocByKind {
  product: Product;
  tenant: Tenant;
  service: Service;
  user: User;
  group: Group;
  signingKey: SigningKey;
  refreshToken: RefreshToken;
  revocation: Revocation;
  audit: AuditEntry;
  legacyToken: LegacyToken;
  secret: Secret;
}

export const DOC_KINDS: readonly DocKind[] = [
  'product',
  'tenant',
  'service',
  'user',
  'group',
  'signingKey',
  'refreshToken',
  'revocation',
  'audit',
  'legacyToken',
  'secret',
];

/** A host a running service registered for itself (not persisted: it re-registers on start). */
export interface HostRegistration {
  service: string;
  version: string;
  host: string;
  port: number;
  maintenancePort?: number;
  /** ms epoch; a host that stops renewing its registration (heartbeat) leaves the routing table. */
  expiresAt?: number;
}
