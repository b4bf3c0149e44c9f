import t from 'tap';
import { ERRORS } from '../../../gateway/errors.js';
import { createTokenStage } from '../../../gateway/stages/token.js';
import { createUrlStage } from '../../../gateway/stages/url.js';
import { contextFor, keyEntry, snapshotOf } from '../../helpers/stage-context.js';
import { KEY_HASH, products, services, tenant } from './fixtures.js';

/**
 * token: exactly one of `?access_token=`, header `access_token`, `Authorization: Bearer`; demanded
 * where the API is not public, checked wherever one is sent. With no authenticator every token is
 * invalid: the stage never lets an unverified one pass (what verification does: tokens.test.ts).
 */
const snap = snapshotOf({ products, services });
const token = createTokenStage(null);
const url = createUrlStage();
function run(path: string, headers: Record<string, string>, isPublic: boolean) {
  const ctx = contextFor(snap, { url: path, headers });
  url.run(ctx);
  ctx.key = keyEntry(tenant, KEY_HASH);
  ctx.flags = ctx.service!.versions.get('1')!;
  ctx.keyed = true;
  ctx.isPublic = isPublic;
  return { ctx, result: token.run(ctx) };
}

t.test('none sent: 400 where needed, nothing on a public API', async (t) => {
  t.equal(run('/svc/x', {}, false).result, ERRORS.TOKEN_NOT_FOUND);
  t.equal(run('/svc/x', {}, true).result, null);
});

t.test('each of the three places is read, and what it holds is never passed unverified', async (t) => {
  for (const [where, path, headers] of [
    ['query', '/svc/x?access_token=abc', {}],
    ['header', '/svc/x', { access_token: 'abc' }],
    ['Bearer', '/svc/x', { authorization: 'Bearer abc' }],
  ] as const) {
    const { ctx, result } = run(path, headers, false);
    t.equal(result, ERRORS.TOKEN_INVALID, `${where}: located (not 400), then refused without an authenticator`);
    t.equal(ctx.user, null, 'and no user');
  }
  t.equal(run('/svc/x?access_token=abc', {}, true).result, ERRORS.TOKEN_INVALID, 'checked on a public API too');
});

t.test('more than one place: 400; a non-Bearer Authorization: 400 where needed, ignored on a public API', async (t) => {
  t.equal(run('/svc/x?access_token=a', { authorization: 'Bearer b' }, false).result, ERRORS.TOKEN_MULTIPLE);
  t.equal(run('/svc/x', { access_token: 'a', authorization: 'Bearer b' }, true).result, ERRORS.TOKEN_MULTIPLE);
  t.equal(run('/svc/x', { authorization: 'Basic dTpw' }, false).result, ERRORS.TOKEN_MALFORMED_HEADER);
  t.equal(run('/svc/x', { authorization: 'Basic dTpw' }, true).result, null);
});

t.test('a service version without oauth reads no token at all', async (t) => {
  const ctx = contextFor(snap, { url: '/svc/x', headers: { access_token: 'abc' } });
  url.run(ctx);
  ctx.key = keyEntry(tenant, KEY_HASH);
  ctx.flags = { ...ctx.service!.versions.get('3')!, oauth: false };
  ctx.keyed = true;
  t.equal(token.run(ctx), null);
  t.equal(ctx.token, null);
});
