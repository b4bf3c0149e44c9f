import { createHash, randomBytes } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import t from 'tap';
import { Client } from 'undici';
import { RequestContext } from '../../gateway/context.js';
import { Decision } from '../../gateway/decision.js';
import { DecisionMemo } from '../../gateway/decision-memo.js';
import { KeyCache } from '../../registry/view/cache.js';
import { hashPasswordSync } from '../../registry/control/password.js';
import type { Acl, Group, Product, Service, Tenant, User } from '../../registry/view/types.js';
import { startOauth } from '../../services/oauth/index.js';
import { getJson, type TokenPair } from '../helpers/demo.js';
import { extKey, settle, startTestGateway } from '../helpers/gateway.js';
import { startEchoService } from '../helpers/servers.js';
import { signedInject } from '../helpers/inject.js';

/**
 * A connection's next request, when it is the same as its last allowed one, reuses that decision
 * (gateway/decision-memo.ts). Every test here talks over ONE client connection, so the kept
 * decision is always there to be (wrongly) reused: whatever changes must still apply at once.
 */

const TID = 'aaaaaaaaaaaaaaaaaaaaaaaa';
const IKEY = '0123456789abcdef0123456789abcdef';
const KEY = randomBytes(64).toString('hex');
const KEY2 = randomBytes(64).toString('hex');
const KEY3 = randomBytes(64).toString('hex');

const oauthAcl = { '1': { access: false, post: { apis: { '/token': { access: false } } }, delete: { apis: { '/accessToken/:token': { access: false } } } } };
const svcAcl = { '1': { access: false, apis: { '/public': { access: false }, '/private': { access: true }, '/admins': { access: ['admin'] } } } };
const product = (acl: Acl): Product => ({ code: 'P', name: 'P', packages: [{ code: 'P_MAIN', name: 'main', acl: { dev: acl } }] });
const products = [product({ oauth: oauthAcl, svc: svcAcl })];

const tenant: Tenant = {
  id: TID,
  code: 'T1',
  name: 'Tenant T1',
  type: 'client',
  oauth: { secret: 'shh' },
  applications: [
    {
      appId: `${TID.slice(0, 20)}0001`,
      product: 'P',
      package: 'P_MAIN',
      keys: [{ key: IKEY, config: { dev: { svc: { n: 1 } } }, extKeys: [extKey(KEY), extKey(KEY2), extKey(KEY3, { geo: { deny: ['10.0.0.0/8'] } })] }],
    },
  ],
};
const flags = { extKeyRequired: true, oauth: true, urac: true };
const services: Service[] = [
  { name: 'svc', port: 1, versions: { '1': flags } },
  { name: 'oauth', port: 1, versions: { '1': { extKeyRequired: true, oauth: true, urac: true } } },
];
const groups: Group[] = [{ id: `${TID}:admin`, code: 'admin', name: 'Admins', tenant: { id: TID, code: 'T1' } }];
const user = (id: string, username: string, groupsOf: string[]): User => ({
  id,
  username,
  passwordHash: hashPasswordSync('secret-1'),
  firstName: 'A',
  lastName: 'B',
  email: `${username}@example.com`,
  status: 'active',
  groups: groupsOf,
  tenant: { id: TID, code: 'T1' },
});
const ALICE = 'u00000000000000000000001';
const users = [user(ALICE, 'alice', ['admin']), user('u00000000000000000000002', 'bob', [])];

// The loopback is a trusted proxy: X-Forwarded-For sets the client address the geo rules see.
/** The gateway's and the oauth service's clock: a test moves it instead of sleeping. */
const clock = { offset: 0 };
const now = () => Date.now() + clock.offset;
const gw = await startTestGateway({ products, tenants: [tenant], services, groups, users, auth: true, clock: now, config: { 'gateway.trustedProxies': ['127.0.0.1/32'] } });
t.teardown(() => gw.close());
const oauth = await startOauth({ port: 0, store: gw.store, env: 'dev', accessTokenSeconds: 60, refreshTokenSeconds: 600, injectSecret: gw.secret, throttle: gw.config.security.login, now });
t.teardown(() => oauth.close());
const echo = await startEchoService();
t.teardown(() => echo.close());
await gw.store.registerHost({ service: 'oauth', version: '1', host: '127.0.0.1', port: oauth.port, maintenancePort: oauth.maintenancePort });
await gw.store.registerHost({ service: 'svc', version: '1', host: '127.0.0.1', port: echo.port, maintenancePort: echo.maintenance.port });
await settle(gw);

