import t from 'tap';
import { choose, chooseVersion } from '../../gateway/acl-precedence.js';
import { compileAcl } from '../../registry/view/acl.js';

/** The one precedence function: first existing level wins, never merged; the version chosen once. */
const user = compileAcl({ a: { '2': { access: false } } })!;
const app = compileAcl({ b: { '1': { access: true } } })!;
const pkg = compileAcl({ a: { '1': { access: false } }, b: { '1': { access: false } }, c: { access: false } })!;
const pick = (service: string, u: typeof user | null) => {
  const into = { serviceAcl: null as ReturnType<typeof user.get> | null, aclLevel: null as string | null };
  choose(into as never, service, u, app, pkg);
  return into;
};

t.test('the user level replaces the key level for every service', async (t) => {
  t.equal(pick('a', user).serviceAcl, user.get('a'));
  t.equal(pick('a', user).aclLevel, 'user');
  t.same(pick('b', user), { serviceAcl: null, aclLevel: 'user' }, 'a service the user ACL does not name: none (154), though the package has it');
});

t.test('the application override wins for the services it names, the package for the rest', async (t) => {
  t.same(pick('b', null), { serviceAcl: app.get('b'), aclLevel: 'application' });
  t.same(pick('a', null), { serviceAcl: pkg.get('a'), aclLevel: 'package' });
  t.same(pick('z', null), { serviceAcl: null, aclLevel: null });
});

t.test('chooseVersion: requested, else the ACL\'s latest, else the fallback; a requested version a versioned ACL lacks is null (154)', async (t) => {
  t.equal(chooseVersion(user.get('a')!, null, '9'), '2');
  t.equal(chooseVersion(user.get('a')!, '2', '9'), '2');
  t.equal(chooseVersion(user.get('a')!, '1', '9'), null);
  t.equal(chooseVersion(pkg.get('c')!, '7', '9'), '7', 'the legacy form applies to every version');
  t.equal(chooseVersion(pkg.get('c')!, null, '9'), '9');
  t.equal(chooseVersion(null, null, '3'), '3');
});
