import t from 'tap';
import { DEMO_KEYS, login, OWNER_KEY, request, soajsError, TNT1_ID, TNT2_ID, type TokenPair } from '../helpers/demo.js';
import { startTesseraProcess } from '../helpers/process.js';

/**
 * The SOAJS user-level walkthrough (oauth login, URAC users, user-level ACL and config overrides)
 * against `tessera start` run as a process with the demo data.
 */
t.test('user-level walkthrough', async (t) => {
  const tessera = await startTesseraProcess();
  t.teardown(async () => {
    await tessera.stop();
  });
  const base = tessera.url;
  const A = DEMO_KEYS.TNT1_A;
  const tokens: Record<string, TokenPair> = {};

  t.test('GET /oauth/authorization gives the tenant Basic string', async (t) => {
    const r = await request(base, '/oauth/authorization', { headers: { key: A } });
    t.equal(r.status, 200);
    t.same(r.body, { result: true, data: `Basic ${Buffer.from(`${TNT1_ID}:shhh this is a secret`).toString('base64')}` });
  });

  t.test('password logins issue bearer tokens, not cacheable', async (t) => {
    for (const [u, p] of [
      ['user1', '123456'],
      ['user2', '123456'],
      ['user3', '654321'],
    ] as const) {
      const r = await login(base, A, u, p);
      t.equal(r.status, 200, `${u} logs in`);
      t.equal(r.headers.get('cache-control'), 'no-store');
      const body = r.body as TokenPair;
      t.match(body, { token_type: 'bearer', expires_in: 7200, access_token: String, refresh_token: String });
      tokens[u] = body;
    }
    // With the Basic header as the walkthrough's curl sends it, too.
    const auth = (await request(base, '/oauth/authorization', { headers: { key: A } })).body as { data: string };
    const r = await request(base, '/oauth/token', {
      method: 'POST',
      headers: { key: A, authorization: auth.data, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=user1&password=123456&grant_type=password',
    });
    t.equal(r.status, 200);
  });

  t.test('GET /urac/account/getUser returns the record without the password hash', async (t) => {
    const anonymous = await request(base, '/urac/account/getUser?username=user1', { headers: { key: A } });
    t.same(anonymous.body, soajsError(520, 'User not found.'), 'with the key alone: the answer an unknown username gets');
    const r = await request(base, `/urac/account/getUser?username=user1&access_token=${tokens['user1']!.access_token}`, { headers: { key: A } });
    t.equal(r.status, 200);
    t.match(r.body, {
      result: true,
      data: { username: 'user1', firstName: 'user', lastName: 'one', email: 'user1@domain.com', groups: ['gold'], tenant: { id: TNT1_ID, code: 'TNT1' } },
    });
    t.notOk(JSON.stringify(r.body).includes('scrypt'), 'no password hash');
  });

  t.test('user-level ACL and config decide example03', async (t) => {
    const call = (path: string, token: string) => request(base, `${path}&access_token=${token}`, { headers: { key: A } });
    const u1 = await call('/example03/buildName?lastName=Smith', tokens['user1']!.access_token);
    t.equal(u1.status, 401);
    t.same(u1.body, soajsError(154, 'Access denied: The service is not available in your current package.'), 'user1: groups grant PROD1_PCK1, no example03');
    const u2 = await call('/example03/buildName?lastName=Smith', tokens['user2']!.access_token);
    t.same(u2.body, { result: true, data: { tenantName: 'Client One', fullName: 'John Smith' } }, 'user2: package-level user ACL grants it');
    const u3 = await call('/example03/buildName?lastName=Smith', tokens['user3']!.access_token);
    t.same(u3.body, { result: true, data: { tenantName: 'Tenant name specific to user three', fullName: 'John Smith' } });
    const g2 = await call('/example03/testGet?firstName=John&lastName=Smith', tokens['user2']!.access_token);
    t.same(g2.body, { result: true, data: { firstName: 'John', lastName: 'Smith' } });
    const g3 = await call('/example03/testGet?firstName=John&lastName=Smith', tokens['user3']!.access_token);
    t.equal(g3.status, 401);
    t.same(g3.body, soajsError(159, 'System api access is restricted. api is not in provision.'));
    const bearer = await request(base, '/example03/buildName?lastName=Smith', {
      headers: { key: A, authorization: `Bearer ${tokens['user3']!.access_token}` },
    });
    t.same(bearer.body, { result: true, data: { tenantName: 'Tenant name specific to user three', fullName: 'John Smith' } }, 'Bearer works too');
  });

  t.test('a TNT1 token with a TNT2 key is 146', async (t) => {
    const r = await request(base, `/example03/buildName?lastName=Smith&access_token=${tokens['user2']!.access_token}`, {
      headers: { key: DEMO_KEYS.TNT2 },
    });
    t.equal(r.status, 401);
    t.same(r.body, soajsError(146, 'Unauthorized to access.'));
  });

  t.test('token errors', async (t) => {
    const none = await request(base, '/urac/user/me', { headers: { key: A } });
    t.equal(none.status, 400);
    t.same(none.body, soajsError(400, 'The access token was not found'));
    const two = await request(base, `/urac/user/me?access_token=${tokens['user1']!.access_token}`, {
      headers: { key: A, authorization: `Bearer ${tokens['user1']!.access_token}` },
    });
    t.equal(two.status, 400);
    t.same(two.body, soajsError(400, 'Only one method may be used to authenticate at a time (Auth header,  GET or POST).'));
    const bad = await request(base, '/urac/user/me?access_token=not.a.token', { headers: { key: A } });
    t.equal(bad.status, 401);
    t.same(bad.body, soajsError(401, 'The access token provided is invalid.'));
    const wrong = await login(base, A, 'user1', 'nope-nope');
    t.equal(wrong.status, 401);
    t.same(wrong.body, soajsError(401, 'Unable to log in. Credential error or mismatch'));
    const missing = await request(base, '/oauth/token', {
      method: 'POST',
      headers: { key: A, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=user1&grant_type=password',
    });
    t.equal(missing.status, 400);
    t.same(missing.body, soajsError(400, 'Missing parameters. "username" and "password" are required'));
  });

  t.test('GET /urac/user/me', async (t) => {
    const r = await request(base, '/urac/user/me', { headers: { key: A, access_token: tokens['user2']!.access_token } });
    t.equal(r.status, 200);
    t.match(r.body, { result: true, data: { username: 'user2', groups: ['silver'] } });
  });

  t.test('a user in two tenants lists both', async (t) => {
    const r = await login(base, A, 'roamer', '123456');
    t.equal(r.status, 200);
    const token = (r.body as TokenPair).access_token;
    const list = await request(base, '/urac/user/tenants', { headers: { key: A, authorization: `Bearer ${token}` } });
    t.equal(list.status, 200);
    const data = (list.body as { data: { id: string; name: string }[] }).data;
    t.same(
      data.map((d) => [d.id, d.name]),
      [
        [TNT1_ID, 'Client One'],
        [TNT2_ID, 'Client Two'],
      ],
    );
    // The same user logs in with TNT2's key too: its TNT2 groups (silver → PROD1_PCK2) apply there.
    const r2 = await login(base, DEMO_KEYS.TNT2, 'roamer', '123456');
    t.equal(r2.status, 200);
    const b = await request(base, `/example03/testGet?firstName=R&lastName=R&access_token=${(r2.body as TokenPair).access_token}`, {
      headers: { key: DEMO_KEYS.TNT2 },
    });
    t.same(b.body, { result: true, data: { firstName: 'R', lastName: 'R' } });
  });

  t.test('switching tenant: RFC 8693 token exchange, then the target tenant\'s key', async (t) => {
    const form = (key: string, body: Record<string, string>) =>
      request(base, '/oauth/token', {
        method: 'POST',
        headers: { key, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body).toString(),
      });
    const exchange = (key: string, subject: string, tenant: string) =>
      form(key, {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: subject,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        tenant,
      });
    const inTnt1 = ((await login(base, A, 'roamer', '123456')).body as TokenPair).access_token;
    const list = await request(base, '/urac/user/tenants', { headers: { key: A, access_token: inTnt1 } });
    t.same(
      (list.body as { data: { code: string; current: boolean }[] }).data.map((d) => [d.code, d.current]),
      [
        ['TNT1', true],
        ['TNT2', false],
      ],
      'TNT1 and TNT2, TNT1 current',
    );

    const r = await exchange(A, inTnt1, 'TNT2');
    t.equal(r.status, 200);
    t.match(r.body, { token_type: 'bearer', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', tenant: { id: TNT2_ID, code: 'TNT2' } });
    const inTnt2 = (r.body as TokenPair).access_token;
    const me = await request(base, '/urac/user/me', { headers: { key: DEMO_KEYS.TNT2, access_token: inTnt2 } });
    t.equal(me.status, 200, "/urac/user/me with TNT2's key and the new token");
    t.match(me.body, { result: true, data: { username: 'roamer' } });
    const now2 = await request(base, '/urac/user/tenants', { headers: { key: DEMO_KEYS.TNT2, access_token: inTnt2 } });
    t.same(
      (now2.body as { data: { code: string; current: boolean }[] }).data.map((d) => [d.code, d.current]),
      [
        ['TNT1', false],
        ['TNT2', true],
      ],
      'TNT2 current',
    );
    const b = await request(base, `/example03/testGet?firstName=R&lastName=R&access_token=${inTnt2}`, { headers: { key: DEMO_KEYS.TNT2 } });
    t.same(b.body, { result: true, data: { firstName: 'R', lastName: 'R' } }, "TNT2's groups (silver → PROD1_PCK2) apply");
    t.same((await request(base, '/urac/user/me', { headers: { key: A, access_token: inTnt2 } })).body, soajsError(146, 'Unauthorized to access.'), 'not with a TNT1 key');
    t.equal((await request(base, '/urac/user/me', { headers: { key: A, access_token: inTnt1 } })).status, 200, 'the TNT1 token still works for TNT1');

    const tnt3 = await exchange(A, inTnt1, 'TNT3');
    t.equal(tnt3.status, 403);
    t.same(tnt3.body, soajsError(403, 'No access to tenant "TNT3": it is not one of the user\'s tenants'));
    const bad = await exchange(A, 'not.a.token', 'TNT2');
    t.equal(bad.status, 400);
    t.same(bad.body, soajsError(400, 'Invalid subject token: not a valid access token'));
    const picked = await form(A, { grant_type: 'password', username: 'roamer', password: '123456', tenant: 'TNT3' });
    t.same(picked.body, soajsError(403, 'No access to tenant "TNT3": it is not one of the user\'s tenants'), 'nor at login');

    const admin = ((await login(base, OWNER_KEY, 'admin', 'tessera-admin')).body as TokenPair).access_token;
    const audit = await request(base, '/registry/audit?resource=login&actor=roamer', { headers: { key: OWNER_KEY, access_token: admin } });
    t.equal(audit.status, 200);
    const entries = (audit.body as { data: { records: { action: string; details: Record<string, unknown> }[] } }).data.records;
    t.ok(entries.some((e) => e.action === 'token-exchange' && e.details['to'] === 'TNT2' && e.details['outcome'] === 'issued'), 'the switch is audited');
    t.ok(entries.some((e) => e.action === 'token-exchange' && e.details['to'] === 'TNT3' && e.details['outcome'] === 'refused'), 'the refusal too');
  });

  t.test('refresh rotates: the new pair works, the old refresh token does not', async (t) => {
    const old = tokens['user2']!;
    const r = await request(base, '/oauth/token', {
      method: 'POST',
      headers: { key: A, 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: old.refresh_token }),
    });
    t.equal(r.status, 200);
    const fresh = r.body as TokenPair;
    t.not(fresh.refresh_token, old.refresh_token);
    const again = await request(base, '/oauth/token', {
      method: 'POST',
      headers: { key: A, 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: old.refresh_token }),
    });
    t.equal(again.status, 400);
    t.same(again.body, soajsError(400, 'Invalid refresh token'));
    const use = await request(base, `/example03/buildName?lastName=X&access_token=${fresh.access_token}`, { headers: { key: A } });
    t.equal(use.status, 200);
    tokens['user2'] = fresh;
  });

  t.test('logout, then the token is refused at once', async (t) => {
    const token = tokens['user3']!.access_token;
    const before = await request(base, `/example03/buildName?lastName=X&access_token=${token}`, { headers: { key: A } });
    t.equal(before.status, 200);
    const out = await request(base, `/oauth/accessToken/${token}`, { method: 'DELETE', headers: { key: A } });
    t.same(out.body, { result: true, data: 1 });
    const after = await request(base, `/example03/buildName?lastName=X&access_token=${token}`, { headers: { key: A } });
    t.equal(after.status, 401);
    t.same(after.body, soajsError(401, 'The access token provided is invalid.'));
  });

  t.test('revoking every token of a user', async (t) => {
    const token = tokens['user2']!.access_token;
    const r = await request(base, `/oauth/tokens/user/5c8d0c505653de3985aa0ffe?access_token=${token}`, { method: 'DELETE', headers: { key: A } });
    t.equal(r.status, 200);
    const after = await request(base, `/example03/buildName?lastName=X&access_token=${token}`, { headers: { key: A } });
    t.equal(after.status, 401);
    const relogin = await login(base, A, 'user2', '123456');
    t.equal(relogin.status, 200);
    const works = await request(base, `/example03/buildName?lastName=X&access_token=${(relogin.body as TokenPair).access_token}`, { headers: { key: A } });
    t.equal(works.status, 200, 'a login after the revocation works');
  });
});