/** One TCP connection for the whole file: undici's Client never opens a second one. */
const conn = new Client(gw.url, { pipelining: 1 });
t.teardown(() => conn.close());
let connections = 0;
gw.gateway.server.on('connection', () => connections++);

async function call(path: string, headers: Record<string, string> = {}, method: 'GET' | 'POST' | 'DELETE' = 'GET') {
  const r = await conn.request({ path, method, headers: { key: KEY, ...headers } });
  const text = await r.body.text();
  return { status: r.statusCode, body: JSON.parse(text) as { errors?: { codes: number[] } } };
}
const code = (r: { body: { errors?: { codes: number[] } } }) => r.body.errors?.codes[0];
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
/** The token with the first character of its signature changed: a full 6 bits, never the same signature (a last character may carry only 2). */
function forged(token: string): string {
  const dot = token.lastIndexOf('.') + 1;
  return `${token.slice(0, dot)}${token[dot] === 'A' ? 'B' : 'A'}${token.slice(dot + 1)}`;
}
async function reused(): Promise<number> {
  const r = await getJson(`http://127.0.0.1:${gw.maintenancePort}/awarenessStat`);
  return (r.body as { data: { decisions: { reused: number } } }).data.decisions.reused;
}
async function tokenOf(username: string): Promise<string> {
  const r = await conn.request({
    path: '/oauth/token',
    method: 'POST',
    headers: { key: KEY, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password: 'secret-1', grant_type: 'password' }).toString(),
  });
  const body = (await r.body.json()) as TokenPair;
  if (r.statusCode !== 200) throw new Error(`${username} could not log in: ${r.statusCode} ${JSON.stringify(body)}`);
  return body.access_token;
}
const alice = await tokenOf('alice');
const bob = await tokenOf('bob');

t.test('a repeated request is answered from its decision, and the upstream still gets the full context', async (t) => {
  const before = await reused();
  echo.seen.length = 0;
  for (let i = 0; i < 3; i++) t.equal((await call('/svc/admins', bearer(alice))).status, 200);
  t.equal((await reused()) - before, 2, 'the second and third were not decided again');
  t.equal(echo.seen.length, 3);
  for (const seen of echo.seen) t.match(seen.inject, { urac: { username: 'alice', groups: ['admin'] }, key: { config: { svc: { n: 1 } } } });
  t.equal(connections, 1, 'all over one connection');
});

t.test('another token, key, path, method or query is decided anew; a denial is never kept', async (t) => {
  t.equal((await call('/svc/admins', bearer(alice))).status, 200);
  let before = await reused();
  t.equal(code(await call('/svc/admins', bearer(bob))), 160, "bob's token: not in a group with access");
  t.equal(code(await call('/svc/admins', bearer(forged(alice)))), 401, 'a forged token after a good one');
  t.equal(code(await call('/svc/admins', { ...bearer(alice), key: `${KEY.slice(0, -1)}${KEY.endsWith('0') ? '1' : '0'}` })), 148, 'a forged key after a good one');
  t.equal(code(await call('/svc/admins')), 400, 'no token');
  t.equal((await reused()) - before, 0, 'none of those was answered from the kept decision');
  t.equal((await call('/svc/admins', bearer(alice))).status, 200);
  t.equal((await reused()) - before, 0, 'a denial left nothing kept: decided anew');
  t.equal((await call('/svc/admins', bearer(alice))).status, 200);
  t.equal((await reused()) - before, 1, 'and kept again');
  t.equal(code(await call('/svc/admins', { 'access_token': bob })), 160, "bob's token in the access_token header");
  t.equal((await call('/svc/admins', { 'access_token': alice })).status, 200);
  t.equal(code(await call('/svc/admins', { 'access_token': bob })), 160, 'and again right after alice\'s in the same header');
  t.equal((await reused()) - before, 1);
  before = await reused();
  t.equal((await call('/svc/admins', { ...bearer(alice), key: KEY2 })).status, 200, "the key's other ext key");
  t.equal((await call('/svc/nothing', bearer(alice))).status, 200, 'an unlisted API of a public service');
  t.equal((await call('/svc/public')).status, 200);
  t.equal((await call('/svc/public', {}, 'DELETE')).status, 200, 'the same path with another method');
  t.equal((await call('/svc/public?x=1')).status, 200, 'another query');
  t.equal((await call('/svc/private', bearer(bob))).status, 200, 'bob may call a login-only API');
  t.equal(code(await call('/svc/admins', bearer(bob))), 160, 'and right after it, with the same token, still not the admins one');
  t.equal((await call('/svc/public', { 'user-agent': 'agent-a' })).status, 200);
  echo.seen.length = 0;
  t.equal((await call('/svc/public', { 'user-agent': 'agent-b' })).status, 200, 'another User-Agent');
  t.match(echo.seen[0]?.inject, { device: 'agent-b' }, 'its own device in the injected context');
  t.equal((await reused()) - before, 0, 'each differed from the one before');
});

