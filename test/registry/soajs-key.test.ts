import t from 'tap';
import { decodeSoajsKey, encodeSoajsKey } from '../../registry/control/soajs-key.js';

// SOAJS's own test data (controller-test-data/provision/tenants/dbtn.json, env DEV password).
const DBTN_DEV =
  '3d90163cf9d6b3076ad26aa5ed58556348069258e5c6c941ee0f18448b570ad1c5c790e2d2a1989680c55f4904e2005ff5f8e71606e4aa641e67882f4210ebbc5460ff305dcb36e6ec2a2299cf0448ef60b9e38f41950ec251c1cf41f05f3ce9';
const PASSWORD = 'soajs key lal massa';

t.test('decodes a key SOAJS generated', async (t) => {
  const parts = decodeSoajsKey(DBTN_DEV, PASSWORD);
  t.match(parts, { tenantId: '5c0e74ba9acc3c5a84a51259', internalKey: 'a139786a6e6d18e48b4987e83789430b', packageCode: 'DSBRD_GUEST' });
  t.equal(decodeSoajsKey(DBTN_DEV, 'another password'), null, 'wrong password');
  t.equal(decodeSoajsKey('zz', PASSWORD), null, 'not hex');
});

t.test('encodes what SOAJS would: same parts, same key', async (t) => {
  const parts = decodeSoajsKey(DBTN_DEV, PASSWORD)!;
  t.equal(encodeSoajsKey(parts, PASSWORD), DBTN_DEV, 'byte for byte');
  const fresh = encodeSoajsKey({ tenantId: parts.tenantId, internalKey: parts.internalKey, packageCode: 'PROD1_PCK2' }, PASSWORD);
  t.match(fresh, /^[0-9a-f]{192}$/, '192 hex for package codes up to 12 characters');
  t.equal(fresh.slice(0, 32), DBTN_DEV.slice(0, 32), 'static IV: one tenant\'s keys share their first block (a SOAJS property)');
  t.match(decodeSoajsKey(fresh, PASSWORD), { tenantId: parts.tenantId, internalKey: parts.internalKey, packageCode: 'PROD1_PCK2' });
  t.throws(() => encodeSoajsKey({ tenantId: 'TNT1', internalKey: parts.internalKey, packageCode: 'PROD1_PCK2' }, PASSWORD), /24-hex tenant id/);
});
