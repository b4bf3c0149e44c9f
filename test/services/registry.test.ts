import { fileURLToPath } from 'node:url';
import t from 'tap';
import { hashExtKey, keyHint } from '../../registry/view/keys.js';
import { hashPasswordSync } from '../../registry/control/password.js';
import { readSeed } from '../../registry/control/seed.js';
import type { Group, Product, Service, Tenant, User } from '../../registry/view/types.js';
import { startOauth } from '../../services/oauth/index.js';
import { startRegistry } from '../../services/registry/index.js';
import { DEMO_KEYS, login, OWNER_KEY, request, soajsError, TNT2_ID, type TokenPair } from '../helpers/demo.js';
import { settle, startTestGateway } from '../helpers/gateway.js';
import { startEchoService } from '../helpers/servers.js';
import { signedInject } from '../helpers/inject.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- parsed JSON answers */

/**
 * The registry admin service over real HTTP through a real gateway (auth on, the demo data, the
 * oauth service, the owner's package ACL): every resource is created, read (ETag), written with a
 * stale If-Match (412, unchanged), refused when invalid (400 naming the field) and audited; the
 * gateway applies each change on the very next request; secrets never come back.
 */

const DEMO = fileURLToPath(new URL('../../../config/demo', import.meta.url));
const OWNER_ID = '4f0ad5f5320801d9e6bfb051';
const ADMIN_ID = '5c8d0c505653de3985aa1001';
const TNT2_APP = 'b14997337f28f381b7d0de02';
const TNT2_IKEY = '503e081e576c7b122ad8b5bb336e7ef0';
const VIEWER_PASSWORD = 'viewer-pass-Q7x9';
const NEW_SECRET = 'tnt9-oauth-secret-Zq81';
const NEW_SECRET_2 = 'tnt9-oauth-secret-rotated-Wm55';

const STALE = (v: number) => soajsError(412, `The document changed since you read it (version ${v}); reload and retry.`);

interface Answer {
  status: number;
  body: any;
  etag: string | null;
  headers: Headers;
}

/** Everything the registry answered, to scan for secrets at the end. */
interface Seen {
  what: string;
  text: string;
  /** The plaintext ext key this answer is allowed to carry (the one it created). */
  created: string | null;
}

