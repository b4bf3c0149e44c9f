import t from 'tap';
import { OWNER_KEY, request, soajsError } from '../helpers/demo.js';
import { runCli as cli, startTesseraProcess } from '../helpers/process.js';

const TNT2 = '54ee28cc203674ba271d57a4';
const TNT2_APP = 'b14997337f28f381b7d0de02';


t.test('tessera tenants / keys administer a running gateway through the registry API', async (t) => {
  const tessera = await startTesseraProcess();
  t.teardown(async () => {
    await tessera.stop();
  });
  const env = { TESSERA_ADMIN_URL: tessera.url, TESSERA_ADMIN_KEY: OWNER_KEY, TESSERA_ADMIN_USER: 'admin', TESSERA_ADMIN_PASSWORD: 'tessera-admin' };

  const tenants = await cli(env, 'tenants', 'list');
  t.equal(tenants.code, 0, tenants.stderr);
  t.match(tenants.stdout, /TNT1\s+Client One/);
  t.match(tenants.stdout, /5 tenants/);

  const created = await cli(env, 'keys', 'create', '--tenant', TNT2, '--app', TNT2_APP, '--label', 'cli test');
  t.equal(created.code, 0, created.stderr);
  const { extKey, hint, iKey } = JSON.parse(created.stdout) as { extKey: string; hint: string; iKey: string };
  t.match(extKey, /^[0-9a-f]{128}$/, 'a 512-bit key, shown once');
  const use = (key: string) => request(tessera.url, '/example03/buildName?lastName=Cli', { headers: { key } });
  t.equal((await use(extKey)).status, 200, 'usable at once');

  const listed = await cli(env, 'keys', 'list', '--tenant', TNT2);
  t.equal(listed.code, 0, listed.stderr);
  t.match(listed.stdout, new RegExp(`…${hint}`));
  t.notOk(listed.stdout.includes(extKey), 'listings never show the key');

  const rotated = await cli(env, 'keys', 'rotate', '--tenant', TNT2, '--app', TNT2_APP, '--ikey', iKey, '--hint', hint, '--overlap', '3600');
  t.equal(rotated.code, 0, rotated.stderr);
  const fresh = (JSON.parse(rotated.stdout) as { extKey: string }).extKey;
  t.equal((await use(fresh)).status, 200, 'the new key works');
  t.equal((await use(extKey)).status, 200, 'the old one too, during the overlap');

  const revoked = await cli(env, 'keys', 'revoke', '--tenant', TNT2, '--app', TNT2_APP, '--ikey', iKey, '--hint', hint);
  t.equal(revoked.code, 0, revoked.stderr);
  t.same((await use(extKey)).body, soajsError(148, 'Unable to load the key information'), 'revoked: denied on the next request');

  const noCreds = await cli({ TESSERA_ADMIN_URL: tessera.url }, 'tenants', 'list');
  t.equal(noCreds.code, 1);
  t.match(noCreds.stderr, /no admin key/);
  const badPass = await cli({ ...env, TESSERA_ADMIN_PASSWORD: 'wrong' }, 'tenants', 'list');
  t.equal(badPass.code, 1);
  t.match(badPass.stderr, /login failed \(401\)/);
  const missing = await cli(env, 'keys', 'rotate', '--tenant', TNT2);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /--app is required/);
});
