import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runCli as cli } from '../helpers/process.js';

/** `tessera store accept-reset` refuses what it cannot do, saying why (the acceptance itself: test/e2e/redis-durability.test.ts). */


t.test('on the file store there is no reset to accept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-store-cmd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await cli({ TESSERA_STORE: `file:${dir}` }, 'store', 'accept-reset');
  t.equal(r.code, 1);
  t.equal(r.stderr, `tessera: store: file:${dir} is the file store: one process holds it, so it cannot lose data under a running gateway and there is no reset to accept\n`);
  t.equal(r.stdout, '');
});

t.test('a store that cannot be reached is named, without its password, with the reason', async (t) => {
  const r = await cli({ TESSERA_STORE: 'redis://:s3cret-pass@127.0.0.1:1/0' }, 'store', 'accept-reset');
  t.equal(r.code, 1);
  t.match(r.stderr, /^tessera: store: cannot open redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0: connect ECONNREFUSED 127\.0\.0\.1:1\n$/);
  t.notOk(r.stderr.includes('s3cret-pass'), 'no password printed');
});

t.test('usage errors', async (t) => {
  const none = await cli({}, 'store');
  t.same([none.code, none.stderr], [1, 'tessera: store: usage: tessera store accept-reset [--config FILE]\n']);
  const other = await cli({}, 'store', 'reset');
  t.same([other.code, other.stderr], [1, 'tessera: store: unknown command "reset"; usage: tessera store accept-reset [--config FILE]\n']);
  const option = await cli({}, 'store', 'accept-reset', '--force');
  t.same([option.code, option.stderr], [1, 'tessera: store: unknown option --force; usage: tessera store accept-reset [--config FILE]\n']);
  const missing = await cli({}, 'store', 'accept-reset', '--config');
  t.same([missing.code, missing.stderr], [1, 'tessera: store: --config needs a value\n']);
  const help = await cli({}, 'help');
  t.match(help.stdout, /store accept-reset \[--config FILE\]/, 'listed in help');
});