t.test('a user change applies at once on the same connection', async (t) => {
  await call('/svc/admins', bearer(alice));
  t.equal((await call('/svc/admins', bearer(alice))).status, 200);
  const current = (await gw.store.get('user', ALICE))!;
  await gw.store.put('user', { ...current.doc, groups: [] });
  t.equal(code(await call('/svc/admins', bearer(alice))), 160, 'no longer an admin');
  await gw.store.put('user', { ...current.doc, status: 'inactive' });
  t.equal(code(await call('/svc/private', bearer(alice))), 146, 'inactive');
  await gw.store.put('user', current.doc);
  t.equal((await call('/svc/admins', bearer(alice))).status, 200, 'restored');
});

t.test('a key change applies at once on the same connection', async (t) => {
  await call('/svc/public');
  t.equal((await call('/svc/public')).status, 200);
  const expired = { ...tenant, applications: [{ ...tenant.applications[0]!, keys: [{ ...tenant.applications[0]!.keys[0]!, extKeys: [extKey(KEY, { expDate: Date.now() - 1000 }), extKey(KEY2)] }] }] };
  await gw.store.put('tenant', expired);
  t.equal(code(await call('/svc/public')), 148, 'the ext key expired');
  await gw.store.put('tenant', tenant);
  t.equal((await call('/svc/public')).status, 200, 'restored');
});

t.test('an ext key that expires is refused on the same connection', async (t) => {
  const expiring = { ...tenant, applications: [{ ...tenant.applications[0]!, keys: [{ ...tenant.applications[0]!.keys[0]!, extKeys: [extKey(KEY, { expDate: now() + 1500 }), extKey(KEY2)] }] }] };
  await gw.store.put('tenant', expiring);
  await call('/svc/public');
  const before = await reused();
  t.equal((await call('/svc/public')).status, 200);
  t.equal((await reused()) - before, 1, 'reused while valid');
  clock.offset += 1700;
  t.equal(code(await call('/svc/public')), 148, 'expired: refused although its decision was kept');
  await gw.store.put('tenant', tenant);
  t.equal((await call('/svc/public')).status, 200, 'restored');
});

t.test('an ACL change applies at once on the same connection', async (t) => {
  await call('/svc/private', bearer(alice));
  t.equal((await call('/svc/private', bearer(alice))).status, 200);
  await gw.store.put('product', product({ oauth: oauthAcl }));
  await settle(gw);
  t.equal(code(await call('/svc/private', bearer(alice))), 154, 'svc left the package');
  await gw.store.put('product', products[0]!);
  await settle(gw);
  t.equal((await call('/svc/private', bearer(alice))).status, 200, 'restored');
});

t.test('a revoked token is refused at once on the same connection', async (t) => {
  const token = await tokenOf('alice');
  await call('/svc/private', bearer(token));
  const before = await reused();
  t.equal((await call('/svc/private', bearer(token))).status, 200);
  t.equal((await reused()) - before, 1, 'kept');
  // A logout, as the oauth service records it, made elsewhere (not over this connection).
  const { jti, exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string; exp: number };
  await gw.store.put('revocation', { id: `jti:${jti}`, expiresAt: exp * 1000 });
  await settle(gw);
  t.equal(code(await call('/svc/private', bearer(token))), 401, 'refused after the logout');
  t.equal((await call('/svc/private', bearer(alice))).status, 200, "alice's other token still works");
});

