import t from 'tap';
import { ERRORS } from '../../../gateway/errors.js';
import { createRouteStage } from '../../../gateway/stages/route.js';
import { createUrlStage } from '../../../gateway/stages/url.js';
import { contextFor, keyEntry, snapshotOf } from '../../helpers/stage-context.js';
import { KEY_HASH, KEY_HASH_OPEN, products, services, tenant } from './fixtures.js';

/** route: the key-level ACL entry and the version (requested, else the ACL's latest, else the service's), its flags; 132 without a key. */
const snap = snapshotOf({ products, services });
const url = createUrlStage();
const route = createRouteStage();
const at = (path: string, keyHash: string | null) => {
  const ctx = contextFor(snap, { url: path });
  t.equal(url.run(ctx), null);
  if (keyHash !== null) {
    ctx.key = keyEntry(tenant, keyHash);
    ctx.pkg = snap.packages.get(ctx.key.packageCode) ?? null;
  }
  return { ctx, result: route.run(ctx) };
};

t.test('the package level: latest version its ACL lists', async (t) => {
  const { ctx, result } = at('/svc/x', KEY_HASH);
  t.equal(result, null);
  t.equal(ctx.aclLevel, 'package');
  t.equal(ctx.version, '2', 'the ACL lists 1 and 2: its latest, though the service has 3');
  t.equal(ctx.keyed, true);
});

t.test('the application level wins for the services it names', async (t) => {
  const { ctx } = at('/svc/x', KEY_HASH_OPEN);
  t.equal(ctx.aclLevel, 'application');
  t.equal(ctx.version, '1');
});

t.test('a requested version the versioned ACL lacks is 154; one the service lacks 133', async (t) => {
  t.equal(at('/svc/v3/x', KEY_HASH).result, ERRORS.SERVICE_NOT_IN_PACKAGE);
  t.equal(at('/svc/v1/x', KEY_HASH).ctx.version, '1');
  t.equal(at('/plain/v9/x', null).result, ERRORS.SERVICE_UNREACHABLE);
});

t.test('a keyed service without a key: 132; an unkeyed one passes', async (t) => {
  t.equal(at('/svc/x', null).result, ERRORS.KEY_REQUIRED);
  const plain = at('/plain/x', null);
  t.equal(plain.result, null);
  t.equal(plain.ctx.keyed, false);
  t.equal(plain.ctx.aclLevel, null);
});
