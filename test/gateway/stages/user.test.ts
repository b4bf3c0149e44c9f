import t from 'tap';
import { ERRORS } from '../../../gateway/errors.js';
import { createAclStage } from '../../../gateway/stages/acl.js';
import { createAuthorizeStage } from '../../../gateway/stages/authorize.js';
import { createRouteStage } from '../../../gateway/stages/route.js';
import { createUrlStage } from '../../../gateway/stages/url.js';
import { createUserStage } from '../../../gateway/stages/user.js';
import type { GatewayUser } from '../../../gateway/user.js';
import { compileAcl } from '../../../registry/view/acl.js';
import { tenantHoldings, wholeVersions } from '../../../registry/view/tenant-holdings.js';
import type { Acl } from '../../../registry/view/types.js';
import { contextFor, keyEntry, snapshotOf } from '../../helpers/stage-context.js';
import { KEY_HASH, products, services, tenant } from './fixtures.js';

/**
 * user: a user-level ACL replaces the key level for every service and may pick another version;
 * an override is bounded by what the tenant holds (154 past a service or version, 159 past an API).
 */
const snap = snapshotOf({ products, services });
const stages = [createUrlStage(), createRouteStage(), createAclStage()];
const [user, authorize] = [createUserStage(), createAuthorizeStage()];
const key = keyEntry(tenant, KEY_HASH);

function gatewayUser(acl: Acl, override: boolean): GatewayUser {
  const compiled = compileAcl(acl)!;
  return {
    id: 'u1',
    username: 'u1',
    firstName: 'U',
    lastName: 'One',
    email: 'u1@x.test',
    groups: [],
    tenant: { id: 'tS', code: 'TS' },
    profile: null,
    acl: compiled,
    aclOverride: override,
    heldWhole: override ? wholeVersions(tenantHoldings(key.tenant, snap), compiled) : null,
    config: null,
    memo: new Map(),
  };
}

function run(path: string, u: GatewayUser) {
  const ctx = contextFor(snap, { url: path, headers: { authorization: 'Bearer x' } });
  ctx.key = key;
  for (const s of stages) {
    if (s.name === 'route') ctx.pkg = snap.packages.get(key.packageCode) ?? null;
    const r = s.run(ctx);
    if (r !== null) return { ctx, result: r };
  }
  ctx.user = u;
  const r = user.run(ctx);
  return { ctx, result: r ?? authorize.run(ctx) };
}

t.test('the user level replaces the key level and picks its own latest version', async (t) => {
  const u = gatewayUser({ svc: { '1': { access: false } } }, false);
  const { ctx, result } = run('/svc/anything', u);
  t.equal(result, null, 'the group-level ACL opens v1 whole');
  t.equal(ctx.aclLevel, 'user');
  t.equal(ctx.version, '1', "the user's latest, not the package's (2)");
  t.equal(run('/plain/x', u).result, null, 'an unkeyed service is not its business');
});

t.test('a service the user level does not name: 154, though the package has it', async (t) => {
  const u = gatewayUser({ other: { '1': { access: false } } }, false);
  t.equal(run('/svc/v1/open', u).result, ERRORS.SERVICE_NOT_IN_PACKAGE);
});

t.test('an override is bounded by what the tenant holds', async (t) => {
  const lifted = gatewayUser({ svc: { '1': { access: false } } }, true);
  t.equal(run('/svc/v1/open', lifted).result, null, 'what the tenant holds stays reachable');
  t.equal(run('/svc/v1/unlisted', lifted).result, ERRORS.API_RESTRICTED, 'lifting a restriction every holding has: 159');
  t.equal(run('/svc/v1/x', lifted).result, null, "an API another application of the tenant opens (appO's own ACL)");
  const newer = gatewayUser({ svc: { '3': { access: false } } }, true);
  t.equal(run('/svc/x', newer).result, ERRORS.SERVICE_NOT_IN_PACKAGE, 'a version no holding opens: 154');
  const whole = gatewayUser({ svc: { '2': { access: false } } }, true);
  t.same([...whole.heldWhole!.get('svc')!], ['2'], 'v2 is held whole: no per-request check there');
  t.equal(run('/svc/v2/anything', whole).result, null);
});
