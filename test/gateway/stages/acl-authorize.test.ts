import t from 'tap';
import type { GatewayUser } from '../../../gateway/user.js';
import { ERRORS } from '../../../gateway/errors.js';
import { createAclStage } from '../../../gateway/stages/acl.js';
import { createAuthorizeStage } from '../../../gateway/stages/authorize.js';
import { createRouteStage } from '../../../gateway/stages/route.js';
import { createUrlStage } from '../../../gateway/stages/url.js';
import { contextFor, keyEntry, snapshotOf } from '../../helpers/stage-context.js';
import { KEY_HASH, products, services, tenant } from './fixtures.js';

/**
 * acl (the key-level ACL for this method and API; public or not) and authorize (SOAJS's service
 * then API checks, 154 and 157–161), on a restricted package: /open public, /mine needs a login,
 * /admins the admin group, anything else unlisted.
 */
const snap = snapshotOf({ products, services });
const [url, route, acl, authorize] = [createUrlStage(), createRouteStage(), createAclStage(), createAuthorizeStage()];
const user = (groups: string[]) => ({ groups }) as unknown as GatewayUser;
function decide(path: string, opts: { user?: GatewayUser; token?: boolean } = {}) {
  const ctx = contextFor(snap, { url: path, headers: opts.token ? { authorization: 'Bearer x' } : {} });
  url.run(ctx);
  ctx.key = keyEntry(tenant, KEY_HASH);
  ctx.pkg = snap.packages.get(ctx.key.packageCode) ?? null;
  const r = route.run(ctx);
  if (r !== null) return { ctx, result: r };
  const a = acl.run(ctx);
  if (a !== null) return { ctx, result: a };
  ctx.user = opts.user ?? null;
  return { ctx, result: authorize.run(ctx) };
}

t.test('a listed public API needs nothing', async (t) => {
  const { ctx, result } = decide('/svc/v1/open');
  t.equal(result, null);
  t.equal(ctx.isPublic, true);
});

t.test('a listed API with access: true needs a login (161), then passes', async (t) => {
  t.equal(decide('/svc/v1/mine').ctx.isPublic, false);
  t.equal(decide('/svc/v1/mine').result, ERRORS.API_LOGIN);
  t.equal(decide('/svc/v1/mine', { user: user([]) }).result, null);
});

t.test('a listed API for a group: 160 outside it, passes inside', async (t) => {
  t.equal(decide('/svc/v1/admins', { user: user(['staff']) }).result, ERRORS.API_GROUP);
  t.equal(decide('/svc/v1/admins', { user: user(['admin']) }).result, null);
});

t.test('restricted: an unlisted API is 159', async (t) => {
  t.equal(decide('/svc/v1/other').result, ERRORS.API_RESTRICTED);
});

t.test('a version whose service access is true needs a login (158) for any API', async (t) => {
  t.equal(decide('/svc/v2/anything').result, ERRORS.SERVICE_LOGIN);
  t.equal(decide('/svc/v2/anything', { user: user([]) }).result, null);
});

t.test('no ACL for the service: 154 at once without a token, after the token stage with one', async (t) => {
  const none = snapshotOf({ products: [{ ...products[0]!, packages: [{ code: 'P_R', name: 'empty', acl: { dev: {} } }] }], services });
  const ctx = contextFor(none, { url: '/svc/x' });
  url.run(ctx);
  ctx.key = keyEntry(tenant, KEY_HASH);
  ctx.pkg = none.packages.get('P_R') ?? null;
  t.equal(route.run(ctx), null);
  t.equal(acl.run(ctx), ERRORS.SERVICE_NOT_IN_PACKAGE);
  const withToken = contextFor(none, { url: '/svc/x', headers: { authorization: 'Bearer x' } });
  url.run(withToken);
  withToken.key = ctx.key;
  withToken.pkg = ctx.pkg;
  route.run(withToken);
  t.equal(acl.run(withToken), null, 'a user-level ACL may still grant it');
  t.equal(authorize.run(withToken), ERRORS.SERVICE_NOT_IN_PACKAGE);
});

t.test('a package missing from the snapshot: 152', async (t) => {
  const ctx = contextFor(snap, { url: '/svc/x' });
  url.run(ctx);
  ctx.key = keyEntry(tenant, KEY_HASH);
  ctx.pkg = null;
  route.run(ctx);
  t.equal(acl.run(ctx), ERRORS.PACKAGE_UNKNOWN);
});
