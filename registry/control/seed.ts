import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { hashExtKey, isWellFormedExtKey, keyHint } from '../view/keys.js';
import { hashPasswordSync } from './password.js';
import { validateDocument, ValidationError } from './schema.js';
import type { DocByKind, DocKind } from '../view/types.js';

/** The declarative form: any YAML file in the seed directory may hold any of these lists. */
const SECTIONS: Readonly<Record<string, DocKind>> = {
  products: 'product',
  tenants: 'tenant',
  services: 'service',
  users: 'user',
  groups: 'group',
};

export interface SeedDoc<K extends DocKind = DocKind> {
  readonly kind: K;
  readonly doc: DocByKind[K];
  /** `file.yaml: tenants[2]`, for error messages. */
  readonly origin: string;
}

export class SeedError extends Error {
  override name = 'SeedError';
}

/**
 * Seed tenants may list plaintext `extKey`s (demo data, SOAJS exports). They are hashed here, before
 * validation, so the plaintext never reaches the store.
 */
function hashPlainKeys(tenant: unknown): unknown {
  if (typeof tenant !== 'object' || tenant === null) return tenant;
  const apps = (tenant as { applications?: unknown }).applications;
  if (!Array.isArray(apps)) return tenant;
  for (const app of apps) {
    const keys = (app as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys)) continue;
    for (const k of keys) {
      const ext = (k as { extKeys?: unknown } | null)?.extKeys;
      if (!Array.isArray(ext)) continue;
      for (const e of ext as Record<string, unknown>[]) {
        if (typeof e?.['extKey'] !== 'string') continue;
        const plain = e['extKey'];
        if (!isWellFormedExtKey(plain)) throw new Error('extKey must be lower-case hex, 32 to 1024 characters');
        delete e['extKey'];
        e['keyHash'] = hashExtKey(plain);
        e['hint'] ??= keyHint(plain);
      }
    }
  }
  return tenant;
}

/** Seed users may give a plaintext `password`; it is hashed here and never stored. */
function hashPlainPassword(user: unknown): unknown {
  if (typeof user !== 'object' || user === null) return user;
  const u = user as Record<string, unknown>;
  if (typeof u['password'] === 'string') {
    u['passwordHash'] = hashPasswordSync(u['password']);
    delete u['password'];
  }
  return u;
}

/** Reads and validates every `*.yaml`/`*.yml` in `dir`, in name order. */
export function readSeed(dir: string): SeedDoc[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch (err) {
    throw new SeedError(`seed: cannot read directory ${dir}: ${(err as Error).message}`);
  }
  const out: SeedDoc[] = [];
  for (const file of files) {
    const path = join(dir, file);
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new SeedError(`seed: ${path}: ${(err as Error).message}`);
    }
    if (parsed === null || parsed === undefined) continue;
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new SeedError(`seed: ${path} must hold a mapping`);
    for (const [section, list] of Object.entries(parsed as Record<string, unknown>)) {
      const kind = SECTIONS[section];
      if (!kind) continue; // `x-…` sections hold YAML anchors
      if (!Array.isArray(list)) throw new SeedError(`seed: ${path}: "${section}" must be a list`);
      list.forEach((item: unknown, i) => {
        const origin = `${file}: ${section}[${i}]`;
        try {
          const doc = validateDocument(
            kind,
            kind === 'tenant' ? hashPlainKeys(item) : kind === 'user' ? hashPlainPassword(item) : item,
          );
          out.push({ kind, doc, origin });
        } catch (err) {
          const msg = err instanceof ValidationError ? err.message : (err as Error).message;
          throw new SeedError(`seed: ${origin}: ${msg}`);
        }
      });
    }
  }
  return out;
}
