import { statSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { docLabel, readSoajsExport, type ImportedDoc } from '../registry/control/import-soajs.js';
import { openStore } from '../registry/control/store/open.js';
import { docId, type Store } from '../registry/control/store/types.js';
import type { DocByKind, DocKind, User } from '../registry/view/types.js';

export interface ImportIo {
  /** Where the plan and counts go; default stdout. */
  out?: (text: string) => void;
  /** Environment variables for the configuration; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

const USAGE = 'tessera import soajs <dir> [--env ENV] [--dry-run] [--config FILE]';

/** Dotted paths of the fields that differ (`applications[0].keys[0].extKeys[1].expDate`). */
export function changedFields(before: unknown, after: unknown, path = ''): string[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const here = path || '(root)';
  if (Array.isArray(before) && Array.isArray(after)) {
    if (before.length !== after.length) return [`${here} (${before.length} -> ${after.length} items)`];
    return before.flatMap((b, i) => changedFields(b, after[i], `${path}[${i}]`));
  }
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObj(before) || !isObj(after)) return [here];
  const out: string[] = [];
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    out.push(...changedFields(before[k], after[k], path ? `${path}.${k}` : k));
  }
  return out;
}

type Action =
  | { op: 'create'; item: ImportedDoc }
  | { op: 'update'; item: ImportedDoc; version: number; fields: string[] }
  | { op: 'unchanged'; item: ImportedDoc }
  | { op: 'conflict'; item: ImportedDoc; reason: string };

const isBcrypt = (h: string) => /^\$2[abxy]\$/.test(h);

async function plan(store: Store, item: ImportedDoc): Promise<Action> {
  const id = docId(item.kind, item.doc as DocByKind[DocKind]);
  if (item.kind === 'user') {
    const other = await store.findUserByUsername(item.doc.username);
    if (other !== null && other.doc.id !== item.doc.id) {
      return { op: 'conflict', item, reason: `username "${item.doc.username}" belongs to user ${other.doc.id}` };
    }
  }
  if (item.kind === 'tenant') {
    for (const app of item.doc.applications) {
      for (const k of app.keys) {
        for (const e of k.extKeys) {
          const holder = await store.findTenantByKeyHash(e.keyHash);
          if (holder !== null && holder.doc.id !== item.doc.id) {
            return { op: 'conflict', item, reason: `ext key …${e.hint ?? ''} is held by tenant ${holder.doc.code} (${holder.doc.id})` };
          }
        }
      }
    }
  }
  const current = await store.get(item.kind, id);
  if (current === null) return { op: 'create', item };
  let next = item;
  if (item.kind === 'user') {
    // A password set (or re-hashed at login) in Tessera is newer than the SOAJS bcrypt hash: keep it.
    const stored = (current.doc as User).passwordHash;
    if (!isBcrypt(stored)) next = { ...item, doc: { ...item.doc, passwordHash: stored } };
  }
  const fields = changedFields(current.doc, next.doc);
  return fields.length === 0 ? { op: 'unchanged', item: next } : { op: 'update', item: next, version: current.version, fields };
}

function describe(a: Action, dryRun: boolean): string {
  const label = docLabel(a.item);
  const would = dryRun ? 'would ' : '';
  switch (a.op) {
    case 'create':
      return `  ${would}create ${label}  [${a.item.origin}]`;
    case 'update': {
      const shown = a.fields.slice(0, 8).join(', ');
      const more = a.fields.length > 8 ? `, … ${a.fields.length - 8} more` : '';
      return `  ${would}update ${label}: ${shown}${more}  [${a.item.origin}]`;
    }
    case 'unchanged':
      return `  unchanged ${label}`;
    case 'conflict':
      return `  conflict ${label}: ${a.reason} — not written  [${a.item.origin}]`;
  }
}

/**
 * `tessera import soajs <dir> [--env ENV] [--dry-run] [--config FILE]`: converts a SOAJS export
 * (registry/control/import-soajs.ts), prints what each document would do to the store (create, update with
 * the changed fields, unchanged), then writes it unless --dry-run. Every write is versioned against
 * what was read. Rejects (message starting `import:`) on bad usage, a missing directory or
 * environment, and when any document could not be written.
 */
export async function importCommand(args: string[], io: ImportIo = {}): Promise<void> {
  const out = io.out ?? ((text: string) => void process.stdout.write(text));
  const [source, ...rest] = args;
  if (source !== 'soajs') {
    throw new Error(source === undefined ? `import: name the source: ${USAGE}` : `import: unknown source "${source}" (only soajs): ${USAGE}`);
  }
  let dir: string | undefined;
  let env: string | undefined;
  let configFile: string | undefined;
  let dryRun = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--dry-run') dryRun = true;
    else if (a === '--env' || a === '--config') {
      const v = rest[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`import: ${a} needs a value`);
      if (a === '--env') env = v;
      else configFile = v;
    } else if (a.startsWith('--')) throw new Error(`import: unknown option ${a}: ${USAGE}`);
    else if (dir === undefined) dir = a;
    else throw new Error(`import: one directory at a time (got ${dir} and ${a})`);
  }
  if (dir === undefined) throw new Error(`import: name the export directory: ${USAGE}`);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new Error(`import: ${dir} is not a directory (expected a SOAJS export: environment/, products/, tenants/, …)`);

  const config = loadConfig({ file: configFile, ...(io.env ? { env: io.env } : {}) });
  const importEnv = (env ?? config.env).toLowerCase();
  const { docs, report } = readSoajsExport(dir, { env: importEnv });

  const store = openStore(config);
  await store.open();
  try {
    const lines = [`${dryRun ? 'plan (dry run, nothing is written)' : 'plan'}: import SOAJS export ${dir} (env ${importEnv}) into ${config.store}`];
    const actions: Action[] = [];
    for (const item of docs) {
      const a = await plan(store, item);
      actions.push(a);
      lines.push(describe(a, dryRun));
    }
    if (report.warnings.length) {
      lines.push(`warnings (${report.warnings.length}):`);
      for (const w of report.warnings) lines.push(`  ${w}`);
    }
    out(`${lines.join('\n')}\n`);

    const tally = { create: 0, update: 0, unchanged: 0, conflict: 0, failed: 0 };
    for (const a of actions) {
      if (a.op === 'unchanged' || a.op === 'conflict' || dryRun) {
        tally[a.op]++;
        continue;
      }
      try {
        await store.put(a.item.kind, a.item.doc as DocByKind[DocKind], { ifVersion: a.op === 'create' ? 0 : a.version });
        tally[a.op]++;
      } catch (err) {
        tally.failed++;
        out(`  failed ${docLabel(a.item)}: ${(err as Error).message}\n`);
      }
    }
    const skipped = report.skipped ? `, ${report.skipped} source record(s) skipped (see warnings)` : '';
    out(
      dryRun
        ? `dry run: would create ${tally.create}, update ${tally.update}; unchanged ${tally.unchanged}, conflicts ${tally.conflict}${skipped}\n`
        : `imported: created ${tally.create}, updated ${tally.update}, unchanged ${tally.unchanged}, conflicts ${tally.conflict}, failed ${tally.failed}${skipped}\n`,
    );
    const bad = tally.conflict + tally.failed;
    if (bad > 0) throw new Error(`import: ${bad} document(s) ${dryRun ? 'would not be written' : 'were not written'} (see the conflicts/failures above)`);
  } finally {
    await store.close();
  }
}
