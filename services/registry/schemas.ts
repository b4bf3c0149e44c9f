import { type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv';
import { fieldPath, productSchema, registryAjv, serviceSchema, tenantSchema } from '../../registry/control/schema.js';
import type { CidrRules, DeviceRules, EnvAcl, Package, Product, Service, Tenant } from '../../registry/view/types.js';
import { errors } from './errors.js';

/**
 * Request body shapes of the registry service, built from the registry's document schemas so the
 * two cannot drift: what a body may say about a field is what the stored document may hold.
 * Unknown fields are refused. The final document is validated again with `validateDocument`.
 */

type Props = Record<string, SchemaObject>;
const propsOf = (s: SchemaObject): Props => s['properties'] as Props;

const productProps = propsOf(productSchema);
const packageProps = propsOf(productProps['packages']!['items'] as SchemaObject);
const tenantProps = propsOf(tenantSchema);
const appProps = propsOf(tenantProps['applications']!['items'] as SchemaObject);
const keyProps = propsOf(appProps['keys']!['items'] as SchemaObject);
const extKeyProps = propsOf(keyProps['extKeys']!['items'] as SchemaObject);
const serviceProps = propsOf(serviceSchema);
const activationProps = propsOf(tenantProps['activations']!['additionalProperties'] as SchemaObject);

function pick(props: Props, names: readonly string[]): Props {
  return Object.fromEntries(names.map((n) => [n, props[n]!]));
}

function object(properties: Props, required: readonly string[]): SchemaObject {
  return { type: 'object', additionalProperties: false, required: [...required], properties };
}

const PRODUCT_FIELDS = ['code', 'name', 'description', 'packages'] as const;
const PACKAGE_FIELDS = ['code', 'name', 'description', 'acl'] as const;
/** Tenant fields written through /tenants; applications have their own routes. */
export const TENANT_FIELDS = ['id', 'code', 'name', 'description', 'type', 'main', 'locked', 'profile', 'oauth'] as const;
const APPLICATION_FIELDS = ['product', 'package', 'description', 'acl'] as const;
const SERVICE_FIELDS = ['name', 'group', 'port', 'maintenancePort', 'requestTimeout', 'maxBodyBytes', 'provisioning', 'versions', 'hosts'] as const;

/** `{<env>: {commonFields?, <service>: {...}}}` */
const keyConfig: SchemaObject = { ...keyProps['config']!, propertyNames: { pattern: '^[A-Za-z][A-Za-z0-9_-]*$' } };

export type ProductBody = Omit<Product, 'code' | 'packages'> & { code?: string; packages?: Package[] };
export type PackageBody = Omit<Package, 'code'> & { code?: string };
export type TenantBody = Omit<Tenant, 'id' | 'code' | 'applications'> & { id?: string; code?: string };
export interface ApplicationBody {
  product: string;
  package: string;
  description?: string;
  acl?: EnvAcl;
}
export type ServiceBody = Omit<Service, 'name'> & { name?: string };
export interface KeyBody {
  config?: Record<string, Record<string, unknown>>;
}
export type KeyConfigBody = Record<string, Record<string, unknown>>;
export interface ExtKeyBody {
  /** `soajs`: the key is built in SOAJS's encrypted format (for clients that parse their keys). */
  format?: 'tessera' | 'soajs';
  env?: string;
  expDate?: number | string | null;
  geo?: CidrRules | null;
  device?: DeviceRules | null;
  label?: string;
}
export interface RotateBody {
  overlapSeconds?: number;
  expDate?: number | string | null;
}

const ajv = registryAjv();

const c = <T>(schema: SchemaObject): ValidateFunction<T> => ajv.compile<T>(schema);

export const bodies = {
  productCreate: c<ProductBody & { code: string }>(object(pick(productProps, PRODUCT_FIELDS), ['code', 'name'])),
  productReplace: c<ProductBody>(object(pick(productProps, PRODUCT_FIELDS), ['name', 'packages'])),
  packageCreate: c<PackageBody & { code: string }>(object(pick(packageProps, PACKAGE_FIELDS), ['code', 'name', 'acl'])),
  packageReplace: c<PackageBody>(object(pick(packageProps, PACKAGE_FIELDS), ['name', 'acl'])),
  tenantCreate: c<TenantBody & { code: string }>(object(pick(tenantProps, TENANT_FIELDS), ['code', 'name', 'type'])),
  tenantReplace: c<TenantBody>(object(pick(tenantProps, TENANT_FIELDS), ['name', 'type'])),
  application: c<ApplicationBody>(object(pick(appProps, APPLICATION_FIELDS), ['product', 'package'])),
  serviceCreate: c<ServiceBody & { name: string }>(object(pick(serviceProps, SERVICE_FIELDS), ['name', 'port', 'versions'])),
  serviceReplace: c<ServiceBody>(object(pick(serviceProps, SERVICE_FIELDS), ['port', 'versions'])),
  key: c<KeyBody>(object({ config: keyConfig }, [])),
  keyConfig: c<KeyConfigBody>(keyConfig),
  extKey: c<ExtKeyBody>(
    object(
      {
        ...pick(extKeyProps, ['env', 'expDate', 'geo', 'device']),
        label: { type: 'string', maxLength: 200 },
        format: { enum: ['tessera', 'soajs'] },
      },
      [],
    ),
  ),
  activation: c<{ service: string }>(object({ service: serviceProps['name']! }, ['service'])),
  provisioning: c<{ status: 'finished' | 'failed'; message?: string }>(
    object({ status: { enum: ['finished', 'failed'] }, message: activationProps['message']! }, ['status']),
  ),
  rotate: c<RotateBody>(
    object({ overlapSeconds: { type: 'integer', minimum: 0, maximum: 366 * 86400 }, expDate: extKeyProps['expDate']! }, []),
  ),
} as const;

/** `body field "name" is required`, `body field "packages[0].acl.dev" is not a valid name`. */
function describe(err: ErrorObject, body: unknown): string {
  const field = fieldPath(err, body);
  let message = err.message ?? 'is invalid';
  if (err.keyword === 'required') message = 'is required';
  else if (err.keyword === 'additionalProperties') message = 'is not a known field';
  else if (err.keyword === 'enum') message += `: ${(err.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  else if (err.propertyName !== undefined || err.keyword === 'propertyNames') message = 'is not a valid name';
  return field === '(root)' ? `body ${message}` : `body field "${field}" ${message}`;
}

/** The most specific error: ajv reports an anyOf after its branches' errors. */
function best(errs: readonly ErrorObject[]): ErrorObject {
  return errs.find((e) => e.propertyName !== undefined) ?? errs.find((e) => e.keyword !== 'anyOf') ?? errs[0]!;
}

/** The body as `T`, or a 400 naming the first bad field. */
export function checkBody<T>(validate: ValidateFunction<T>, body: unknown): T {
  if (!validate(body)) throw errors.badRequest(describe(best(validate.errors ?? []), body));
  return body;
}

/** A field that identifies the document may be repeated in the body, but must not differ from the URL's. */
export function sameId(field: string, inBody: string | undefined, expected: string): void {
  if (inBody !== undefined && inBody !== expected) {
    throw errors.badRequest(`body field "${field}" cannot be changed (it is "${expected}")`);
  }
}
