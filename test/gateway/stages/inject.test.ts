import t from 'tap';
import { ERRORS } from '../../../gateway/errors.js';
import { createInjectStage } from '../../../gateway/stages/inject.js';
import { createRouteStage } from '../../../gateway/stages/route.js';
import { createUrlStage } from '../../../gateway/stages/url.js';
import { contextFor, keyEntry, snapshotOf } from '../../helpers/stage-context.js';
import { EXT_KEY, KEY_HASH, products, services, tenant } from './fixtures.js';

/** inject: soajsinjectobj for keyed services — tenant, the key's config for this service (commonFields spread), device, geo, awareness. */
const snap = snapshotOf({ products, services });
const [url, route] = [createUrlStage(), createRouteStage()];
function decided(path: string, ua = 'tap-agent') {
  const ctx = contextFor(snap, { url: path, headers: { 'user-agent': ua } });
  url.run(ctx);
  ctx.key = keyEntry(tenant, KEY_HASH);
  ctx.extKey = EXT_KEY;
  ctx.pkg = snap.packages.get(ctx.key.packageCode) ?? null;
  route.run(ctx);
  ctx.clientIp = '192.0.2.7';
  return ctx;
}

t.test('the header a keyed service gets', async (t) => {
  const inject = createInjectStage({ awareness: () => ({ host: '127.0.0.1', port: 4000 }), maxBytes: 65536 });
  const ctx = decided('/svc/x');
  t.equal(inject.run(ctx), null);
  const obj = JSON.parse(ctx.inject!);
  t.match(obj, {
    tenant: { id: 'tS', code: 'TS', name: 'Stage tenant', type: 'client' },
    key: { iKey: 'a'.repeat(32), eKey: EXT_KEY, config: { shared: 1, svc: { color: 'blue' } } },
    application: { product: 'P', package: 'P_R', appId: 'appR' },
    device: 'tap-agent',
    geo: { ip: '192.0.2.7' },
    awareness: { host: '127.0.0.1', port: 4000 },
  });
  t.notOk('urac' in obj, 'no user, no urac');
  const again = decided('/svc/x');
  inject.run(again);
  t.equal(again.inject, ctx.inject, 'the same inputs: the same header, reused');
  const other = decided('/svc/x', 'another-agent');
  inject.run(other);
  t.equal(JSON.parse(other.inject!).device, 'another-agent', 'a per-request field changes it');
});

t.test('larger than the limit: 135, nothing sent', async (t) => {
  const inject = createInjectStage({ awareness: () => ({ host: '127.0.0.1', port: 4000 }), maxBytes: 1024 });
  const ctx = decided('/svc/x', 'x'.repeat(2000));
  t.equal(inject.run(ctx), ERRORS.UPSTREAM_ERROR);
});

t.test('an unkeyed service gets no context', async (t) => {
  const inject = createInjectStage({ awareness: () => ({ host: '127.0.0.1', port: 4000 }), maxBytes: 65536 });
  const ctx = contextFor(snap, { url: '/plain/x' });
  url.run(ctx);
  route.run(ctx);
  t.equal(inject.run(ctx), null);
  t.equal(ctx.inject, null);
});