t.test('the client address is part of the request: a geo rule applies to each', async (t) => {
  const from = (ip: string) => ({ key: KEY3, 'x-forwarded-for': ip });
  t.equal((await call('/svc/public', from('192.168.1.1'))).status, 200);
  const before = await reused();
  t.equal((await call('/svc/public', from('192.168.1.1'))).status, 200);
  t.equal((await reused()) - before, 1, 'kept for the same address');
  t.equal(code(await call('/svc/public', from('10.0.0.5'))), 155, 'a denied address right after an allowed one');
  t.equal((await call('/svc/public', { key: KEY, 'x-forwarded-for': '10.0.0.5' })).status, 200, 'another ext key without the rule');
  t.equal(code(await call('/svc/public', from('10.0.0.5'))), 155, 'and right after it, the same address with the key that has it');
});

t.test('a legacy SOAJS token is never answered from a kept decision', async (t) => {
  const access = 'cfb209a91b23896820f510aadbf1f4284b512123';
  const id = createHash('sha256').update(access).digest('hex');
  await gw.store.put('legacyToken', { id, type: 'access', userId: ALICE, tenantId: TID, env: 'dev', expiresAt: Date.now() + 3_600_000 });
  const before = await reused();
  t.equal((await call(`/svc/private?access_token=${access}`)).status, 200);
  t.equal((await call(`/svc/private?access_token=${access}`)).status, 200);
  t.equal((await reused()) - before, 0, 'decided each time: its document is what a logout deletes');
  await gw.store.delete('legacyToken', id);
  t.equal(code(await call(`/svc/private?access_token=${access}`)), 401, 'logged out');
});

t.test('a token that expires is refused on the same connection', async (t) => {
  const short = await startOauth({ port: 0, store: gw.store, env: 'dev', accessTokenSeconds: 2, refreshTokenSeconds: 600, injectSecret: gw.secret, throttle: gw.config.security.login, now });
  t.teardown(() => short.close());
  const r = await fetch(`http://127.0.0.1:${short.port}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...signedInject(gw.secret, JSON.stringify({ tenant: { id: TID, code: 'T1', name: 'Tenant T1' }, key: { config: {}, iKey: IKEY, eKey: KEY }, application: { product: 'P', package: 'P_MAIN', appId: 'a' } })),
    },
    body: JSON.stringify({ username: 'alice', password: 'secret-1' }),
  });
  const token = ((await r.json()) as TokenPair).access_token;
  await call('/svc/private', bearer(token));
  const before = await reused();
  t.equal((await call('/svc/private', bearer(token))).status, 200);
  t.equal((await reused()) - before, 1, 'reused while fresh');
  clock.offset += 2600;
  t.equal(code(await call('/svc/private', bearer(token))), 401, 'expired: refused although its decision was kept');
});

t.test('a kept decision is handed on by reference, whole: every decided field, none of the request\'s own', async (t) => {
  const socket = new Socket();
  const context = () => {
    const req = new IncomingMessage(socket);
    req.method = 'GET';
    req.url = '/svc/x';
    return new RequestContext(req, new ServerResponse(req), gw.sync.current());
  };
  const memo = new DecisionMemo(new KeyCache(gw.store, 'dev', 10), null);
  const decided = context();
  const fields = Object.keys(new Decision());
  t.ok(fields.length > 20, `${fields.length} decided fields`);
  for (const k of fields) if (k !== 'key' && k !== 'token' && k !== 'tokenClaims') (decided as unknown as Record<string, unknown>)[k] = { marker: k };
  memo.remember(decided);
  const next = context();
  t.not(next.decision, decided.decision, 'a new request starts with a decision of its own');
  t.ok(memo.reuse(next), 'the same request on the same connection reuses the decision');
  t.equal(next.decision, decided.decision, 'the very same object, not a copy');
  for (const k of fields) t.same((next as unknown as Record<string, unknown>)[k], (decided as unknown as Record<string, unknown>)[k], `${k} reads through`);
  t.not(next.req, decided.req, 'the request stays its own');
  t.not(next.headers, decided.headers, 'and so do its headers');
});

t.test('the connection was the same throughout', async (t) => {
  t.equal(connections, 1);
});
