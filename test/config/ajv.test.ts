import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import { newAjv } from '../../config/ajv.js';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Loads every module of a running Tessera in a fresh node with V8 natives, then builds two objects
 * the way header maps are built (`{}` + a first key never used before) and asks V8 whether they
 * share a map. They do in a plain node; they stop doing so once something has exhausted the
 * transitions of the root `{}` map (ajv's optimiser did), and every such object on the data plane
 * then gets a map of its own.
 */
function sharedMapsAfterLoading(modules: string[]): { before: boolean; after: boolean } {
  const script = `
    const same = new Function('a', 'b', 'return %HaveSameMap(a, b)');
    const probe = (k) => { const a = {}; a[k] = 1; const b = {}; b[k] = 2; return same(a, b); };
    const before = probe('x-probe-before');
    for (const m of ${JSON.stringify(modules.map((m) => pathToFileURL(join(DIST, m)).href))}) await import(m);
    console.log(JSON.stringify({ before, after: probe('x-probe-after') }));`;
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`probe failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { before: boolean; after: boolean };
}

t.test('loading every module keeps V8 able to share maps of objects built key by key', (t) => {
  const r = sharedMapsAfterLoading(['bin/start.js', 'bin/admin.js', 'bin/import.js', 'bin/register.js']);
  t.equal(r.before, true, 'a plain node shares the maps');
  t.equal(r.after, true, 'still shared after every schema is compiled');
  t.end();
});

t.test('newAjv turns the optimiser off whatever the caller passes, and validates as usual', (t) => {
  const ajv = newAjv({ allErrors: true, code: { optimize: true } });
  t.equal(ajv.opts.code.optimize, 0, 'ajv normalises false to 0');
  const v = ajv.compile({ type: 'object', required: ['a'], properties: { a: { type: 'integer' } } });
  t.equal(v({ a: 1 }), true);
  t.equal(v({ a: 'x' }), false);
  t.equal(v({}), false);
  t.end();
});