t.test('registry service through the gateway', async (t) => {
  const seed = readSeed(DEMO);
  const of = <T>(kind: string) => seed.filter((d) => d.kind === kind).map((d) => structuredClone(d.doc) as T);
  const demoTenants = of<Tenant>('tenant');
  const gw = await startTestGateway({
    products: of<Product>('product'),
    tenants: demoTenants,
    services: of<Service>('service'),
    users: of<User>('user'),
    groups: of<Group>('group'),
    auth: true,
  });
  t.teardown(() => gw.close());
  const oauth = await startOauth({ port: 0, store: gw.store, env: 'dev', accessTokenSeconds: 600, refreshTokenSeconds: 600, injectSecret: gw.secret, throttle: gw.config.security.login });
  t.teardown(() => oauth.close());
  const registry = await startRegistry({ port: 0, store: gw.store, env: 'dev', injectSecret: gw.secret, ownerTenant: 'OWNER' });
  t.teardown(() => registry.close());
  const echo = await startEchoService();
  t.teardown(() => echo.close());
  await gw.store.registerHost({ service: 'oauth', version: '1', host: '127.0.0.1', port: oauth.port, maintenancePort: oauth.maintenancePort });
  await gw.store.registerHost({ service: 'registry', version: '1', host: '127.0.0.1', port: registry.port, maintenancePort: registry.maintenancePort });
  await gw.store.registerHost({ service: 'example03', version: '1', host: '127.0.0.1', port: echo.port, maintenancePort: echo.maintenance.port });

  // A read-only administrator: group `viewer` of the owner tenant.
  await gw.store.put('group', { id: `${OWNER_ID}:viewer`, code: 'viewer', name: 'Viewers', tenant: { id: OWNER_ID, code: 'OWNER' } });
  await gw.store.put('user', {
    id: '5c8d0c505653de3985aa2002',
    username: 'viewer',
    passwordHash: hashPasswordSync(VIEWER_PASSWORD),
    firstName: 'Read',
    lastName: 'Only',
    email: 'viewer@tessera.local',
    status: 'active',
    groups: ['viewer'],
    tenant: { id: OWNER_ID, code: 'OWNER' },
  });
  await settle(gw);

  const tokenOf = async (username: string, password: string) => {
    const r = await login(gw.url, OWNER_KEY, username, password);
    t.equal(r.status, 200, `${username} logs in with the owner key`);
    return (r.body as TokenPair).access_token;
  };
  const admin = await tokenOf('admin', 'tessera-admin');
  const viewer = await tokenOf('viewer', VIEWER_PASSWORD);

  const seen: Seen[] = [];
  /** Ext keys the API created (plaintext), to look for everywhere they must not be. */
  const plainKeys: string[] = [];

  async function api(
    method: string,
    path: string,
    opts: { token?: string | null; body?: unknown; ifMatch?: string; contentType?: string } = {},
  ): Promise<Answer> {
    const token = opts.token === undefined ? admin : opts.token;
    const headers: Record<string, string> = { key: OWNER_KEY };
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    if (opts.ifMatch !== undefined) headers['if-match'] = opts.ifMatch;
    if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? (method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
    const res = await fetch(`${gw.url}/registry${path}`, {
      method,
      headers,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    const body = JSON.parse(text) as any;
    const created = typeof body?.data?.extKey === 'string' ? (body.data.extKey as string) : null;
    if (created !== null) plainKeys.push(created);
    seen.push({ what: `${method} ${path}`, text, created });
    return { status: res.status, body, etag: res.headers.get('etag'), headers: res.headers };
  }

  /** A call of the demo example03 (the echo upstream) through the gateway with an ext key. */
  const buildName = (key: string) => request(gw.url, '/example03/buildName?lastName=Smith', { headers: { key } });

  const messageOf = (a: Answer): string => a.body?.errors?.details?.[0]?.message ?? '';

  t.test('callers: a login is needed, viewers read, owners write', async (t) => {
    const none = await api('GET', '/products', { token: null });
    t.equal(none.status, 400, 'no token: 400');
    t.same(none.body, soajsError(400, 'The access token was not found'));

    const read = await api('GET', '/products', { token: viewer });
    t.equal(read.status, 200, 'a viewer reads');
    const one = await api('GET', '/products/PROD1', { token: viewer });
    t.equal(one.status, 200);

    const denied = soajsError(160, 'You do not belong to a group with access to this system API.');
    const post = await api('POST', '/products', { token: viewer, body: { code: 'VIEW', name: 'v', packages: [] } });
    t.equal(post.status, 401);
    t.same(post.body, denied, 'a viewer cannot create');
    const put = await api('PUT', '/products/PROD1', { token: viewer, body: { name: 'x', packages: [] } });
    t.same(put.body, denied, 'nor replace');
    const patch = await api('PATCH', '/products/PROD1', { token: viewer, body: { name: 'x' } });
    t.same(patch.body, denied, 'nor patch');
    const del = await api('DELETE', '/services/example03', { token: viewer });
    t.same(del.body, denied, 'nor delete');
    t.equal((await gw.store.get('product', 'VIEW')), null, 'nothing was created');
    t.equal((await gw.store.get('product', 'PROD1'))!.doc.name, 'Product one', 'nothing was changed');

    // The service's own check, called as the gateway would but without a logged-in user.
    const direct = await fetch(`http://127.0.0.1:${registry.port}/products`, {
      headers: signedInject(
        gw.secret,
        JSON.stringify({
          tenant: { id: OWNER_ID, code: 'OWNER', name: 'Tessera Owner' },
          key: { iKey: '542fba38e716cfb11745fb585a52d77d', eKey: 'x', config: {} },
          application: { product: 'TSRA', package: 'TSRA_OWNER', appId: 'd8643564579dc0e19b6ae990' },
        }),
      ),
    });
    t.equal(direct.status, 401);
    t.same(await direct.json(), soajsError(401, 'You need to be logged in.'), 'no urac in the context: 401');
    const bare = await fetch(`http://127.0.0.1:${registry.port}/products`);
    t.equal(bare.status, 500, 'not through the gateway: 142');
    t.equal(((await bare.json()) as any).errors.codes[0], 142);
  });

  t.test('products: list, create, read, replace, patch, stale writes, validation, delete', async (t) => {
    const list = await api('GET', '/products');
    t.equal(list.status, 200);
    t.same(list.body.data.records.map((p: Product) => p.code), ['EXAMP', 'PROD1', 'TSRA']);
    t.match(list.body.data, { total: 3, start: 0, limit: 50 });
    const paged = await api('GET', '/products?start=1&limit=1');
    t.same(paged.body.data.records.map((p: Product) => p.code), ['PROD1']);
    t.match(paged.body.data, { total: 3, start: 1, limit: 1 });
    const badLimit = await api('GET', '/products?limit=0');
    t.equal(badLimit.status, 400);
    t.match(messageOf(badLimit), /query field "limit"/);

    const created = await api('POST', '/products', { body: { code: 'PROD9', name: 'Nine', packages: [] } });
    t.equal(created.status, 201);
    t.equal(created.etag, '"1"', 'ETag is the quoted version');
    t.same(created.body, { result: true, data: { code: 'PROD9', name: 'Nine', packages: [] } });
    const again = await api('POST', '/products', { body: { code: 'PROD9', name: 'Nine again' } });
    t.equal(again.status, 409);
    t.same(again.body, soajsError(409, 'Product "PROD9" already exists.'));

    const got = await api('GET', '/products/PROD9');
    t.equal(got.etag, '"1"');
    t.equal(got.body.data.name, 'Nine');
    t.equal((await api('GET', '/products/NOPE')).status, 404);

    const bad = await api('POST', '/products', { body: { code: 'bad code', name: 'x' } });
    t.equal(bad.status, 400);
    t.match(messageOf(bad), /field "code"/);
    const badPkg = await api('POST', '/products', {
      body: { code: 'PROD8', name: 'x', packages: [{ code: 'OTHER_X', name: 'x', acl: {} }] },
    });
    t.equal(badPkg.status, 400);
    t.match(messageOf(badPkg), /field "packages\[0\]\.code" must start with "PROD8_"/);
    const unknown = await api('POST', '/products', { body: { code: 'PROD8', name: 'x', colour: 'red' } });
    t.match(messageOf(unknown), /body field "colour" is not a known field/);
    t.equal(await gw.store.get('product', 'PROD8'), null, 'nothing stored');

    const replaced = await api('PUT', '/products/PROD9', { ifMatch: '"1"', body: { name: 'Nine v2', packages: [] } });
    t.equal(replaced.status, 200);
    t.equal(replaced.etag, '"2"');
    const stale = await api('PUT', '/products/PROD9', { ifMatch: '"1"', body: { name: 'lost update', packages: [] } });
    t.equal(stale.status, 412);
    t.same(stale.body, STALE(2));
    const after = await api('GET', '/products/PROD9');
    t.equal(after.etag, '"2"', 'the stale write changed nothing');
    t.equal(after.body.data.name, 'Nine v2');
    const renamed = await api('PUT', '/products/PROD9', { body: { code: 'PROD7', name: 'x', packages: [] } });
    t.equal(renamed.status, 400);
    t.match(messageOf(renamed), /field "code" cannot be changed/);

    const patched = await api('PATCH', '/products/PROD9', { ifMatch: '"2"', body: { description: 'ninth' } });
    t.equal(patched.status, 200);
    t.equal(patched.etag, '"3"');
    t.same(patched.body.data, { code: 'PROD9', name: 'Nine v2', description: 'ninth', packages: [] }, 'merged, not replaced');
    const removed = await api('PATCH', '/products/PROD9', { body: { description: null }, contentType: 'application/json' });
    t.equal(removed.etag, '"4"');
    t.notOk('description' in removed.body.data, 'null removes a member (RFC 7396)');
    const stalePatch = await api('PATCH', '/products/PROD9', { ifMatch: '"3"', body: { name: 'lost' } });
    t.same(stalePatch.body, STALE(4));
    const badPatch = await api('PATCH', '/products/PROD9', { body: { name: '' } });
    t.equal(badPatch.status, 400);
    t.match(messageOf(badPatch), /field "name"/);
    const badType = await api('PATCH', '/products/PROD9', { body: { name: 'x' }, contentType: 'text/plain' });
    t.equal(badType.status, 415);
    t.equal((await gw.store.get('product', 'PROD9'))!.version, 4, 'refused writes changed nothing');

    const inUse = await api('DELETE', '/products/PROD1');
    t.equal(inUse.status, 409);
    t.match(messageOf(inUse), /Product "PROD1" is still used by: .*tenant TNT1 .*30d2cb5fc04ce51e06000001.*tenant TNT2 .*b14997337f28f381b7d0de02.*tenant TNT3/);
    t.ok(await gw.store.get('product', 'PROD1'), 'PROD1 kept');

    const staleDelete = await api('DELETE', '/products/PROD9', { ifMatch: '"3"' });
    t.same(staleDelete.body, STALE(4));
    const deleted = await api('DELETE', '/products/PROD9', { ifMatch: '"4"' });
    t.equal(deleted.status, 200);
    t.equal((await api('GET', '/products/PROD9')).status, 404);

    const trail = await api('GET', '/audit?resource=product&resourceId=PROD9');
    t.same(
      trail.body.data.records.map((e: any) => [e.action, e.before, e.after]),
      [
        ['delete', 4, null],
        ['patch', 3, 4],
        ['patch', 2, 3],
        ['replace', 1, 2],
        ['create', null, 1],
      ],
      'every successful write, newest first, with versions',
    );
    t.match(trail.body.data.records[0].actor, { userId: ADMIN_ID, username: 'admin', tenantId: OWNER_ID, tenantCode: 'OWNER' });
  });

  t.test('packages: the ACL lives in the package', async (t) => {
    const acl = { dev: { example03: { '1': { access: false } } } };
    const v0 = (await gw.store.get('product', 'PROD1'))!.version;
    const created = await api('POST', '/products/PROD1/packages', { body: { code: 'PROD1_PCK9', name: 'nine', acl } });
    t.equal(created.status, 201);
    t.equal(created.etag, `"${v0 + 1}"`, 'ETag: the product version');
    t.same(created.body.data, { code: 'PROD1_PCK9', name: 'nine', acl });
    t.equal((await api('POST', '/products/PROD1/packages', { body: { code: 'PROD1_PCK9', name: 'x', acl } })).status, 409);
    const wrongPrefix = await api('POST', '/products/PROD1/packages', { body: { code: 'EXAMP_X', name: 'x', acl } });
    t.equal(wrongPrefix.status, 400);
    t.same(wrongPrefix.body, soajsError(400, 'package: field "code" must start with "PROD1_"'), 'named as in the request');
    const badAcl = await api('POST', '/products/PROD1/packages', { body: { code: 'PROD1_X', name: 'x', acl: { dev: { example03: { '1': { access: 'yes' } } } } } });
    t.equal(badAcl.status, 400);
    t.match(messageOf(badAcl), /field "acl\.dev\.example03/);
    const missing = await api('POST', '/products/PROD1/packages', { body: { code: 'PROD1_X', name: 'x' } });
    t.same(missing.body, soajsError(400, 'body field "acl" is required'));

    const got = await api('GET', '/products/PROD1/packages/PROD1_PCK9');
    t.equal(got.etag, `"${v0 + 1}"`);
    t.same(got.body.data, created.body.data);
    const replaced = await api('PUT', '/products/PROD1/packages/PROD1_PCK9', { ifMatch: got.etag!, body: { name: 'nine b', acl } });
    t.equal(replaced.etag, `"${v0 + 2}"`);
    const stale = await api('PUT', '/products/PROD1/packages/PROD1_PCK9', { ifMatch: got.etag!, body: { name: 'lost', acl: {} } });
    t.same(stale.body, STALE(v0 + 2));
    t.equal((await api('GET', '/products/PROD1/packages/PROD1_PCK9')).body.data.name, 'nine b', 'unchanged');
    const patched = await api('PATCH', '/products/PROD1/packages/PROD1_PCK9', { body: { description: 'd', acl: { dev: { urac: { '3': { access: false } } } } } });
    t.same(patched.body.data.acl, { dev: { example03: { '1': { access: false } }, urac: { '3': { access: false } } } }, 'ACL merged');
    const badPatch = await api('PATCH', '/products/PROD1/packages/PROD1_PCK9', { body: { acl: { dev: { example03: { '1': { apisPermission: 'all' } } } } } });
    t.equal(badPatch.status, 400);
    t.match(messageOf(badPatch), /body field "acl\.dev\.example03\.1\.apisPermission"/);

    const inUse = await api('DELETE', '/products/PROD1/packages/PROD1_PCK2');
    t.equal(inUse.status, 409);
    t.match(messageOf(inUse), /Package "PROD1_PCK2" is still used by: tenant TNT2 \(54ee28cc203674ba271d57a4\) application b14997337f28f381b7d0de02/);
    const dropByPut = await api('PATCH', '/products/PROD1', { body: { packages: [] } });
    t.equal(dropByPut.status, 409, 'dropping used packages through the product is refused too');
    const deleted = await api('DELETE', '/products/PROD1/packages/PROD1_PCK9');
    t.equal(deleted.status, 200);
    t.equal((await api('GET', '/products/PROD1/packages/PROD1_PCK9')).status, 404);

    const trail = await api('GET', '/audit?resource=package&resourceId=PROD1_PCK9');
    t.same(
      trail.body.data.records.map((e: any) => e.action),
      ['delete', 'patch', 'replace', 'create'],
    );
    t.same(trail.body.data.records[0].details, { product: 'PROD1' });
  });

  let tnt9 = '';
  let app9 = '';
  let key9 = '';

  t.test('tenants: the oauth secret and ext key hashes never come back', async (t) => {
    const list = await api('GET', '/tenants');
    t.equal(list.body.data.total, 5);
    const tnt2 = list.body.data.records.find((x: any) => x.id === TNT2_ID);
    t.same(tnt2.oauth, { secret: '***', loginMode: 'urac' }, 'secret masked');
    t.same(tnt2.applications[0].keys[0].extKeys, [
      { id: keyHint(DEMO_KEYS.TNT2), hint: keyHint(DEMO_KEYS.TNT2), env: 'dev', expDate: null, geo: null, device: null, label: 'TNT2' },
    ]);

    const created = await api('POST', '/tenants', { body: { code: 'TNT9', name: 'Client Nine', type: 'client', oauth: { secret: NEW_SECRET, loginMode: 'urac' } } });
    t.equal(created.status, 201);
    t.equal(created.etag, '"1"');
    tnt9 = created.body.data.id;
    t.match(tnt9, /^[0-9a-f]{24}$/);
    t.same(created.body.data, { id: tnt9, code: 'TNT9', name: 'Client Nine', type: 'client', oauth: { secret: '***', loginMode: 'urac' }, applications: [] });
    t.equal((await gw.store.get('tenant', tnt9))!.doc.oauth?.secret, NEW_SECRET, 'stored as given');
    t.equal((await api('POST', '/tenants', { body: { code: 'TNT9', name: 'x', type: 'client' } })).status, 409, 'codes are unique');
    const withApps = await api('POST', '/tenants', { body: { code: 'TNTX', name: 'x', type: 'client', applications: [] } });
    t.equal(withApps.status, 400);
    t.match(messageOf(withApps), /body field "applications" cannot be written here/);
    const badType = await api('POST', '/tenants', { body: { code: 'TNTX', name: 'x', type: 'customer' } });
    t.equal(badType.status, 400);
    t.match(messageOf(badType), /body field "type"/);

    const replaced = await api('PUT', `/tenants/${tnt9}`, { ifMatch: '"1"', body: { name: 'Client 9', type: 'client', oauth: { loginMode: 'urac' } } });
    t.equal(replaced.status, 200);
    t.equal(replaced.etag, '"2"');
    t.equal((await gw.store.get('tenant', tnt9))!.doc.oauth?.secret, NEW_SECRET, 'a PUT without the secret keeps it');
    const stale = await api('PUT', `/tenants/${tnt9}`, { ifMatch: '"1"', body: { name: 'lost', type: 'client' } });
    t.same(stale.body, STALE(2));
    const masked = await api('PATCH', `/tenants/${tnt9}`, { ifMatch: '"2"', body: { description: 'nine', oauth: { secret: '***' } } });
    t.equal(masked.etag, '"3"');
    t.equal((await gw.store.get('tenant', tnt9))!.doc.oauth?.secret, NEW_SECRET, 'the mask keeps it');
    const rotated = await api('PATCH', `/tenants/${tnt9}`, { body: { oauth: { secret: NEW_SECRET_2 } } });
    t.same(rotated.body.data.oauth, { secret: '***', loginMode: 'urac' });
    t.equal((await gw.store.get('tenant', tnt9))!.doc.oauth?.secret, NEW_SECRET_2, 'a new secret is stored');
    const stalePatch = await api('PATCH', `/tenants/${tnt9}`, { ifMatch: '"3"', body: { name: 'lost' } });
    t.same(stalePatch.body, STALE(4));
    t.equal((await api('GET', `/tenants/${tnt9}`)).body.data.name, 'Client 9', 'unchanged');
    const idChange = await api('PATCH', `/tenants/${tnt9}`, { body: { id: 'other' } });
    t.match(messageOf(idChange), /field "id" cannot be changed/);

    const trail = await api('GET', `/audit?resource=tenant&resourceId=${tnt9}`);
    t.same(
      trail.body.data.records.map((e: any) => e.action),
      ['patch', 'patch', 'replace', 'create'],
    );
  });

  t.test('applications and keys of a tenant', async (t) => {
    const noPkg = await api('POST', `/tenants/${tnt9}/applications`, { body: { product: 'PROD1', package: 'PROD1_NOPE' } });
    t.equal(noPkg.status, 400);
    t.match(messageOf(noPkg), /body field "package"/);
    const noProduct = await api('POST', `/tenants/${tnt9}/applications`, { body: { product: 'NOPE', package: 'NOPE_X' } });
    t.match(messageOf(noProduct), /body field "product"/);
    t.equal((await api('POST', '/tenants/nope/applications', { body: { product: 'PROD1', package: 'PROD1_PCK2' } })).status, 404);

    const created = await api('POST', `/tenants/${tnt9}/applications`, { body: { product: 'PROD1', package: 'PROD1_PCK2', description: 'nine' } });
    t.equal(created.status, 201);
    app9 = created.body.data.appId;
    t.match(app9, /^[0-9a-f]{24}$/);
    t.same(created.body.data, { appId: app9, product: 'PROD1', package: 'PROD1_PCK2', description: 'nine', keys: [] });
    const got = await api('GET', `/tenants/${tnt9}/applications/${app9}`);
    t.equal(got.etag, created.etag);

    const patched = await api('PATCH', `/tenants/${tnt9}/applications/${app9}`, { ifMatch: got.etag!, body: { description: 'Nine!' } });
    t.equal(patched.status, 200);
    const stale = await api('PATCH', `/tenants/${tnt9}/applications/${app9}`, { ifMatch: got.etag!, body: { description: 'lost' } });
    t.equal(stale.status, 412);
    t.equal((await api('GET', `/tenants/${tnt9}/applications/${app9}`)).body.data.description, 'Nine!', 'unchanged');
    const badPkg = await api('PATCH', `/tenants/${tnt9}/applications/${app9}`, { body: { package: 'PROD1_NOPE' } });
    t.match(messageOf(badPkg), /body field "package"/);
    const badAcl = await api('PATCH', `/tenants/${tnt9}/applications/${app9}`, { body: { acl: { dev: { example03: { '1': { access: 3 } } } } } });
    t.equal(badAcl.status, 400);
    t.match(messageOf(badAcl), /acl\.dev\.example03/);

    const key = await api('POST', `/tenants/${tnt9}/applications/${app9}/keys`, { body: { config: { dev: { example03: { tenantName: 'Nine' } } } } });
    t.equal(key.status, 201);
    key9 = key.body.data.key;
    t.match(key9, /^[0-9a-f]{32}$/);
    t.same(key.body.data, { key: key9, config: { dev: { example03: { tenantName: 'Nine' } } }, extKeys: [] });

    const ext = await api('POST', `/tenants/${tnt9}/applications/${app9}/keys/${key9}/extKeys`, { body: { label: 'first' } });
    t.equal(ext.status, 201);
    const plain = ext.body.data.extKey as string;
    t.match(plain, /^[0-9a-f]{128}$/, '512 bits, lower-case hex');
    t.same(ext.body.data, { extKey: plain, hint: keyHint(plain), env: 'dev', expDate: null, label: 'first' });
    t.equal(ext.headers.get('cache-control'), 'no-store');
    const stored = (await gw.store.get('tenant', tnt9))!.doc.applications[0]!.keys[0]!.extKeys[0]!;
    t.same(stored, { keyHash: hashExtKey(plain), hint: keyHint(plain), env: 'dev', expDate: null, label: 'first' }, 'only the hash is stored');
    const past = await api('POST', `/tenants/${tnt9}/applications/${app9}/keys/${key9}/extKeys`, { body: { expDate: 1000 } });
    t.equal(past.status, 400);
    t.match(messageOf(past), /body field "expDate" is in the past/);
    const badGeo = await api('POST', `/tenants/${tnt9}/applications/${app9}/keys/${key9}/extKeys`, { body: { geo: { allow: ['not-a-cidr'] } } });
    t.equal(badGeo.status, 400);
    t.match(messageOf(badGeo), /^extKey: field "geo\.allow" /, 'named as in the request');

    const first = await buildName(plain);
    t.equal(first.status, 200, 'the new key works at once');
    t.same((first.body as any).data.inject.key.config, { example03: { tenantName: 'Nine' } });

    const cfg = await api('PUT', `/tenants/${tnt9}/applications/${app9}/keys/${key9}/config`, { body: { dev: { example03: { tenantName: 'Nine B' } } } });
    t.equal(cfg.status, 200);
    const second = await buildName(plain);
    t.same((second.body as any).data.inject.key.config, { example03: { tenantName: 'Nine B' } }, 'key config applies on the next request');
    const badCfg = await api('PUT', `/tenants/${tnt9}/applications/${app9}/keys/${key9}/config`, { body: { dev: 'x' } });
    t.equal(badCfg.status, 400);
    t.match(messageOf(badCfg), /body field "dev"/);

    const keys = await api('GET', `/tenants/${tnt9}/applications/${app9}/keys`);
    t.same(keys.body.data, [
      {
        key: key9,
        config: { dev: { example03: { tenantName: 'Nine B' } } },
        extKeys: [{ id: keyHint(plain), hint: keyHint(plain), env: 'dev', expDate: null, geo: null, device: null, label: 'first' }],
      },
    ]);

    const appTrail = await api('GET', `/audit?resource=application&resourceId=${app9}`);
    t.same(appTrail.body.data.records.map((e: any) => e.action), ['patch', 'create']);
    const keyTrail = await api('GET', `/audit?resource=key&resourceId=${key9}`);
    t.same(keyTrail.body.data.records.map((e: any) => e.action), ['set-key-config', 'create-key']);
    const extTrail = await api('GET', `/audit?resource=extKey&resourceId=${keyHint(plain)}`);
    t.same(extTrail.body.data.records.map((e: any) => [e.action, e.details]), [
      ['create-ext-key', { tenant: tnt9, appId: app9, key: key9, hint: keyHint(plain) }],
    ]);

    const delApp = await api('DELETE', `/tenants/${tnt9}/applications/${app9}`);
    t.equal(delApp.status, 200);
    t.equal((await buildName(plain)).status, 403, 'its keys died with the application');
    const delTenant = await api('DELETE', `/tenants/${tnt9}`, { ifMatch: '"1"' });
    t.equal(delTenant.status, 412, 'stale');
    t.equal((await api('DELETE', `/tenants/${tnt9}`)).status, 200);
    t.equal((await api('GET', `/tenants/${tnt9}`)).status, 404);
  });

  t.test('changes apply on the very next request through the gateway', async (t) => {
    const key = DEMO_KEYS.TNT2;
    const ok = (r: { status: number }) => r.status === 200;
    t.ok(ok(await buildName(key)), 'warm: TNT2 reaches example03');

    // The package ACL: remove example03 from PROD1_PCK2.
    const noExample = await api('PATCH', '/products/PROD1/packages/PROD1_PCK2', { body: { acl: { dev: { example03: null } } } });
    t.equal(noExample.status, 200);
    await settle(gw);
    const denied = await buildName(key);
    t.equal(denied.status, 401);
    t.same(denied.body, soajsError(154, 'Access denied: The service is not available in your current package.'), 'package ACL change applied');
    await api('PATCH', '/products/PROD1/packages/PROD1_PCK2', { body: { acl: { dev: { example03: { '1': { access: false } } } } } });
    await settle(gw);
    t.ok(ok(await buildName(key)), 'and back');

    // The application: move TNT2's application to a package without example03.
    await api('PATCH', `/tenants/${TNT2_ID}/applications/${TNT2_APP}`, { body: { package: 'PROD1_PCK1' } });
    t.equal((await buildName(key)).status, 401, 'application package change applied');
    await api('PATCH', `/tenants/${TNT2_ID}/applications/${TNT2_APP}`, { body: { package: 'PROD1_PCK2' } });
    t.ok(ok(await buildName(key)), 'and back');

    // The service: delete example03, then create it again.
    const svc = (await api('GET', '/services/example03')).body.data as Service;
    t.equal((await api('DELETE', '/services/example03')).status, 200);
    await settle(gw);
    const unknown = await buildName(key);
    t.same(unknown.body, soajsError(130, 'Unknown service.'), 'service deletion applied');
    t.equal((await api('POST', '/services', { body: svc })).status, 201);
    await settle(gw);
    t.ok(ok(await buildName(key)), 'and back');

    // Keys: list to find the hint, create and use at once, rotate, revoke.
    const base = `/tenants/${TNT2_ID}/applications/${TNT2_APP}/keys/${TNT2_IKEY}`;
    const listed = await api('GET', `/tenants/${TNT2_ID}/applications/${TNT2_APP}/keys`);
    const hint = listed.body.data[0].extKeys[0].hint as string;
    t.equal(hint, keyHint(key));

    const made = await api('POST', `${base}/extKeys`, { body: { label: 'second' } });
    const second = made.body.data.extKey as string;
    t.ok(ok(await buildName(second)), 'a new ext key works on the next request');
    t.ok(ok(await buildName(key)), 'the old one too');

    const before = Date.now();
    const rotated = await api('POST', `${base}/extKeys/${hint}/rotate`, { body: { overlapSeconds: 3600 } });
    t.equal(rotated.status, 201);
    const third = rotated.body.data.extKey as string;
    t.match(rotated.body.data, { hint: keyHint(third), env: 'dev', label: 'TNT2', previous: { hint } });
    t.ok(ok(await buildName(third)), 'the rotated-in key works at once');
    t.ok(ok(await buildName(key)), 'the rotated-out key works during the overlap');
    const afterRotate = await api('GET', `${base}`);
    const old = afterRotate.body.data.extKeys.find((e: any) => e.hint === hint);
    t.ok(old.expDate >= before + 3600_000 && old.expDate <= Date.now() + 3600_000, 'the old key expires after the overlap');

    const rotated0 = await api('POST', `${base}/extKeys/${keyHint(second)}/rotate`, { body: { overlapSeconds: 0 } });
    const fourth = rotated0.body.data.extKey as string;
    t.equal((await buildName(second)).status, 403, 'no overlap: the old key is refused at once');
    t.ok(ok(await buildName(fourth)));

    const current = await api('GET', base);
    const staleRevoke = await api('DELETE', `${base}/extKeys/${hint}`, { ifMatch: `"${Number(JSON.parse(current.etag!)) - 1}"` });
    t.equal(staleRevoke.status, 412);
    t.ok(ok(await buildName(key)), 'a stale revoke revokes nothing');
    const revoked = await api('DELETE', `${base}/extKeys/${hint}`, { ifMatch: current.etag! });
    t.equal(revoked.status, 200);
    const gone = await buildName(key);
    t.equal(gone.status, 403);
    t.same(gone.body, soajsError(148, 'Unable to load the key information'), 'revoked on the next request');
    t.ok(ok(await buildName(third)), 'the other keys still work');
    t.equal((await api('DELETE', `${base}/extKeys/${hint}`)).status, 404);

    const actions = (await api('GET', `/audit?resourceId=${hint}`)).body.data.records.map((e: any) => e.action);
    t.same(actions, ['revoke-ext-key', 'rotate-ext-key']);
  });

  t.test('services', async (t) => {
    const body = { name: 'svc9', port: 4999, versions: { '1': { extKeyRequired: true } } };
    const created = await api('POST', '/services', { body });
    t.equal(created.status, 201);
    t.equal(created.etag, '"1"');
    t.same(created.body.data, body);
    t.equal((await api('POST', '/services', { body })).status, 409);
    const badPort = await api('POST', '/services', { body: { ...body, name: 'svc8', port: 0 } });
    t.equal(badPort.status, 400);
    t.match(messageOf(badPort), /body field "port"/);
    const badVersions = await api('POST', '/services', { body: { ...body, name: 'svc8', versions: {} } });
    t.match(messageOf(badVersions), /body field "versions"/);

    const list = await api('GET', '/services?limit=2');
    t.same(list.body.data.records.map((s: Service) => s.name), ['example03', 'oauth']);
    t.equal(list.body.data.total, 5);

    const replaced = await api('PUT', '/services/svc9', { ifMatch: '"1"', body: { port: 4998, versions: body.versions } });
    t.equal(replaced.etag, '"2"');
    const stale = await api('PUT', '/services/svc9', { ifMatch: '"1"', body: { port: 1, versions: body.versions } });
    t.same(stale.body, STALE(2));
    const patched = await api('PATCH', '/services/svc9', { body: { requestTimeout: 5, versions: { '2': { extKeyRequired: false } } } });
    t.same(patched.body.data, { name: 'svc9', port: 4998, requestTimeout: 5, versions: { '1': { extKeyRequired: true }, '2': { extKeyRequired: false } } });
    const badPatch = await api('PATCH', '/services/svc9', { body: { requestTimeout: -1 } });
    t.match(messageOf(badPatch), /body field "requestTimeout"/);
    const got = await api('GET', '/services/svc9');
    t.equal(got.etag, '"3"');
    t.equal((await api('DELETE', '/services/svc9', { ifMatch: '"2"' })).status, 412);
    t.equal((await api('DELETE', '/services/svc9', { ifMatch: '"3"' })).status, 200);
    const trail = await api('GET', '/audit?resource=service&resourceId=svc9');
    t.same(trail.body.data.records.map((e: any) => e.action), ['delete', 'patch', 'replace', 'create']);
  });

  t.test('audit: filters, paging, newest first', async (t) => {
    const all = await api('GET', '/audit?limit=500');
    const records = all.body.data.records as any[];
    t.equal(all.body.data.total, records.length);
    const ids = records.map((e) => e.id as string);
    t.same(ids, [...ids].sort().reverse(), 'newest first');
    for (const e of records) t.match(e.id, /^\d{13}-[0-9a-f]{12}$/);
    t.same(
      [...new Set(records.map((e) => e.action))].sort(),
      ['create', 'create-ext-key', 'create-key', 'delete', 'patch', 'replace', 'revoke-ext-key', 'rotate-ext-key', 'set-key-config'],
    );
    t.ok(records.every((e) => e.actor.userId === ADMIN_ID && e.actor.tenantCode === 'OWNER'));

    const byActor = await api('GET', '/audit?actor=viewer', { token: viewer });
    t.equal(byActor.status, 200, 'viewers read the audit log');
    t.equal(byActor.body.data.total, 0, 'viewers wrote nothing');
    t.equal((await api('GET', `/audit?actor=${ADMIN_ID}`)).body.data.total, records.length);

    await new Promise((resolve) => setTimeout(resolve, 5));
    const since = Date.now();
    await api('PATCH', '/services/example03', { body: { requestTimeout: 31 } });
    const recent = await api('GET', `/audit?since=${since}`);
    t.same(recent.body.data.records.map((e: any) => [e.action, e.resource, e.resourceId]), [['patch', 'service', 'example03']]);
    const iso = await api('GET', `/audit?until=${encodeURIComponent(new Date(since - 1).toISOString())}`);
    t.equal(iso.body.data.total, records.length, 'until (ISO) leaves the newer one out');
    const now = (await api('GET', '/audit?limit=3')).body.data.records.map((e: any) => e.id);
    t.equal(now[0], recent.body.data.records[0].id, 'the newest first');
    const page = await api('GET', '/audit?start=1&limit=2');
    t.same(page.body.data.records.map((e: any) => e.id), now.slice(1, 3));
    t.match(page.body.data, { total: records.length + 1, start: 1, limit: 2 });
    t.equal((await api('GET', '/audit?since=yesterday')).status, 400);
  });

  t.test('no secret in any answer or audit entry', async (t) => {
    const secrets = [
      ...plainKeys,
      ...Object.values(DEMO_KEYS),
      OWNER_KEY,
      ...demoTenants.map((x) => x.oauth?.secret).filter((s): s is string => s !== undefined),
      NEW_SECRET,
      NEW_SECRET_2,
      'tessera-admin',
      VIEWER_PASSWORD,
    ];
    const hashes = [...plainKeys, ...Object.values(DEMO_KEYS), OWNER_KEY].map(hashExtKey);
    t.ok(seen.length > 100, `${seen.length} answers scanned`);
    t.ok(plainKeys.length >= 4, `${plainKeys.length} ext keys created`);
    let leaks = 0;
    for (const s of seen) {
      for (const secret of secrets) {
        if (secret === s.created) continue;
        if (s.text.includes(secret)) {
          leaks += 1;
          t.fail(`${s.what} carries a secret`);
        }
      }
      for (const h of hashes) if (s.text.includes(h)) leaks += 1;
      if (/keyHash|passwordHash|scrypt\$/.test(s.text)) leaks += 1;
    }
    t.equal(leaks, 0, 'answers carry no secret, hash or password material');
    const audits = JSON.stringify(await gw.store.list('audit'));
    t.ok(audits.length > 1000);
    t.same(
      [...secrets, ...hashes].filter((secret) => audits.includes(secret)),
      [],
      'audit entries carry no secret',
    );
  });
});
