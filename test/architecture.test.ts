import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import t from 'tap';
import { REPO_ROOT } from './helpers/process.js';

/**
 * The import rules of ../shared/design/architecture.md, checked on the source tree:
 * - gateway/ reads registry/view/ only: it never touches a store or the control plane;
 * - services/ never import gateway/;
 * - registry/ never imports gateway/ or services/;
 * - registry/view/ never imports registry/control/ beyond types (`import type`);
 * - nothing but bin/ imports bin/.
 */
interface Import {
  readonly from: string;
  readonly to: string;
  readonly typeOnly: boolean;
}

const STATEMENT = /^\s*(import|export)\s+(type\s+)?[^;]*?\sfrom\s+'(\.[^']+)'|^\s*import\s+'(\.[^']+)'/gm;

export function importsOf(file: string, source: string): Import[] {
  const out: Import[] = [];
  for (const m of source.matchAll(STATEMENT)) {
    const spec = m[3] ?? m[4]!;
    out.push({ from: file, to: normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'), typeOnly: m[2] !== undefined });
  }
  return out;
}

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

/** The rule an import breaks, or null. */
export function violation(i: Import): string | null {
  if (under(i.from, 'gateway') && under(i.to, 'registry') && !under(i.to, 'registry/view')) return 'gateway/ reads registry/view/ only';
  if (under(i.from, 'gateway') && under(i.to, 'services')) return 'gateway/ never imports services/';
  if (under(i.from, 'services') && under(i.to, 'gateway')) return 'services/ never import gateway/';
  if (under(i.from, 'registry') && (under(i.to, 'gateway') || under(i.to, 'services'))) return 'registry/ never imports gateway/ or services/';
  if (under(i.from, 'registry/view') && under(i.to, 'registry/control') && !i.typeOnly) return 'registry/view/ imports registry/control/ for types only';
  if (!under(i.from, 'bin') && under(i.to, 'bin') && !under(i.from, 'test')) return 'only bin/ imports bin/';
  return null;
}

function sources(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(REPO_ROOT, join(e.parentPath, e.name)));
}

t.test('the source tree keeps the import rules of architecture.md', async (t) => {
  const files = ['gateway', 'registry', 'services', 'config', 'bin'].flatMap(sources);
  t.ok(files.length > 80, `${files.length} source files read`);
  const all = files.flatMap((f) => importsOf(f, readFileSync(join(REPO_ROOT, f), 'utf8')));
  t.ok(all.length > 300, `${all.length} relative imports`);
  const broken = all.map((i) => ({ ...i, rule: violation(i) })).filter((i) => i.rule !== null);
  t.same(broken, [], 'no import breaks a rule');
});

t.test('the checker catches each kind of break', async (t) => {
  const cases: [string, string, string][] = [
    ['gateway/stages/key.ts', "import { FileStore } from '../../registry/control/store/file.js';", 'gateway/ reads registry/view/ only'],
    ['gateway/server.ts', "import type { Store } from '../registry/control/store/types.js';", 'gateway/ reads registry/view/ only'],
    ['services/urac/index.ts', "import { ERRORS } from '../../gateway/errors.js';", 'services/ never import gateway/'],
    ['registry/view/cache.ts', "import { startUrac } from '../../services/urac/index.js';", 'registry/ never imports gateway/ or services/'],
    ['registry/view/sync.ts', "import { FileStore } from '../control/store/file.js';", 'registry/view/ imports registry/control/ for types only'],
    ['gateway/server.ts', "export { log } from '../bin/log.js';", 'only bin/ imports bin/'],
  ];
  for (const [file, line, rule] of cases) t.same(importsOf(file, line).map(violation), [rule], `${file}: ${line}`);
  t.same(importsOf('registry/view/sync.ts', "import type { Store } from '../control/store/types.js';").map(violation), [null], 'a type from the control plane is fine');
  t.same(
    importsOf('gateway/x.ts', "import {\n  a,\n  b,\n} from '../registry/view/acl.js';\nimport type { C } from './c.js';").map((i) => i.to),
    ['registry/view/acl.ts', 'gateway/c.ts'],
    'multi-line imports are read',
  );
});
