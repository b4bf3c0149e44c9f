import { randomBytes } from 'node:crypto';
import { decodeJwt, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import t, { type Test } from 'tap';
import { hashPasswordSync } from '../../registry/control/password.js';
import type { AuditEntry, Product, Service, Tenant, User } from '../../registry/view/types.js';
import { startOauth } from '../../services/oauth/index.js';
import { startUrac } from '../../services/urac/index.js';
import { login, request, soajsError, type TokenPair } from '../helpers/demo.js';
import { extKey, settle, startTestGateway } from '../helpers/gateway.js';
import { startEchoService } from '../helpers/servers.js';

/**
 * Issue 17 §7, tenant choice for users, through a real gateway with the real oauth and urac
 * services: list one's tenants, pick one at login, switch with an RFC 8693 token exchange, and
 * every refusal (no token ever leaves for a tenant the user is not a member of).
 */

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const REFRESH = 'urn:ietf:params:oauth:token-type:refresh_token';

const ids = { A: 'a'.repeat(24), B: 'b'.repeat(24), C: 'c'.repeat(24), L: 'd'.repeat(24) } as const;
const keys = { A: randomBytes(64).toString('hex'), B: randomBytes(64).toString('hex'), C: randomBytes(64).toString('hex'), L: randomBytes(64).toString('hex') };
type Name = keyof typeof ids;

const oauthAcl = {
  '1': {
    access: false,
    post: { apis: { '/token': { access: false } } },
    delete: { apis: { '/accessToken/:token': { access: false }, '/tokens/user/:userId': { access: true } } },
  },
};
const uracAcl = { '3': { access: false, apisPermission: 'restricted' as const, get: { apis: { '/user/tenants': { access: true }, '/user/me': { access: true } } } } };
const products: Product[] = [
  { code: 'P', name: 'P', packages: [{ code: 'P_MAIN', name: 'main', acl: { dev: { oauth: oauthAcl, urac: uracAcl, svc: { '1': { access: true } } } } }] },
];

function tenant(name: Name, extra: Partial<Tenant> = {}): Tenant {
  return {
    id: ids[name],
    code: `T${name}`,
    name: `Tenant ${name}`,
    type: 'product',
    oauth: { secret: `secret of ${name}` },
    applications: [{ appId: `app${name}`, product: 'P', package: 'P_MAIN', keys: [{ key: name.toLowerCase().repeat(32), extKeys: [extKey(keys[name])] }] }],
    ...extra,
  };
}

const services: Service[] = [
  { name: 'oauth', port: 1, versions: { '1': { extKeyRequired: true, oauth: true, urac: true } } },
  { name: 'urac', port: 1, versions: { '3': { extKeyRequired: true, oauth: true, urac: true } } },
  { name: 'svc', port: 1, versions: { '1': { extKeyRequired: true, oauth: true, urac: true } } },
];

const ROAMER_ID = 'r00000000000000000000001';
/** Home A; invited into B and into the locked L; never into C. */
const roamer: User = {
  id: ROAMER_ID,
  username: 'roamer',
  passwordHash: hashPasswordSync('roam-pw-1'),
  firstName: 'Rosa',
  lastName: 'Roamer',
  email: 'roamer@example.com',
  status: 'active',
  groups: ['staffA'],
  tenant: { id: ids.A, code: 'TA' },
  config: {
    allowedTenants: [
      { tenant: { id: ids.B, code: 'TB' }, groups: ['staffB'] },
      { tenant: { id: ids.L, code: 'TL' }, groups: [] },
    ],
  },
};

interface Answer {
  status: number;
  body: Record<string, unknown> & Partial<TokenPair>;
}

t.test('tenant choice: list, pick at login, switch', async (t) => {
  const gw = await startTestGateway({
    products,
    tenants: [tenant('A'), tenant('B'), tenant('C'), tenant('L', { locked: true })],
    services,
    users: [roamer],
    auth: true,
  });
  t.teardown(() => gw.close());
  const base = { port: 0, store: gw.store, injectSecret: gw.secret };
  const oauth = await startOauth({ ...base, env: 'dev', accessTokenSeconds: 60, refreshTokenSeconds: 600, throttle: gw.config.security.login });
  t.teardown(() => oauth.close());
  const urac = await startUrac(base);
  t.teardown(() => urac.close());
  const echo = await startEchoService();
  t.teardown(() => echo.close());
  for (const [service, version, s] of [
    ['oauth', '1', oauth],
    ['urac', '3', urac],
  ] as const) {
    await gw.store.registerHost({ service, version, host: '127.0.0.1', port: s.port, maintenancePort: s.maintenancePort });
  }
  await gw.store.registerHost({ service: 'svc', version: '1', host: '127.0.0.1', port: echo.port, maintenancePort: echo.maintenance.port });
  await settle(gw);

  const token = async (key: string, body: Record<string, string>) => (await request(gw.url, '/oauth/token', {
    method: 'POST',
    headers: { key, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body).toString(),
  })) as Answer;
  const exchange = (key: string, subject: string, extra: Record<string, string> = {}) =>
    token(key, { grant_type: EXCHANGE, subject_token: subject, subject_token_type: ACCESS, ...extra });
  const get = (path: string, key: string, access?: string) =>
    request(gw.url, path, { headers: { key, ...(access ? { authorization: `Bearer ${access}` } : {}) } });
  const audits = async (action: string) =>
    (await gw.store.list('audit')).map((v) => v.doc as AuditEntry).filter((a) => a.action === action);
  const refused = (t: Test, r: Answer, status: number, code: number, message: string, what: string) => {
    t.equal(r.status, status, `${what}: HTTP ${status}`);
    t.same(r.body, soajsError(code, message), `${what}: ${code}`);
    t.notOk('access_token' in r.body, `${what}: no token`);
  };

  const first = await login(gw.url, keys.A, 'roamer', 'roam-pw-1');
  t.equal(first.status, 200, 'roamer logs in with A\'s key, as today');
  const pairA = first.body as TokenPair & { tenant: unknown };
  t.same(pairA.tenant, { id: ids.A, code: 'TA' }, 'the answer says which tenant the token is for');
  const inA = pairA.access_token;

  t.test('GET /urac/user/tenants lists the memberships, and only those', async (t) => {
    const r = await get('/urac/user/tenants', keys.A, inA);
    t.equal(r.status, 200);
    t.same((r.body as { data: unknown }).data, [
      { id: ids.A, code: 'TA', name: 'Tenant A', groups: ['staffA'], home: true, current: true },
      { id: ids.B, code: 'TB', name: 'Tenant B', groups: ['staffB'], home: false, current: false },
      { id: ids.L, code: 'TL', name: 'Tenant L', groups: [], home: false, current: false },
    ]);
    t.notOk(JSON.stringify(r.body).includes('secret of'), 'nothing of the tenants beyond id, code and name');
  });

  t.test('switch to B with A\'s token, then use B\'s key', async (t) => {
    const r = await exchange(keys.A, inA, { tenant: 'TB' });
    t.equal(r.status, 200);
    t.equal(r.body['issued_token_type'], ACCESS);
    t.same(r.body['tenant'], { id: ids.B, code: 'TB' });
    t.equal(r.body.token_type, 'bearer');
    t.notOk('refresh_token' in r.body, 'an access token buys no refresh token');
    const inB = r.body.access_token!;
    const claims = decodeJwt(inB);
    t.equal(claims['tid'], ids.B, 'bound to B');
    t.equal(claims.exp, decodeJwt(inA).exp, 'expires with its subject, never later');
    t.ok(r.body.expires_in! <= 60 && r.body.expires_in! > 0);

    echo.seen.length = 0;
    const call = await get('/svc/anything', keys.B, inB);
    t.equal(call.status, 200, 'a user-level API with B\'s key and the new token');
    const inject = echo.seen[0]!.inject as { tenant: { id: string; code: string }; urac: { _id: string; groups: string[] } };
    t.match(inject, { tenant: { id: ids.B, code: 'TB' }, urac: { _id: ROAMER_ID, groups: ['staffB'] } }, 'soajsinjectobj: tenant B, B\'s groups');
    const list = await get('/urac/user/tenants', keys.B, inB);
    t.same(
      (list.body as { data: { code: string; current: boolean }[] }).data.map((d) => [d.code, d.current]),
      [
        ['TA', false],
        ['TB', true],
        ['TL', false],
      ],
    );
    t.same((await get('/svc/anything', keys.A, inB)).body, soajsError(146, 'Unauthorized to access.'), 'the B token with A\'s key: 146');
    t.equal((await get('/svc/anything', keys.A, inA)).status, 200, 'a switch is no logout: the A token still works for A');

    const back = await exchange(keys.A, inB, { tenant: ids.A });
    t.equal(back.status, 200, 'and back, by id');
    t.equal(decodeJwt(back.body.access_token!).exp, decodeJwt(inA).exp, 'switching back and forth never extends a token');
  });

  t.test('the key of the target tenant needs no "tenant"; "audience" names it too', async (t) => {
    const r = await exchange(keys.B, inA);
    t.equal(r.status, 200);
    t.equal(decodeJwt(r.body.access_token!)['tid'], ids.B, "the key's tenant by default");
    t.equal((await get('/svc/x', keys.B, r.body.access_token)).status, 200);
    const aud = await exchange(keys.A, inA, { audience: 'TB' });
    t.equal(decodeJwt(aud.body.access_token!)['tid'], ids.B);
    const both = await exchange(keys.A, inA, { audience: 'TB', tenant: 'TA' });
    refused(t, both, 400, 400, '"tenant" and "audience" name different tenants: send one', 'tenant and audience differ');
  });

  t.test('a refresh token switches to a full pair that expires with it', async (t) => {
    const r = await token(keys.A, { grant_type: EXCHANGE, subject_token: pairA.refresh_token, subject_token_type: REFRESH, tenant: 'TB' });
    t.equal(r.status, 200);
    t.type(r.body.refresh_token, 'string');
    t.equal(r.body.expires_in, 60);
    const onA = await token(keys.A, { grant_type: 'refresh_token', refresh_token: r.body.refresh_token! });
    refused(t, onA, 400, 400, 'Invalid refresh token', "B's refresh token with A's key");
    const onB = await token(keys.B, { grant_type: 'refresh_token', refresh_token: r.body.refresh_token! });
    t.equal(onB.status, 200, "B's refresh token refreshes with B's key");
    t.equal(decodeJwt(onB.body.access_token!)['tid'], ids.B);
    // Used up, as by the refresh grant: a copy of it (stolen) cannot be exchanged or refreshed again.
    const again = await token(keys.A, { grant_type: EXCHANGE, subject_token: pairA.refresh_token, subject_token_type: REFRESH, tenant: 'TB' });
    t.equal(again.status, 400, 'the subject refresh token was used up by the exchange');
    const refreshed = await token(keys.A, { grant_type: 'refresh_token', refresh_token: pairA.refresh_token });
    refused(t, refreshed, 400, 400, 'Invalid refresh token', 'and no longer refreshes either');
  });

  t.test('pick at login', async (t) => {
    const r = await token(keys.A, { grant_type: 'password', username: 'roamer', password: 'roam-pw-1', tenant: 'TB' });
    t.equal(r.status, 200);
    t.same(r.body['tenant'], { id: ids.B, code: 'TB' });
    t.equal((await get('/svc/x', keys.B, r.body.access_token)).status, 200, 'the picked token works with B\'s key');
    const own = await token(keys.A, { grant_type: 'password', username: 'roamer', password: 'roam-pw-1', tenant: 'TA' });
    t.equal(decodeJwt(own.body.access_token!)['tid'], ids.A, "naming the key's own tenant is the plain login");
    const c = await token(keys.A, { grant_type: 'password', username: 'roamer', password: 'roam-pw-1', tenant: 'TC' });
    refused(t, c, 403, 403, 'No access to tenant "TC": it is not one of the user\'s tenants', 'not a member of C');
    const unknown = await token(keys.A, { grant_type: 'password', username: 'roamer', password: 'roam-pw-1', tenant: 'NOPE' });
    refused(t, unknown, 403, 403, 'No access to tenant "NOPE": it is not one of the user\'s tenants', 'an unknown tenant: the same answer');
    const locked = await token(keys.A, { grant_type: 'password', username: 'roamer', password: 'roam-pw-1', tenant: 'TL' });
    refused(t, locked, 403, 416, 'Tenant "TL" is locked: no token is issued for it by a tenant choice', 'a locked tenant');
    const wrong = await token(keys.A, { grant_type: 'password', username: 'roamer', password: 'nope-nope', tenant: 'TB' });
    refused(t, wrong, 401, 401, 'Unable to log in. Credential error or mismatch', 'a wrong password, whatever the tenant');
    const viaC = await token(keys.C, { grant_type: 'password', username: 'roamer', password: 'roam-pw-1', tenant: 'TB' });
    refused(t, viaC, 401, 401, 'Unable to log in. Credential error or mismatch', "C's key: the user is not one of C's, as today");
    const entries = await audits('login-tenant-choice');
    t.match(
      entries.map((a) => a.details),
      [{ to: 'TB', outcome: 'issued' }, { to: 'TC', outcome: 'refused', code: 403 }, { to: 'NOPE', outcome: 'refused' }, { to: 'TL', outcome: 'refused', code: 416 }],
    );
  });

  t.test('exchange refusals: target, key, request', async (t) => {
    refused(t, await exchange(keys.A, inA, { tenant: 'TC' }), 403, 403, 'No access to tenant "TC": it is not one of the user\'s tenants', 'not a member of C');
    refused(t, await exchange(keys.A, inA, { tenant: ids.C }), 403, 403, `No access to tenant "${ids.C}": it is not one of the user's tenants`, 'C by id');
    refused(t, await exchange(keys.C, inA), 403, 403, 'No access to tenant "TC": it is not one of the user\'s tenants', "through C's key");
    refused(t, await exchange(keys.A, inA, { tenant: 'TL' }), 403, 416, 'Tenant "TL" is locked: no token is issued for it by a tenant choice', 'a locked tenant');
    const jwt = 'urn:ietf:params:oauth:token-type:jwt';
    refused(
      t,
      await token(keys.A, { grant_type: EXCHANGE, subject_token: inA, subject_token_type: jwt, tenant: 'TB' }),
      400,
      400,
      `Unsupported subject_token_type "${jwt}": use urn:ietf:params:oauth:token-type:access_token or urn:ietf:params:oauth:token-type:refresh_token`,
      'another subject_token_type',
    );
    refused(t, await token(keys.A, { grant_type: EXCHANGE, subject_token: inA, tenant: 'TB' }), 400, 400, 'Missing parameters. "subject_token" and "subject_token_type" are required', 'no type');
    refused(
      t,
      await token(keys.A, { grant_type: EXCHANGE, subject_token: pairA.refresh_token, subject_token_type: ACCESS, tenant: 'TB' }),
      400,
      400,
      'Invalid subject token: not a valid access token',
      'a refresh token said to be an access token',
    );
    refused(t, await exchange(keys.A, inA, { tenant: 'TB', actor_token: inA }), 400, 400, "actor_token is not supported: a tenant switch exchanges the user's own token", 'delegation');
    const audit = await audits('token-exchange');
    t.ok(audit.some((a) => a.details?.['to'] === 'TC' && a.details['outcome'] === 'refused' && a.actor.tenantId === ids.A), 'a refused switch is audited');
    t.ok(audit.some((a) => a.details?.['to'] === 'TB' && a.details['outcome'] === 'issued' && a.actor.userId === ROAMER_ID), 'an issued one too');
  });

  t.test('invalid, forged, expired and revoked subject tokens', async (t) => {
    const invalid = 'Invalid subject token: not a valid access token';
    refused(t, await exchange(keys.A, 'not-a-token', { tenant: 'TB' }), 400, 400, invalid, 'garbage');
    const { privateKey } = await generateKeyPair('ES256');
    const s = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ tid: ids.A, env: 'dev', ims: Date.now() })
      .setProtectedHeader({ alg: 'ES256', kid: oauth.kid })
      .setIssuer('tessera')
      .setSubject(ROAMER_ID)
      .setJti('forged')
      .setIssuedAt(s)
      .setExpirationTime(s + 60)
      .sign(privateKey);
    refused(t, await exchange(keys.A, forged, { tenant: 'TB' }), 400, 400, invalid, 'our kid, another key');

    const fresh = ((await login(gw.url, keys.A, 'roamer', 'roam-pw-1')).body as TokenPair).access_token;
    const out = await request(gw.url, `/oauth/accessToken/${fresh}`, { method: 'DELETE', headers: { key: keys.A } });
    t.same(out.body, { result: true, data: 1 });
    refused(t, await exchange(keys.A, fresh, { tenant: 'TB' }), 400, 400, 'Invalid subject token: it is revoked', 'logged out');

    // Signed with the service's own key an hour ago: the services check the gateway's signature on real time, so no clock moves.
    const past = s - 3600;
    const expired = await new SignJWT({ tid: ids.A, tcode: 'TA', env: 'dev', ims: past * 1000 })
      .setProtectedHeader({ alg: 'ES256', kid: oauth.kid, typ: 'JWT' })
      .setIssuer('tessera')
      .setSubject(ROAMER_ID)
      .setJti('expired')
      .setIssuedAt(past)
      .setExpirationTime(past + 60)
      .sign(await importJWK(oauth.signingKey.privateJwk as JWK, 'ES256'));
    refused(t, await exchange(keys.A, expired, { tenant: 'TB' }), 400, 400, 'Invalid subject token: it has expired', 'expired');
    const genuine = await new SignJWT({ tid: ids.A, tcode: 'TA', env: 'dev', ims: s * 1000 })
      .setProtectedHeader({ alg: 'ES256', kid: oauth.kid, typ: 'JWT' })
      .setIssuer('tessera')
      .setSubject(ROAMER_ID)
      .setJti('genuine')
      .setIssuedAt(s)
      .setExpirationTime(s + 60)
      .sign(await importJWK(oauth.signingKey.privateJwk as JWK, 'ES256'));
    t.equal((await exchange(keys.A, genuine, { tenant: 'TB' })).status, 200, 'the same, unexpired, passes: the refusal above is the expiry');
  });

  t.test('a user no longer active gets nothing', async (t) => {
    const live = ((await login(gw.url, keys.A, 'roamer', 'roam-pw-1')).body as TokenPair).access_token;
    const found = (await gw.store.get('user', ROAMER_ID))!;
    await gw.store.put('user', { ...found.doc, status: 'inactive' }, { ifVersion: found.version });
    await settle(gw);
    refused(t, await exchange(keys.A, live, { tenant: 'TB' }), 403, 405, 'The user account is not active', 'inactive');
    const again = (await gw.store.get('user', ROAMER_ID))!;
    const { allowedTenants: _, ...config } = again.doc.config ?? {};
    await gw.store.put('user', { ...again.doc, status: 'active', config }, { ifVersion: again.version });
    await settle(gw);
    refused(t, await exchange(keys.A, live, { tenant: 'TB' }), 403, 403, 'No access to tenant "TB": it is not one of the user\'s tenants', 'uninvited from B');
  });

  t.test('a logout of every token of the user kills subject tokens too', async (t) => {
    const live = ((await login(gw.url, keys.A, 'roamer', 'roam-pw-1')).body as TokenPair).access_token;
    // ims is in ms and a revocation covers tokens issued before it: let one ms pass.
    await new Promise((r) => setTimeout(r, 2));
    const r = await request(gw.url, `/oauth/tokens/user/${ROAMER_ID}`, { method: 'DELETE', headers: { key: keys.A, authorization: `Bearer ${live}` } });
    t.equal(r.status, 200);
    refused(t, await exchange(keys.A, live), 400, 400, 'Invalid subject token: it is revoked', 'all revoked');
  });

  t.test('a loop of exchanges on one valid token is throttled per user (each writes an audit entry)', async (t) => {
    const fresh = ((await login(gw.url, keys.A, 'roamer', 'roam-pw-1')).body as TokenPair).access_token;
    let passed = 0;
    let last: Answer | null = null;
    for (let i = 0; i < 40; i++) {
      last = await exchange(keys.A, fresh);
      if (last.status !== 200) break;
      passed++;
    }
    t.ok(passed <= 30, `${passed} exchanges passed before the throttle (${JSON.stringify(last?.body)})`);
    refused(t, last!, 429, 429, 'Too many token exchanges for this user; try again in 60 s', 'past 30 in a row');
  });
});
