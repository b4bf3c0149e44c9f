import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import t from 'tap';
import { hashPasswordSync } from '../../registry/control/password.js';
import type { Group, Product, Service, Tenant, User } from '../../registry/view/types.js';
import { startOauth } from '../../services/oauth/index.js';
import { login, request, soajsError, type TokenPair } from '../helpers/demo.js';
import { extKey, settle, startTestGateway } from '../helpers/gateway.js';
import { startEchoService } from '../helpers/servers.js';
import { signedInject } from '../helpers/inject.js';

const TID = 'aaaaaaaaaaaaaaaaaaaaaaaa';
const OTHER = 'bbbbbbbbbbbbbbbbbbbbbbbb';
const IKEY = '0123456789abcdef0123456789abcdef';
const KEY = randomBytes(64).toString('hex');
const OTHER_KEY = randomBytes(64).toString('hex');
const PASSWORD_HASH = hashPasswordSync('secret-1');

const oauthAcl = { '1': { access: false, post: { apis: { '/token': { access: false } } }, delete: { apis: { '/tokens/user/:userId': { access: true } } } } };

const products: Product[] = [
  {
    code: 'P',
    name: 'P',
    packages: [
      {
        code: 'P_MAIN',
        name: 'main',
        acl: {
          dev: {
            oauth: oauthAcl,
            svc: {
              '1': {
                access: false,
                apis: {
                  '/public': { access: false },
                  '/private': { access: true },
                  '/admins': { access: ['admin'] },
                },
              },
            },
            grouped: { '1': { access: ['admin'], apis: { '/open': { access: false } } } },
            loginonly: { '1': { access: false, apis: { '/needs-login': { access: true } } } },
          },
        },
      },
      { code: 'P_EXTRA', name: 'extra', acl: { dev: { oauth: oauthAcl, extra: { '1': { access: false } } } } },
    ],
  },
];

function tenant(id: string, code: string, key: string, iKey: string): Tenant {
  return {
    id,
    code,
    name: `Tenant ${code}`,
    type: 'client',
    oauth: { secret: 'shh' },
    applications: [
      {
        appId: `${id.slice(0, 20)}0001`,
        product: 'P',
        package: 'P_MAIN',
        keys: [
          {
            key: iKey,
            config: { dev: { commonFields: { shared: 'c' }, svc: { a: 1, nested: { x: 1, y: 1 } } } },
            extKeys: [extKey(key)],
          },
        ],
      },
    ],
  };
}

const flags = { extKeyRequired: true, oauth: true, urac: true, urac_Config: true };
const services: Service[] = ['svc', 'grouped', 'loginonly', 'extra'].map((name) => ({ name, port: 1, versions: { '1': flags } }));
services.push({ name: 'oauth', port: 1, versions: { '1': { extKeyRequired: true, oauth: true, urac: true } } });
services.push({ name: 'nologin', port: 1, versions: { '1': { extKeyRequired: true, oauth: false } } });

const groups: Group[] = [
  { id: `${TID}:admin`, code: 'admin', name: 'Admins', tenant: { id: TID, code: 'T1' } },
  { id: `${TID}:staff`, code: 'staff', name: 'Staff', tenant: { id: TID, code: 'T1' } },
];

function user(id: string, username: string, groupsOf: string[], extra: Partial<User> = {}): User {
  return {
    id,
    username,
    passwordHash: PASSWORD_HASH,
    firstName: 'Zoë',
    lastName: 'Ünal',
    email: `${username}@example.com`,
    status: 'active',
    groups: groupsOf,
    tenant: { id: TID, code: 'T1' },
    ...extra,
  };
}

const users: User[] = [
  user('u00000000000000000000001', 'alice', ['admin'], { config: { keys: { [IKEY]: { config: { svc: { nested: { y: 2 } }, mine: true } } } } }),
  user('u00000000000000000000002', 'bob', ['staff']),
];

/** The gateway's and the oauth service's clock: a test moves it instead of sleeping. */
const clock = { offset: 0 };
const now = () => Date.now() + clock.offset;

