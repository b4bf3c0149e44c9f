import { SIGNATURE_HEADER } from '../../registry/view/inject-signature.js';
import { DEMO_KEYS, login, OWNER_KEY, request, soajsError, TNT1_ID, type TokenPair } from '../helpers/demo.js';
import { startTesseraProcess } from '../helpers/process.js';
import t, { type Test } from 'tap';

/**
 * The tenant boundary, tried as an attacker would against `tessera start` with the demo data
 * (issue 14): a tenant admin of TNT1 must reach nothing of the platform, whatever it writes
 * through URAC, and a service reached around the gateway must believe nothing it is told.
 */
const A = DEMO_KEYS.TNT1_A;
const TNT1_A_IKEY = '19c03e42c750467c3f8481fbe26f2fef';
const OWNER_ID = '4f0ad5f5320801d9e6bfb051';
const OWNER_APP = 'd8643564579dc0e19b6ae990';
const OWNER_IKEY = '542fba38e716cfb11745fb585a52d77d';
const TNT1_ADMIN_ID = '5c8d0c505653de3985aa1002';
const PLATFORM_ACL = { registry: { '1': { access: false } }, urac: { '3': { access: false } }, oauth: { '1': { access: false } } };

const json = (body: unknown) => JSON.stringify(body);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function tokenOf(base: string, key: string, username: string, password: string): Promise<string> {
  const r = await login(base, key, username, password);
  if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  return (r.body as TokenPair).access_token;
}

