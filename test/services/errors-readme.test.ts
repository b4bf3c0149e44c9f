import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ServiceError } from '../../services/kit/envelope.js';
import { errors, SERVICE_ERRORS } from '../../services/kit/errors.js';
import { REPO_ROOT } from '../helpers/process.js';

/** The services' one error table and the README's list of it, in step (as test/readme-errors.test.ts does for the gateway's). */
t.test('every service error is documented in the README, and only those', async (t) => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Service errors'), readme.indexOf('\n## ', readme.indexOf('### Service errors')));
  const rows = new Set([...section.matchAll(/^\| `(\w+)` \| (\d{3}) \| (\d{3}) \| (.+) \|$/gm)].map((m) => `${m[1]}|${m[2]}|${m[3]}|${m[4]}`));
  const table = new Set(
    Object.entries(SERVICE_ERRORS).map(([name, d]) => {
      const message = typeof d.message === 'function' ? (d.message as (...a: string[]) => string)(...Array<string>(d.message.length).fill('…')) : d.message;
      return `${name}|${d.code}|${d.status}|${message}`;
    }),
  );
  t.ok(table.size > 30, `${table.size} service errors`);
  for (const row of table) t.ok(rows.has(row), `${row.split('|')[0]} is in the README with its code, status and message`);
  for (const row of rows) t.ok(table.has(row), `README row ${row.split('|')[0]} exists in services/kit/errors.ts`);
});

t.test('the builders make ServiceErrors from the table', async (t) => {
  const e = errors.notFound('Product "X"');
  t.ok(e instanceof ServiceError);
  t.match(e, { code: 404, status: 404, message: 'Product "X" not found.' });
  t.match(errors.userNotFound(), { code: 520, status: 404, message: 'User not found.' });
  t.match(errors.loginThrottled('for this username', 4), { code: 429, status: 429, message: 'Too many failed logins for this username; try again in 4 s' });
});
