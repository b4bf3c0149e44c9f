import { type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv';
import { fieldPath, registryAjv, userSchema } from '../../registry/control/schema.js';
import type { UserConfig } from '../../registry/view/types.js';
import { errors } from '../kit/errors.js';

/** Request body schemas of the urac service, compiled once at load. Unknown fields are refused. */

const USERNAME = '^[A-Za-z0-9_.@+-]{3,64}$';
const CODE = '^[A-Za-z0-9_-]{1,64}$';
/** 24 hex for users created here; seeded users may carry any registry id. */
const ID = '^[A-Za-z0-9_-]{1,64}$';

const username = { type: 'string', pattern: USERNAME };
const password = { type: 'string', minLength: 6, maxLength: 1024 };
const name = { type: 'string', minLength: 1, maxLength: 100 };
const email = { type: 'string', maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' };
const status = { enum: ['active', 'inactive', 'pending'] };
const groups = { type: 'array', maxItems: 1000, uniqueItems: true, items: { type: 'string', pattern: CODE } };
const profile = { type: 'object' };

/**
 * What an admin may set in a user's `config`: per-key and per-package settings. Membership in
 * other tenants (`allowedTenants`) is granted only by the other tenant, through invite.
 */
const storedConfig = (userSchema['properties'] as Record<string, SchemaObject>)['config']!['properties'] as Record<string, SchemaObject>;
const userConfig = {
  type: 'object',
  additionalProperties: false,
  properties: { keys: storedConfig['keys']!, packages: storedConfig['packages']! },
};

const allowedPackages = {
  type: 'object',
  propertyNames: { pattern: CODE },
  additionalProperties: { type: 'array', uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 128 } },
};
const groupConfig = { type: 'object', additionalProperties: false, properties: { allowedPackages } };

export interface JoinBody {
  username: string;
  password: string;
  firstName: string;
  lastName: string;
  email: string;
}

export interface PasswordBody {
  oldPassword: string;
  password: string;
  confirmation: string;
}

export type AdminUserConfig = Pick<UserConfig, 'keys' | 'packages'>;

export interface AddUserBody extends JoinBody {
  groups?: string[];
  status?: 'active' | 'inactive' | 'pending';
  profile?: Record<string, unknown>;
  config?: AdminUserConfig;
}

export interface EditUserBody {
  firstName?: string;
  lastName?: string;
  email?: string;
  status?: 'active' | 'inactive' | 'pending';
  profile?: Record<string, unknown>;
  config?: AdminUserConfig;
  groups?: string[];
}

export interface UserGroupsBody {
  id: string;
  groups: string[];
}

export interface InviteBody {
  id?: string;
  username?: string;
  groups: string[];
}

export interface AddGroupBody {
  code: string;
  name: string;
  description?: string;
  config?: { allowedPackages?: Record<string, string[]> };
}

export type EditGroupBody = Partial<Omit<AddGroupBody, 'code'>>;

const ajv = registryAjv({ strict: true });

function compile<T>(properties: Record<string, unknown>, required: string[], extra: Record<string, unknown> = {}): ValidateFunction<T> {
  return ajv.compile<T>({ type: 'object', additionalProperties: false, required, properties, ...extra });
}

export const bodies = {
  join: compile<JoinBody>({ username, password, firstName: name, lastName: name, email }, [
    'username',
    'password',
    'firstName',
    'lastName',
    'email',
  ]),
  password: compile<PasswordBody>({ oldPassword: { type: 'string', maxLength: 1024 }, password, confirmation: { type: 'string' } }, [
    'oldPassword',
    'password',
    'confirmation',
  ]),
  addUser: compile<AddUserBody>(
    { username, password, firstName: name, lastName: name, email, groups, status, profile, config: userConfig },
    ['username', 'password', 'firstName', 'lastName', 'email'],
  ),
  editUser: compile<EditUserBody>(
    { firstName: name, lastName: name, email, status, profile, config: userConfig, groups },
    [],
    { minProperties: 1 },
  ),
  userGroups: compile<UserGroupsBody>({ id: { type: 'string', pattern: ID }, groups }, ['id', 'groups']),
  invite: compile<InviteBody>({ id: { type: 'string', pattern: ID }, username, groups }, ['groups']),
  addGroup: compile<AddGroupBody>(
    { code: { type: 'string', pattern: CODE }, name, description: { type: 'string', maxLength: 1000 }, config: groupConfig },
    ['code', 'name'],
  ),
  editGroup: compile<EditGroupBody>(
    { name, description: { type: 'string', maxLength: 1000 }, config: groupConfig },
    [],
    { minProperties: 1 },
  ),
} as const;

/** `body field "email" must match pattern "…"`, `body field "username" is required`. */
function describe(where: 'body' | 'query', err: ErrorObject): string {
  const field = fieldPath(err);
  let message = err.message ?? 'is invalid';
  if (err.keyword === 'required') message = 'is required';
  else if (err.keyword === 'additionalProperties') message = 'is not a known field';
  else if (err.keyword === 'enum') message += `: ${(err.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  else if (err.keyword === 'minProperties') return `${where} must contain at least one field`;
  return field === '(root)' ? `${where} ${message}` : `${where} field "${field}" ${message}`;
}

/** The body as `T`, or a 400 (code 400) naming the first bad field. */
export function checkBody<T>(validate: ValidateFunction<T>, body: unknown): T {
  if (!validate(body)) throw errors.badRequest(describe('body', validate.errors![0]!));
  return body;
}

/** A required query parameter matching `pattern`. */
export function queryField(query: URLSearchParams, field: string, pattern: RegExp): string {
  const v = query.get(field);
  if (v === null || v === '') throw errors.badRequest(`query field "${field}" is required`);
  if (!pattern.test(v)) throw errors.badRequest(`query field "${field}" must match pattern "${pattern.source}"`);
  return v;
}

/** An optional integer query parameter in [min, max]. */
export function queryInt(query: URLSearchParams, field: string, fallback: number, min: number, max: number): number {
  const v = query.get(field);
  if (v === null || v === '') return fallback;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw errors.badRequest(`query field "${field}" must be an integer from ${min} to ${max}`);
  }
  return Number(v);
}

export const patterns = {
  username: new RegExp(USERNAME),
  code: new RegExp(CODE),
  id: new RegExp(ID),
} as const;
