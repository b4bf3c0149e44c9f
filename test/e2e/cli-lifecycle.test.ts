import { spawn } from 'node:child_process';
import t from 'tap';
import { DEMO_KEYS, OWNER_KEY, request } from '../helpers/demo.js';
import { REPO_ROOT, runCli as cli, startTesseraProcess } from '../helpers/process.js';

/**
 * `tessera activations …` and `tessera events list|tail` against a running `tessera start`
 * (issue 17 §9): a tenant's activation is added, listed, reported and removed from the shell, the
 * gateway enforces each state, and `events tail` prints each transition as it is written.
 */
const TNT2 = '54ee28cc203674ba271d57a4';

t.test('activations and events from the CLI', async (t) => {
  const tessera = await startTesseraProcess();
  t.teardown(() => tessera.stop());
  const env = { TESSERA_ADMIN_URL: tessera.url, TESSERA_ADMIN_KEY: OWNER_KEY, TESSERA_ADMIN_USER: 'admin', TESSERA_ADMIN_PASSWORD: 'tessera-admin' };
  const use = () => request(tessera.url, '/example03/buildName?lastName=Cli', { headers: { key: DEMO_KEYS.TNT2 } });

  // tail from now on: it must print what happens next, not what happened before.
  const tail = spawn(process.execPath, ['dist/bin/tessera.js', 'events', 'tail', '--type', 'service.*', '--interval', '0.2'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
  });
  t.teardown(() => tail.kill());
  const tailed: { type: string; service: string; tenantId: string }[] = [];
  let buf = '';
  tail.stdout.on('data', (c: Buffer) => {
    buf += c.toString();
    for (let i = buf.indexOf('\n'); i !== -1; i = buf.indexOf('\n')) {
      tailed.push(JSON.parse(buf.slice(0, i)) as never);
      buf = buf.slice(i + 1);
    }
  });
  let tailErr = '';
  const following = new Promise<void>((resolve) =>
    tail.stderr.on('data', (c: Buffer) => {
      tailErr += c.toString();
      if (tailErr.includes('# following after')) resolve();
    }),
  );
  await following;

  const listed = await cli(env, 'activations', 'list', '--tenant', TNT2);
  t.equal(listed.code, 0, listed.stderr);
  t.match(listed.stdout, /example03\s+active\s+\(implied by its package\)/, 'implied by the package');

  const added = await cli(env, 'activations', 'add', '--tenant', TNT2, '--service', 'example03');
  t.equal(added.code, 0, added.stderr);
  t.match(added.stdout, /example03\s+active/, 'provisioning none: active at once');
  t.equal((await use()).status, 200);

  const removed = await cli(env, 'activations', 'remove', '--tenant', TNT2, '--service', 'example03');
  t.equal(removed.code, 0, removed.stderr);
  t.match(removed.stdout, /inactive/);
  t.equal((await use()).status, 403, 'deactivated: the gateway refuses (195)');

  const active = await cli(env, 'activations', 'tenants', '--service', 'example03');
  t.equal(active.code, 0, active.stderr);
  t.notOk(active.stdout.includes(TNT2), 'the reconciliation list leaves the deactivated tenant out');
  t.match(active.stdout, /\d+ tenants/);

  const events = await cli(env, 'events', 'list', '--type', 'service.*', '--tenant', TNT2);
  t.equal(events.code, 0, events.stderr);
  t.same(
    events.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type),
    ['service.activated', 'service.deactivated'],
  );

  for (let i = 0; i < 50 && tailed.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  t.same(
    tailed.map((e) => `${e.type} ${e.service} ${e.tenantId}`),
    [`service.activated example03 ${TNT2}`, `service.deactivated example03 ${TNT2}`],
    `events tail printed both as they happened ${tailErr}`,
  );

  const bad = await cli(env, 'activations', 'report', '--service', 'example03', '--tenant', TNT2, '--status', 'finished');
  t.equal(bad.code, 1, 'a report on an inactive activation is refused');
  t.match(bad.stderr, /404 code 404/);
  const usage = await cli(env, 'activations', 'frob');
  t.equal(usage.code, 1);
  t.match(usage.stderr, /usage: tessera activations/);
});
