import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ERRORS } from '../gateway/errors.js';
import { REPO_ROOT } from './helpers/process.js';

t.test('every gateway error is documented in the README table, and only those', async (t) => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const rows = new Set(
    [...readme.matchAll(/^\| (\d{3}) \| (\d{3}) \| (.+?) \| .* \|$/gm)].map((m) => `${m[1]}|${m[2]}|${m[3]}`),
  );
  const table = new Set(Object.values(ERRORS).map((e) => `${e.code}|${e.status}|${e.message}`));
  for (const e of Object.values(ERRORS)) {
    t.ok(rows.has(`${e.code}|${e.status}|${e.message}`), `${e.name} (${e.code}) is in the README with its status and message`);
    t.ok(e.status >= 400 || e.code === 136, `${e.name} is a 4xx/5xx (136 is the hello)`);
    t.same(JSON.parse(e.body.toString()), { result: false, errors: { codes: [e.code], details: [{ code: e.code, message: e.message }] } });
  }
  for (const row of rows) t.ok(table.has(row), `README row ${row} exists in gateway/errors.ts`);
});