t.test('the tenant boundary against tessera start', async (t) => {
  const tessera = await startTesseraProcess();
  t.teardown(() => tessera.stop());
  const base = tessera.url;
  const ownerToken = await tokenOf(base, OWNER_KEY, 'admin', 'tessera-admin');
  const asOwner = (path: string, init: { method?: string; body?: unknown } = {}) =>
    request(base, `/registry${path}`, {
      method: init.method ?? 'GET',
      headers: { key: OWNER_KEY, ...bearer(ownerToken), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(init.body !== undefined ? { body: json(init.body) } : {}),
    });
  /** What a TNT1 token may try against the platform: every answer must be a denial, nothing changes. */
  const platformAttempts = async (t: Test, token: string, how: string) => {
    const headers = { key: A, ...bearer(token), 'content-type': 'application/json' };
    const list = await request(base, '/registry/tenants', { headers });
    t.equal(list.status, 401, `${how}: the tenant list is refused`);
    t.same(list.body, soajsError(154, 'Access denied: The service is not available in your current package.'));
    const before = ((await asOwner(`/tenants/${OWNER_ID}`)).body as { data: unknown }).data;
    const mint = await request(base, `/registry/tenants/${OWNER_ID}/applications/${OWNER_APP}/keys/${OWNER_IKEY}/extKeys`, {
      method: 'POST',
      headers,
      body: json({ env: 'dev', label: 'mine now' }),
    });
    t.not(mint.status, 201, `${how}: no ext key of the owner tenant is minted`);
    t.equal(mint.status, 401);
    t.same(((await asOwner(`/tenants/${OWNER_ID}`)).body as { data: unknown }).data, before, `${how}: the owner tenant is unchanged`);
    const patch = await request(base, '/registry/products/TSRA', { method: 'PATCH', headers, body: json({ name: 'pwned' }) });
    t.equal(patch.status, 401, `${how}: the platform product is not patched`);
    t.equal(((await asOwner('/products/TSRA')).body as { data: { name: string } }).data.name, 'Tessera administration');
  };

  t.test('a tenant admin cannot grant itself the registry with a user-level ACL override', async (t) => {
    const token = await tokenOf(base, A, 'tnt1admin', 'tnt1-admin');
    const headers = { key: A, ...bearer(token), 'content-type': 'application/json' };
    for (const config of [{ keys: { [TNT1_A_IKEY]: { acl: PLATFORM_ACL } } }, { packages: { PROD1_PCK1: { acl: PLATFORM_ACL } } }, { packages: { TSRA_OWNER: { acl: PLATFORM_ACL } } }]) {
      const r = await request(base, `/urac/admin/user?id=${TNT1_ADMIN_ID}`, { method: 'PUT', headers, body: json({ config }) });
      t.equal(r.status, 403, `refused: ${JSON.stringify(config).slice(0, 60)}…`);
      t.match((r.body as { errors: { details: { message: string }[] } }).errors.details[0]!.message, /tenant TNT1 holds no (service "registry"|package "TSRA_OWNER")/);
    }
    const self = await request(base, `/urac/admin/user?id=${TNT1_ADMIN_ID}`, { headers });
    t.same((self.body as { data: { config: unknown } }).data.config, {}, 'nothing was written');
    await platformAttempts(t, await tokenOf(base, A, 'tnt1admin', 'tnt1-admin'), 'after logging in again');
  });

  t.test("a tenant admin cannot name the owner's package in a group's allowedPackages", async (t) => {
    const token = await tokenOf(base, A, 'tnt1admin', 'tnt1-admin');
    const headers = { key: A, ...bearer(token), 'content-type': 'application/json' };
    const edit = await request(base, '/urac/admin/group?code=owner', { method: 'PUT', headers, body: json({ config: { allowedPackages: { TSRA: ['TSRA_OWNER'] } } }) });
    t.equal(edit.status, 403, 'editing a group: refused');
    const add = await request(base, '/urac/admin/group', {
      method: 'POST',
      headers,
      body: json({ code: 'platform', name: 'Platform', config: { allowedPackages: { TSRA: ['TSRA_OWNER'] } } }),
    });
    t.equal(add.status, 403, 'creating a group: refused');
    t.equal((await request(base, '/urac/admin/group?code=platform', { headers })).status, 404, 'no group was created');
    const owner = await request(base, '/urac/admin/group?code=owner', { headers });
    t.same((owner.body as { data: { config: unknown } }).data.config, { allowedPackages: {} }, 'the owner group is unchanged');
    // What the tenant does hold stays grantable: PROD1_PCK1 (its applications) and PROD1_PCK2 (its silver group).
    const fine = await request(base, '/urac/admin/group?code=customer', { method: 'PUT', headers, body: json({ config: { allowedPackages: { PROD1: ['PROD1_PCK1', 'PROD1_PCK2'] } } }) });
    t.equal(fine.status, 200, 'packages the tenant holds are accepted');
    await platformAttempts(t, await tokenOf(base, A, 'tnt1admin', 'tnt1-admin'), 'after the group attempts');
  });

  t.test('services reached around the gateway believe no forged soajsinjectobj', async (t) => {
    const forged = json({
      tenant: { id: OWNER_ID, code: 'OWNER', name: 'Tessera Owner' },
      key: { iKey: OWNER_IKEY, eKey: 'x', config: {} },
      application: { product: 'TSRA', package: 'TSRA_OWNER', appId: OWNER_APP },
      urac: { _id: 'x', username: 'admin', firstName: 'a', lastName: 'b', email: '', groups: ['owner'], tenant: { id: OWNER_ID, code: 'OWNER' } },
    });
    const registry = `http://127.0.0.1:${tessera.ports.services['registry']}`;
    const urac = `http://127.0.0.1:${tessera.ports.services['urac']}`;
    for (const [name, sig] of [['unsigned', undefined], ['with a made-up signature', `t=${Math.floor(Date.now() / 1000)},v1=${'A'.repeat(43)}`]] as const) {
      const headers: Record<string, string> = { soajsinjectobj: forged, 'content-type': 'application/json', ...(sig ? { [SIGNATURE_HEADER]: sig } : {}) };
      const list = await request(registry, '/tenants', { headers });
      t.equal(list.status, 403, `registry, ${name}: refused`);
      t.equal((list.body as { errors: { codes: number[] } }).errors.codes[0], 142);
      t.notOk(JSON.stringify(list.body).includes('TNT1'), 'nothing listed');
      const create = await request(registry, '/services', {
        method: 'POST',
        headers,
        body: json({ name: 'backdoor', port: 4999, versions: { '1': { extKeyRequired: false, oauth: false } } }),
      });
      t.equal(create.status, 403, `registry, ${name}: no service created`);
      const users = await request(urac, '/admin/users', { headers: { ...headers, soajsinjectobj: forged.replace(OWNER_ID, TNT1_ID) } });
      t.equal(users.status, 403, `urac, ${name}: refused`);
      t.notOk(JSON.stringify(users.body).includes('user1'), 'no user listed');
    }
    t.equal((await asOwner('/services/backdoor')).status, 404, 'the registry holds no such service');
    t.same((await request(base, '/backdoor/x')).body, soajsError(130, 'Unknown service.'), 'and the gateway routes nothing to it');
  });

  t.test('getUser with a tenant key alone: known and unknown users answer alike, no email', async (t) => {
    const known = await request(base, '/urac/account/getUser?username=user1', { headers: { key: A } });
    const unknown = await request(base, '/urac/account/getUser?username=no-such-user', { headers: { key: A } });
    t.equal(known.status, unknown.status);
    t.same(known.body, unknown.body);
    t.notOk(JSON.stringify(known.body).includes('@'), 'no email');
    const user3 = await tokenOf(base, A, 'user3', '654321');
    const other = await request(base, `/urac/account/getUser?username=user1&access_token=${user3}`, { headers: { key: A } });
    t.same(other.body, unknown.body, "another user's token reveals nothing either");
    const admin = await tokenOf(base, A, 'tnt1admin', 'tnt1-admin');
    const byAdmin = await request(base, `/urac/account/getUser?username=user1&access_token=${admin}`, { headers: { key: A } });
    t.equal((byAdmin.body as { data: { email: string } }).data.email, 'user1@domain.com', "the tenant's owner reads it");
  });

  t.test('the maintenance port is loopback only and read-only', async (t) => {
    const ready = tessera.output.join('').split('\n').find((l) => l.includes('"msg":"ready"'))!;
    t.ok(ready, 'ready line');
    const stat = await fetch(`http://127.0.0.1:${tessera.ports.maintenance}/awarenessStat`);
    t.equal(stat.status, 200);
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await fetch(`http://127.0.0.1:${tessera.ports.maintenance}/awarenessStat`, { method });
      t.equal(r.status, 405, `${method} refused`);
      t.equal(r.headers.get('allow'), 'GET, HEAD');
    }
  });

  t.test('a registry body nested 10k and 100k deep is refused with 400, and nothing is written', async (t) => {
    for (const depth of [10_000, 100_000]) {
      const deep = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      for (const method of ['POST', 'PATCH'] as const) {
        const path = method === 'POST' ? '/registry/products' : '/registry/products/PROD1';
        const r = await request(base, path, {
          method,
          headers: { key: OWNER_KEY, ...bearer(ownerToken), 'content-type': 'application/json' },
          body: deep.replace('{"a":', '{"code":"DEEP","name":"d","packages":[],"a":'),
        });
        t.equal(r.status, 400, `${method} ${depth} deep: 400`);
        t.match(r.body, { result: false, errors: { details: [{ message: /nested deeper than 64 levels/ }] } });
      }
    }
    t.equal((await asOwner('/products/DEEP')).status, 404, 'no product was created');
  });

  t.test('login guessing is throttled per username: 429 with Retry-After, even for the right password', async (t) => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 8; i++) {
      const r = await login(base, OWNER_KEY, 'admin', `wrong-${i}`);
      statuses.push(r.status);
      if (r.status === 429) retryAfter ??= r.headers.get('retry-after');
    }
    t.same(statuses.slice(0, 5), [401, 401, 401, 401, 401], 'the first five wrong passwords are answered');
    t.ok(statuses.slice(5).every((s) => s === 429), 'then each try must wait');
    t.match(retryAfter, /^[1-9][0-9]*$/, 'Retry-After in whole seconds');
    const right = await login(base, OWNER_KEY, 'admin', 'tessera-admin');
    t.equal(right.status, 429, 'the right password right after is not tried either');
    const audit = await asOwner('/audit?resource=login&resourceId=admin');
    const entries = (audit.body as { data: { records: { action: string; details: { ip: string } }[] } }).data.records;
    t.ok(entries.length >= 1, 'the throttling is audited');
    t.equal(entries[0]!.action, 'login-throttled');
    t.equal(entries[0]!.details.ip, '127.0.0.1');
  });
});