t.test('tokens and users at the gateway', async (t) => {
  const gw = await startTestGateway({
    clock: now,
    products,
    tenants: [tenant(TID, 'T1', KEY, IKEY), tenant(OTHER, 'T2', OTHER_KEY, 'fedcba9876543210fedcba9876543210')],
    services,
    groups,
    users,
    auth: true,
  });
  t.teardown(() => gw.close());
  const oauth = await startOauth({ port: 0, store: gw.store, env: 'dev', accessTokenSeconds: 60, refreshTokenSeconds: 600, injectSecret: gw.secret, throttle: gw.config.security.login, now });
  t.teardown(() => oauth.close());
  const echo = await startEchoService();
  t.teardown(() => echo.close());
  await gw.store.registerHost({ service: 'oauth', version: '1', host: '127.0.0.1', port: oauth.port, maintenancePort: oauth.maintenancePort });
  for (const s of ['svc', 'grouped', 'loginonly', 'extra', 'nologin']) {
    await gw.store.registerHost({ service: s, version: '1', host: '127.0.0.1', port: echo.port, maintenancePort: echo.maintenance.port });
  }
  await settle(gw);

  const tokenOf = async (username: string) => {
    const r = await login(gw.url, KEY, username, 'secret-1');
    t.equal(r.status, 200, `${username} logs in`);
    return (r.body as TokenPair).access_token;
  };
  const get = (path: string, token?: string, key = KEY) =>
    request(gw.url, path, { headers: { key, ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const alice = await tokenOf('alice');
  const bob = await tokenOf('bob');

  t.test('the injected context carries the user and the merged config', async (t) => {
    echo.seen.length = 0;
    const r = await get('/svc/private', alice);
    t.equal(r.status, 200);
    const inject = echo.seen[0]!.inject as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed JSON
    t.match(inject['urac'], {
      _id: 'u00000000000000000000001',
      username: 'alice',
      firstName: encodeURIComponent('Zoë'),
      lastName: encodeURIComponent('Ünal'),
      email: 'alice@example.com',
      groups: ['admin'],
      tenant: { id: TID, code: 'T1' },
    });
    t.same(inject['key']['config'], { shared: 'c', svc: { a: 1, nested: { x: 1, y: 2 } } }, 'user config deep-merged over the key config, user wins');
    t.same(inject['param'], { urac_Profile: false, urac_ACL: false });
    t.notOk(JSON.stringify(inject).includes('scrypt'), 'no password hash downstream');
  });

  t.test('API and service group checks: 157, 160, 161, public APIs', async (t) => {
    t.equal((await get('/svc/admins', alice)).status, 200);
    const b = await get('/svc/admins', bob);
    t.equal(b.status, 401);
    t.same(b.body, soajsError(160, 'You do not belong to a group with access to this system API.'));
    const g = await get('/grouped/x', bob);
    t.same(g.body, soajsError(157, 'You do not belong to a group with access to this System.'));
    t.equal((await get('/grouped/x', alice)).status, 200);
    t.equal((await get('/grouped/open')).status, 200, 'service access [admin] but the API is public: no login needed');
    const demand = await get('/svc/private');
    t.same(demand.body, soajsError(400, 'The access token was not found'), 'a private API demands a token');
    const public_ = await get('/svc/public');
    t.equal(public_.status, 200);
    const garbage = await request(gw.url, '/svc/public?access_token=garbage', { headers: { key: KEY } });
    t.same(garbage.body, soajsError(401, 'The access token provided is invalid.'), 'a token on a public API is still validated');
  });

  t.test('with oauth off for the service, a token is never read and login-only APIs are 161', async (t) => {
    // `nologin` has no ACL in the package: use a service with oauth off whose ACL exists.
    await gw.store.put('product', {
      ...products[0]!,
      packages: products[0]!.packages.map((p) =>
        p.code === 'P_MAIN' ? { ...p, acl: { dev: { ...p.acl['dev'], nologin: { '1': { access: false, apis: { '/private': { access: true } } } } } } } : p,
      ),
    });
    await settle(gw);
    const r = await request(gw.url, '/nologin/private?access_token=garbage', { headers: { key: KEY } });
    t.equal(r.status, 401);
    t.same(r.body, soajsError(161, 'You need to be logged in to access this API.'));
    t.equal((await request(gw.url, '/nologin/other?access_token=garbage', { headers: { key: KEY } })).status, 200);
  });

  t.test('forged, foreign and malformed tokens are invalid', async (t) => {
    const { privateKey } = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ tid: TID, env: 'dev', ims: Date.now() })
      .setProtectedHeader({ alg: 'ES256', kid: oauth.kid })
      .setIssuer('tessera')
      .setSubject('u00000000000000000000001')
      .setJti('x')
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(privateKey);
    t.same((await get('/svc/private', forged)).body, soajsError(401, 'The access token provided is invalid.'), 'our kid, another key');
    const [h, p] = alice.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: oauth.kid })).toString('base64url')}.${p}.`;
    t.equal((await get('/svc/private', none)).status, 401, 'alg none');
    t.equal((await get('/svc/private', `${h}.${p}.AAAA`)).status, 401, 'bad signature');
    t.ok(await exportJWK((await generateKeyPair('ES256')).publicKey), 'jose works');
  });

  t.test('a token is bound to its tenant: 146 with another tenant key', async (t) => {
    const r = await get('/svc/private', alice, OTHER_KEY);
    t.equal(r.status, 401);
    t.same(r.body, soajsError(146, 'Unauthorized to access.'));
  });

  t.test('user changes apply on the next request (cache evicted by the change event)', async (t) => {
    t.equal((await get('/svc/admins', bob)).status, 401);
    const current = await gw.store.get('user', 'u00000000000000000000002');
    await gw.store.put('user', { ...current!.doc, groups: ['admin'] });
    t.equal((await get('/svc/admins', bob)).status, 200, 'bob was made admin');
    const again = await gw.store.get('user', 'u00000000000000000000002');
    await gw.store.put('user', { ...again!.doc, status: 'inactive' });
    t.same((await get('/svc/private', bob)).body, soajsError(146, 'Unauthorized to access.'), 'inactive user');
    await gw.store.delete('user', 'u00000000000000000000002');
    t.same((await get('/svc/private', bob)).body, soajsError(146, 'Unauthorized to access.'), 'deleted user');
  });

  t.test('group packages become the user ACL, and group changes apply at once', async (t) => {
    t.equal((await get('/extra/x', alice)).status, 401, 'P_EXTRA is not alice\'s package');
    await gw.store.put('group', { ...groups[0]!, config: { allowedPackages: { P: ['P_EXTRA'] } } });
    await settle(gw);
    t.equal((await get('/extra/x', alice)).status, 200, 'her group now grants P_EXTRA');
    const svc = await get('/svc/private', alice);
    t.same(svc.body, soajsError(154, 'Access denied: The service is not available in your current package.'), 'and only it: the user level replaces the key level');
    await gw.store.put('group', groups[0]!);
    await settle(gw);
    t.equal((await get('/svc/private', alice)).status, 200);
  });

  t.test('SOAJS tokens imported as legacy tokens work until logout or expiry; bcrypt passwords re-hash at login', async (t) => {
    const { createHash } = await import('node:crypto');
    const bcrypt = (await import('bcryptjs')).default;
    const sha = (x: string) => createHash('sha256').update(x).digest('hex');
    const access = 'cfb209a91b23896820f510aadbf1f4284b512123';
    const refresh = 'a'.repeat(40);
    const expired = 'b'.repeat(40);
    const uid = 'u00000000000000000000009';
    await gw.store.put('user', user(uid, 'soajsuser', ['admin'], { passwordHash: await bcrypt.hash('old-soajs-pw', 4) }));
    const soon = Date.now() + 3_600_000;
    await gw.store.put('legacyToken', { id: sha(access), type: 'access', userId: uid, tenantId: TID, env: 'DEV', expiresAt: soon });
    await gw.store.put('legacyToken', { id: sha(refresh), type: 'refresh', userId: uid, tenantId: TID, env: 'dev', expiresAt: soon });
    await gw.store.put('legacyToken', { id: sha(expired), type: 'access', userId: uid, tenantId: TID, env: 'dev', expiresAt: Date.now() - 1000 });

    const ok = await request(gw.url, `/svc/admins?access_token=${access}`, { headers: { key: KEY } });
    t.equal(ok.status, 200, 'the SOAJS access token is accepted');
    t.same((await request(gw.url, `/svc/private?access_token=${expired}`, { headers: { key: KEY } })).body, soajsError(401, 'The access token provided has expired.'));
    t.same((await request(gw.url, `/svc/private?access_token=${'c'.repeat(40)}`, { headers: { key: KEY } })).body, soajsError(401, 'The access token provided is invalid.'));
    t.same((await request(gw.url, `/svc/private?access_token=${access}`, { headers: { key: OTHER_KEY } })).body, soajsError(146, 'Unauthorized to access.'), 'bound to its tenant');

    const swapped = await request(gw.url, '/oauth/token', {
      method: 'POST',
      headers: { key: KEY, 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&refresh_token=${refresh}`,
    });
    t.equal(swapped.status, 200, 'a SOAJS refresh token buys a Tessera pair');
    t.equal((await get('/svc/private', (swapped.body as TokenPair).access_token)).status, 200);
    const again = await request(gw.url, '/oauth/token', {
      method: 'POST',
      headers: { key: KEY, 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&refresh_token=${refresh}`,
    });
    t.equal(again.status, 400, 'single use');

    const out = await request(gw.url, `/oauth/accessToken/${access}`, { method: 'DELETE', headers: { key: KEY } });
    t.same(out.body, { result: true, data: 1 });
    t.equal((await request(gw.url, `/svc/private?access_token=${access}`, { headers: { key: KEY } })).status, 401, 'logged out at once');

    const login1 = await login(gw.url, KEY, 'soajsuser', 'old-soajs-pw');
    t.equal(login1.status, 200, 'the bcrypt password from SOAJS logs in');
    const stored = await gw.store.get('user', uid);
    t.match(stored!.doc.passwordHash, /^scrypt\$/, 're-hashed to scrypt');
    t.equal((await login(gw.url, KEY, 'soajsuser', 'old-soajs-pw')).status, 200, 'and still logs in');
  });

  t.test('a verified token dies with its signing key; an unknown kid is not remembered', async (t) => {
    const token = await tokenOf('alice');
    t.equal((await get('/svc/private', token)).status, 200);
    const keyDoc = (await gw.store.get('signingKey', oauth.kid))!;
    await gw.store.delete('signingKey', oauth.kid);
    await settle(gw);
    t.same((await get('/svc/private', token)).body, soajsError(401, 'The access token provided is invalid.'), 'key removed: token refused although cached');
    await gw.store.put('signingKey', keyDoc.doc);
    await settle(gw);
    t.equal((await get('/svc/private', token)).status, 200, 'key back: the same token works (the refusal was not cached)');
  });

  t.test('an owner may revoke the tokens of its own tenant\'s users only', async (t) => {
    // An owner in the OTHER tenant (its key, its group) tries to revoke alice (tenant T1).
    await gw.store.put('group', { id: `${OTHER}:owner`, code: 'owner', name: 'Owners', tenant: { id: OTHER, code: 'T2' } });
    await gw.store.put('user', user('u00000000000000000000077', 'mallory', ['owner'], { tenant: { id: OTHER, code: 'T2' } }));
    const r = await login(gw.url, OTHER_KEY, 'mallory', 'secret-1');
    t.equal(r.status, 200);
    const mallory = (r.body as TokenPair).access_token;
    const attempt = await request(gw.url, `/oauth/tokens/user/u00000000000000000000001?access_token=${mallory}`, { method: 'DELETE', headers: { key: OTHER_KEY } });
    t.equal(attempt.status, 403, 'refused');
    t.equal((await get('/svc/private', alice)).status, 200, "alice's tokens still work");
  });

  t.test('expired tokens', async (t) => {
    const short = await startOauth({ port: 0, store: gw.store, env: 'dev', accessTokenSeconds: 1, refreshTokenSeconds: 600, injectSecret: gw.secret, throttle: gw.config.security.login, now });
    t.teardown(() => short.close());
    const r = await request(`http://127.0.0.1:${short.port}`, '/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...signedInject(
          gw.secret,
          JSON.stringify({
            tenant: { id: TID, code: 'T1', name: 'Tenant T1' },
            key: { config: {}, iKey: IKEY, eKey: KEY },
            application: { product: 'P', package: 'P_MAIN', appId: 'a' },
          }),
        ),
      },
      body: JSON.stringify({ username: 'alice', password: 'secret-1' }),
    });
    const token = (r.body as TokenPair).access_token;
    t.equal((await get('/svc/private', token)).status, 200, 'fresh');
    clock.offset += 1600;
    t.same((await get('/svc/private', token)).body, soajsError(401, 'The access token provided has expired.'), 'verified earlier, expired now');
    const jwks = await get('/oauth/jwks');
    t.equal(jwks.status, 200);
    t.ok((jwks.body as { keys: { kid: string; d?: string }[] }).keys.some((k) => k.kid === oauth.kid && k.d === undefined), 'JWKS lists public keys only');
  });
});
