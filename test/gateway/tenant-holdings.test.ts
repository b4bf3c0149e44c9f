import { randomBytes } from 'node:crypto';
import t from 'tap';
import { hashPasswordSync } from '../../registry/control/password.js';
import type { Group, Product, Service, Tenant, User } from '../../registry/view/types.js';
import { startOauth } from '../../services/oauth/index.js';
import { startRegistry } from '../../services/registry/index.js';
import { login, request, soajsError, type TokenPair } from '../helpers/demo.js';
import { extKey, settle, startTestGateway } from '../helpers/gateway.js';
import { startEchoService } from '../helpers/servers.js';

/**
 * The gateway's half of the tenant boundary (registry/view/tenant-holdings.ts): a user-level ACL that
 * reaches past what the tenant holds — written before URAC checked it, imported, or put in the
 * store by hand — is bounded at every request (154 past a service or version, 159 past an API);
 * and the registry service refuses a caller of another tenant even when an ACL let it through.
 */
const TID = 'cccccccccccccccccccccccc';
const TID2 = 'eeeeeeeeeeeeeeeeeeeeeeee';
const KEY2 = randomBytes(64).toString('hex');
const OWNER = 'dddddddddddddddddddddddd';
const IKEY = 'c'.repeat(32);
const KEY = randomBytes(64).toString('hex');
const OWNER_KEY = randomBytes(64).toString('hex');
const HASH = hashPasswordSync('pw-123456');
const oauthAcl = { '1': { access: false, post: { apis: { '/token': { access: false } } } } };
const wide = { '1': { access: false } };

const products: Product[] = [
  {
    code: 'C',
    name: 'Client',
    packages: [
      {
        code: 'C_BASIC',
        name: 'basic',
        acl: { dev: { oauth: oauthAcl, svc: { '1': { access: false, apisPermission: 'restricted', get: { apis: { '/listed': { access: true } } } } } } },
      },
      // The same product's package with the registry in it: what a mistaken group could name.
      { code: 'C_PLATFORM', name: 'platform', acl: { dev: { oauth: oauthAcl, registry: wide } } },
    ],
  },
  { code: 'PLAT', name: 'Platform', packages: [{ code: 'PLAT_OWNER', name: 'owner', acl: { dev: { oauth: oauthAcl, registry: wide, svc: wide } } }] },
];

function tenantDoc(id: string, code: string, product: string, pkg: string, key: string, iKey: string): Tenant {
  return {
    id,
    code,
    name: code,
    type: 'client',
    oauth: { secret: 's' },
    applications: [{ appId: `${id.slice(0, 20)}0001`, product, package: pkg, keys: [{ key: iKey, extKeys: [extKey(key)] }] }],
  };
}

const user = (id: string, username: string, tenant: { id: string; code: string }, groups: string[], extra: Partial<User> = {}): User => ({
  id,
  username,
  passwordHash: HASH,
  firstName: 'F',
  lastName: 'L',
  email: `${username}@x.test`,
  status: 'active',
  groups,
  tenant,
  ...extra,
});

const T1 = { id: TID, code: 'T1' };
const T2 = { id: TID2, code: 'T2' };
const users: User[] = [
  // As if written before URAC checked overrides: registry, and svc without its restriction.
  user('u1000000000000000000000a', 'mallory', T1, ['owner'], { config: { keys: { [IKEY]: { acl: { oauth: oauthAcl, registry: wide, svc: wide } } } } }),
  user('u1000000000000000000000b', 'trent', T2, ['owner']),
  user('u1000000000000000000000c', 'root', { id: OWNER, code: 'OWNER' }, ['owner']),
];
// A platform mistake (or a write around URAC): T2's group names the platform's package.
const groups: Group[] = [
  { id: `${TID}:owner`, code: 'owner', name: 'Owners', tenant: T1 },
  { id: `${TID2}:owner`, code: 'owner', name: 'Owners', tenant: T2, config: { allowedPackages: { C: ['C_PLATFORM'] } } },
  { id: `${OWNER}:owner`, code: 'owner', name: 'Owners', tenant: { id: OWNER, code: 'OWNER' } },
];
const flags = { extKeyRequired: true, oauth: true, urac: true };
const services: Service[] = [
  { name: 'svc', port: 1, versions: { '1': flags } },
  { name: 'registry', port: 1, versions: { '1': flags } },
  { name: 'oauth', port: 1, versions: { '1': flags } },
];

