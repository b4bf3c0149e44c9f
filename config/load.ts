import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { configSchema, ENV_VARS, type Config } from './schema.js';
import { newAjv } from './ajv.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadOptions {
  /** YAML file; when absent, `TESSERA_CONFIG` names one, else only defaults and env apply. */
  file?: string | undefined;
  env?: Readonly<Record<string, string | undefined>>;
  /** Applied last (tests, CLI flags). */
  overrides?: Readonly<Record<string, unknown>>;
}

const ajv = newAjv({ useDefaults: true, coerceTypes: true, allErrors: true, allowUnionTypes: true });
const validate = ajv.compile<Config>(configSchema);

/** Reads YAML + `TESSERA_*` + overrides, validates against the one schema, deep-freezes. */
export function loadConfig(opts: LoadOptions = {}): Readonly<Config> {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env['TESSERA_CONFIG'];
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`config: cannot read ${file}: ${(err as Error).message}`);
    }
    const parsed: unknown = parseYaml(text);
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config: ${file} must hold a mapping`);
      raw = parsed as Record<string, unknown>;
    }
  }
  for (const [name, path] of Object.entries(ENV_VARS)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setPath(raw, path, path === 'gateway.trustedProxies' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value);
  }
  for (const [path, value] of Object.entries(opts.overrides ?? {})) setPath(raw, path, value);

  const candidate = structuredClone(raw);
  if (!validate(candidate)) {
    const first = validate.errors?.[0];
    const where = first ? fieldName(first.instancePath, first.params) : '(root)';
    const envName = Object.entries(ENV_VARS).find(([, p]) => p === where)?.[0];
    const allowed = first?.params['allowedValues'];
    const choices = Array.isArray(allowed) ? `: ${allowed.map(String).join(', ')}` : '';
    throw new ConfigError(
      `config: field "${where}" ${first?.message ?? 'is invalid'}${choices}${envName ? ` (env ${envName})` : ''}`,
    );
  }
  return deepFreeze(candidate);
}

function fieldName(instancePath: string, params: Record<string, unknown>): string {
  const base = instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.');
  const extra = (params['additionalProperty'] ?? params['missingProperty']) as string | undefined;
  return extra ? (base ? `${base}.${extra}` : extra) : base || '(root)';
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

export function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
