import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ERRORS } from '../../../gateway/errors.js';
import { createKeyStage } from '../../../gateway/stages/key.js';
import { createUrlStage } from '../../../gateway/stages/url.js';
import { FileStore } from '../../../registry/control/store/file.js';
import { KeyCache } from '../../../registry/view/cache.js';
import type { Tenant } from '../../../registry/view/types.js';
import { contextFor, snapshotOf } from '../../helpers/stage-context.js';
import { EXT_KEY, KEY_HASH, products, services, tenant } from './fixtures.js';

/** key: the ext key from header `key` or `?key=` → tenant, application, package; 148 unknown, malformed or expired, 144 another env. */
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const PROD_KEY = 'd'.repeat(96);
const EXPIRING = 'e'.repeat(96);
const NOW = 1_800_000_000_000;
const withMore: Tenant = {
  ...tenant,
  applications: [
    {
      ...tenant.applications[0]!,
      keys: [
        {
          ...tenant.applications[0]!.keys[0]!,
          extKeys: [...tenant.applications[0]!.keys[0]!.extKeys, { keyHash: sha(PROD_KEY), env: 'prod' }, { keyHash: sha(EXPIRING), env: 'dev', expDate: NOW + 1000 }],
        },
      ],
    },
    tenant.applications[1]!,
  ],
};

const dir = mkdtempSync(join(tmpdir(), 'tessera-key-stage-'));
const store = new FileStore(dir, [{ kind: 'tenant', doc: withMore, origin: 'test' }]);
await store.open();
const keys = new KeyCache(store, 'dev', 100);
t.teardown(async () => {
  keys.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});
const snap = snapshotOf({ products, services });
let clock = NOW;
const key = createKeyStage(keys, { now: () => clock });
const url = createUrlStage();
async function run(path: string, headers: Record<string, string> = {}) {
  const ctx = contextFor(snap, { url: path, headers });
  url.run(ctx);
  return { ctx, result: await key.run(ctx) };
}

t.test('from the header, or the query when there is no header', async (t) => {
  const byHeader = await run('/svc/x', { key: EXT_KEY });
  t.equal(byHeader.result, null);
  t.equal(byHeader.ctx.key?.tenant.id, 'tS');
  t.equal(byHeader.ctx.keyHash, KEY_HASH);
  t.equal(byHeader.ctx.pkg?.code, 'P_R', 'the package, from the snapshot');
  const byQuery = await run(`/svc/x?key=${EXT_KEY}`);
  t.equal(byQuery.ctx.key?.appId, 'appR');
  const none = await run('/svc/x');
  t.equal(none.result, null, 'no key: nothing to resolve here (the route stage decides whether one is needed)');
  t.equal(none.ctx.key, null);
});

t.test('unknown, malformed, another env, expired', async (t) => {
  t.equal((await run('/svc/x', { key: 'f'.repeat(96) })).result, ERRORS.KEY_UNKNOWN, 'unknown');
  t.equal((await run('/svc/x', { key: 'not a key!' })).result, ERRORS.KEY_UNKNOWN, 'malformed');
  t.equal((await run('/svc/x?key=%zz')).result, ERRORS.KEY_UNKNOWN, 'an undecodable ?key=');
  t.equal((await run('/svc/x', { key: PROD_KEY })).result, ERRORS.KEY_ENV, "another env's key: 144");
  t.equal((await run('/svc/x', { key: EXPIRING })).result, null, 'before its expiry');
  clock = NOW + 1000;
  t.equal((await run('/svc/x', { key: EXPIRING })).result, ERRORS.KEY_UNKNOWN, 'at its expiry: 148');
});