t.test('what a tenant holds bounds its user-level ACLs; the registry checks its callers itself', async (t) => {
  const gw = await startTestGateway({
    products,
    tenants: [
      tenantDoc(TID, 'T1', 'C', 'C_BASIC', KEY, IKEY),
      tenantDoc(TID2, 'T2', 'C', 'C_BASIC', KEY2, 'e'.repeat(32)),
      tenantDoc(OWNER, 'OWNER', 'PLAT', 'PLAT_OWNER', OWNER_KEY, 'd'.repeat(32)),
    ],
    services,
    groups,
    users,
    auth: true,
  });
  t.teardown(() => gw.close());
  const base = { port: 0, store: gw.store, injectSecret: gw.secret };
  const oauth = await startOauth({ ...base, env: 'dev', accessTokenSeconds: 60, refreshTokenSeconds: 600, throttle: gw.config.security.login });
  const registry = await startRegistry({ ...base, env: 'dev', ownerTenant: 'OWNER' });
  const echo = await startEchoService();
  t.teardown(async () => {
    await oauth.close();
    await registry.close();
    await echo.close();
  });
  for (const [service, s] of [['oauth', oauth], ['registry', registry]] as const) {
    await gw.store.registerHost({ service, version: '1', host: '127.0.0.1', port: s.port, maintenancePort: s.maintenancePort });
  }
  await gw.store.registerHost({ service: 'svc', version: '1', host: '127.0.0.1', port: echo.port, maintenancePort: echo.maintenance.port });
  await settle(gw);
  const token = async (key: string, username: string) => ((await login(gw.url, key, username, 'pw-123456')).body as TokenPair).access_token;
  const get = (path: string, key: string, tok: string) => request(gw.url, path, { headers: { key, authorization: `Bearer ${tok}` } });

  const mallory = await token(KEY, 'mallory');
  const reg = await get('/registry/tenants', KEY, mallory);
  t.same(reg.body, soajsError(154, 'Access denied: The service is not available in your current package.'), 'an override naming a service the tenant does not hold: 154');
  const unlisted = await get('/svc/unlisted', KEY, mallory);
  t.same(unlisted.body, soajsError(159, 'System api access is restricted. api is not in provision.'), 'an override lifting a restriction the tenant has: 159');
  t.equal((await get('/svc/listed', KEY, mallory)).status, 200, 'what the tenant holds stays reachable through the override');

  const trent = await token(KEY2, 'trent');
  const viaGroup = await get('/registry/tenants', KEY2, trent);
  t.equal(viaGroup.status, 403, "a group naming the platform's package gets past the ACL, not past the registry's own check");
  t.same(viaGroup.body, soajsError(403, "The registry API is for the platform owner tenant's owner (writes) and viewer (reads) groups only."));
  const write = await request(gw.url, '/registry/products', {
    method: 'POST',
    headers: { key: KEY2, authorization: `Bearer ${trent}`, 'content-type': 'application/json' },
    body: JSON.stringify({ code: 'EVIL', name: 'evil', packages: [] }),
  });
  t.equal(write.status, 403);
  t.equal(await gw.store.get('product', 'EVIL'), null, 'nothing was written');

  const root = await token(OWNER_KEY, 'root');
  const ok = await get('/registry/tenants', OWNER_KEY, root);
  t.equal(ok.status, 200, "the platform tenant's owner reads the registry");
});
