import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { parseManifest, registerManifest } from '../registry/control/manifest.js';
import { openStore } from '../registry/control/store/open.js';

/**
 * `tessera register <manifest.yaml> [--grant PACKAGE=Group,Group]… [--dry-run] [--config FILE]`:
 * prints what changes, then writes it (unless --dry-run).
 */
export async function registerCommand(args: string[]): Promise<void> {
  let file: string | undefined;
  let configFile: string | undefined;
  let dryRun = false;
  const grants: Record<string, string[]> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--dry-run') dryRun = true;
    else if (a === '--config') configFile = args[++i];
    else if (a === '--grant') {
      const spec = args[++i] ?? '';
      const eq = spec.indexOf('=');
      if (eq < 1) throw new Error(`register: --grant takes PACKAGE=Group[,Group…], not "${spec}"`);
      grants[spec.slice(0, eq)] = spec.slice(eq + 1).split(',').filter(Boolean);
    } else if (a.startsWith('--')) throw new Error(`register: unknown option ${a}`);
    else if (file === undefined) file = a;
    else throw new Error(`register: one manifest at a time (got ${file} and ${a})`);
  }
  if (file === undefined) throw new Error('register: name the manifest file: tessera register service.yaml');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`register: cannot read ${file}: ${(err as Error).message}`);
  }
  const manifest = parseManifest(text);
  const config = loadConfig({ file: configFile });
  const store = openStore(config);
  await store.open();
  try {
    const r = await registerManifest(store, manifest, { env: config.env, grants, dryRun });
    const lines = [`${dryRun ? 'would be ' : ''}${r.outcome}: service ${manifest.service}${r.outcome === 'unchanged' ? '' : ` (version ${r.version})`}`];
    for (const d of r.diff) lines.push(`  ${d}`);
    for (const g of r.granted) lines.push(`  ${dryRun ? 'would grant' : 'granted'} ${g}: ${grants[g]!.join(', ')}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await store.close();
  }
}
