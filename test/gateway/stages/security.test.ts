import t from 'tap';
import { ERRORS } from '../../../gateway/errors.js';
import { createSecurityStage } from '../../../gateway/stages/security.js';
import { contextFor, keyEntry, snapshotOf } from '../../helpers/stage-context.js';
import { KEY_HASH, KEY_HASH_OPEN, products, services, tenant } from './fixtures.js';

/** security: the ext key's geo (155) and device (156) rules, for keyed services only. */
const snap = snapshotOf({ products, services });
const security = createSecurityStage();
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0';
const CURL = 'curl/8.5.0';
const check = (keyHash: string, ip: string, ua: string, keyed = true) => {
  const ctx = contextFor(snap, { url: '/svc/x', headers: { 'user-agent': ua } });
  ctx.key = keyEntry(tenant, keyHash);
  ctx.keyed = keyed;
  ctx.clientIp = ip;
  return security.run(ctx);
};

t.test('geo deny and device allow rules of the key', async (t) => {
  t.equal(check(KEY_HASH, '192.0.2.1', FIREFOX), null, 'allowed address, allowed device');
  t.equal(check(KEY_HASH, '10.1.2.3', FIREFOX), ERRORS.GEO_FORBIDDEN, 'a denied network: 155');
  t.equal(check(KEY_HASH, '192.0.2.1', CURL), ERRORS.DEVICE_FORBIDDEN, 'a device not allowed: 156');
  t.equal(check(KEY_HASH_OPEN, '10.1.2.3', CURL), null, 'a key without rules');
  t.equal(check(KEY_HASH, '10.1.2.3', CURL, false), null, 'a service without a key: no key rules apply');
});
