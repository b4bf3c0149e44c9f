import t from 'tap';
import {
  compileAcl,
  compileServiceAcl,
  effectiveFor,
  matchApi,
  pathToRegExp,
  versionAcl,
  type CompiledServiceAcl,
  type CompiledVersionAcl,
  type EffectiveAcl,
} from '../../registry/view/acl.js';
import type { ServiceAcl } from '../../registry/view/types.js';

/** The compiled VersionAcl for `version`, failing the test when there is none. */
function mustVersion(s: CompiledServiceAcl, version: string | null): CompiledVersionAcl {
  const v = versionAcl(s, version);
  if (v === null) throw new Error(`no version ACL for ${String(version)}`);
  return v;
}

/** Access of the API matched for `path`, or 'no match'. */
function accessOf(acl: EffectiveAcl, path: string): unknown {
  const api = matchApi(acl, path);
  return api === null ? 'no match' : api.access;
}

t.test('versioned form: one compiled VersionAcl per version, no legacy entry', async (t) => {
  const s = compileServiceAcl({ '1': { access: true }, '2': { access: ['admin'] } });
  t.equal(s.legacy, null);
  t.not(s.versions, null);
  t.same([...(s.versions?.keys() ?? [])].sort(), ['1', '2']);
  t.equal(s.latest, '2');
  t.equal(mustVersion(s, '1').base.access, true);
  t.same(mustVersion(s, '2').base.access, ['admin']);
  t.same(mustVersion(s, null).base.access, ['admin'], 'no requested version: the latest');
});

t.test('legacy unversioned form applies to every requested version', async (t) => {
  const s = compileServiceAcl({ access: true, apis: { '/a': { access: ['g'] } } });
  t.equal(s.versions, null);
  t.equal(s.latest, null);
  t.not(s.legacy, null);
  const v1 = mustVersion(s, '1');
  t.equal(v1, s.legacy, 'requested version ignored');
  t.equal(mustVersion(s, '7.3'), s.legacy);
  t.equal(mustVersion(s, null), s.legacy);
  t.equal(v1.base.access, true);
  t.same(accessOf(v1.base, '/a'), ['g']);
});

t.test('"1.1" and "1x1" version keys normalise to "1.1"', async (t) => {
  for (const key of ['1.1', '1x1', '01x01']) {
    const s = compileServiceAcl({ [key]: { access: true } });
    t.same([...(s.versions?.keys() ?? [])], ['1.1'], `${key} -> 1.1`);
    t.equal(s.latest, '1.1');
    t.equal(mustVersion(s, '1.1').base.access, true, `${key}: found as 1.1`);
  }
  const both = compileServiceAcl({ '1': { access: false }, '1x1': { access: true } });
  t.equal(mustVersion(both, '1').base.access, false, '"1" stays distinct from "1.1"');
  t.equal(mustVersion(both, '1.1').base.access, true);
});

t.test('latest version is picked numerically', async (t) => {
  const minor = compileServiceAcl({ '1.9': { access: true }, '1.10': { access: ['ten'] }, '1.2': { access: false } });
  t.equal(minor.latest, '1.10', '"1.10" > "1.9" (not string or float order)');
  t.same(mustVersion(minor, null).base.access, ['ten']);

  const major = compileServiceAcl({ '9': { access: true }, '10': { access: ['ten'] }, '2': { access: false } });
  t.equal(major.latest, '10', '"10" > "9"');
  t.same(mustVersion(major, null).base.access, ['ten']);

  const mixed = compileServiceAcl({ '1x10': {}, '2': {}, '1.9': {} });
  t.equal(mixed.latest, '2');
});

t.test('a requested version the ACL does not list gives null (154)', async (t) => {
  const s = compileServiceAcl({ '1': { access: true }, '1.1': { access: true } });
  t.equal(versionAcl(s, '2'), null);
  t.equal(versionAcl(s, '1.2'), null);
  t.not(versionAcl(s, '1'), null);
  t.not(versionAcl(s, '1.1'), null);
});

t.test('mixing version keys with VersionAcl fields throws', async (t) => {
  t.throws(() => compileServiceAcl({ '1': { access: true }, access: true } as ServiceAcl), {
    message: /mixes versioned entries with unversioned fields/,
  });
  t.throws(() => compileServiceAcl({ '1x1': {}, get: { apis: {} } } as ServiceAcl), {
    message: /mixes versioned/,
  });
  t.throws(() => compileAcl({ good: { '1': {} }, bad: { '2': {}, apis: {} } as ServiceAcl }), { message: /mixes/ });
});

t.test('method sections replace the version apis and inherit apisPermission unless set', async (t) => {
  const restricted = mustVersion(
    compileServiceAcl({
      '1': {
        access: true,
        apisPermission: 'restricted',
        apis: { '/base': { access: false } },
        get: { apis: { '/g': { access: ['admin'] } } },
      },
    }),
    '1',
  );
  const get = effectiveFor(restricted, 'GET');
  t.equal(get, restricted.methods.get, 'GET uses the get section');
  t.equal(get.restricted, true, 'inherits the version apisPermission');
  t.equal(get.access, true, 'access comes from the version');
  t.same(accessOf(get, '/g'), ['admin']);
  t.equal(accessOf(get, '/base'), 'no match', 'version apis are replaced, not merged');
  t.equal(restricted.base.restricted, true);

  const open = mustVersion(
    compileServiceAcl({
      '1': {
        access: ['grp'],
        apis: { '/base': { access: true } },
        get: { apis: { '/g': {} } },
        post: { apisPermission: 'restricted', apis: { '/p': { access: true } } },
      },
    }),
    '1',
  );
  const oget = effectiveFor(open, 'get');
  const opost = effectiveFor(open, 'post');
  t.equal(oget.restricted, false, 'not restricted: version is not');
  t.equal(opost.restricted, true, 'method sets apisPermission itself');
  t.same(opost.access, ['grp']);
  t.equal(accessOf(opost, '/p'), true);
  t.equal(accessOf(opost, '/base'), 'no match');
  t.equal(open.base.restricted, false);
});

t.test('an unlisted method uses the version-level apis', async (t) => {
  const v = mustVersion(
    compileServiceAcl({
      '1': {
        access: false,
        apisPermission: 'restricted',
        apis: { '/base': { access: ['g'] } },
        get: { apis: { '/g': {} } },
      },
    }),
    '1',
  );
  for (const method of ['PUT', 'DELETE', 'patch', 'HEAD', 'OPTIONS', 'POST']) {
    const eff = effectiveFor(v, method);
    t.equal(eff, v.base, `${method} -> version level`);
  }
  t.same(accessOf(v.base, '/base'), ['g']);
  t.equal(accessOf(v.base, '/g'), 'no match', 'a method section does not leak into the version level');
  t.equal(v.base.restricted, true);
});

t.test('unknown HTTP methods map to the `other` section', async (t) => {
  const withOther = mustVersion(
    compileServiceAcl({
      '1': {
        apis: { '/base': {} },
        get: { apis: { '/g': {} } },
        other: { apis: { '/o': { access: true } } },
      },
    }),
    '1',
  );
  const other = withOther.methods.other;
  t.ok(other, 'other section compiled');
  for (const method of ['PROPFIND', 'MKCOL', 'purge', 'SEARCH']) t.equal(effectiveFor(withOther, method), other, method);
  t.equal(accessOf(effectiveFor(withOther, 'PROPFIND'), '/o'), true);
  t.equal(effectiveFor(withOther, 'PUT'), withOther.base, 'a known, unlisted method does not use `other`');
  t.equal(effectiveFor(withOther, 'GET'), withOther.methods.get);

  const noOther = mustVersion(compileServiceAcl({ '1': { apis: { '/base': { access: true } } } }), '1');
  t.equal(effectiveFor(noOther, 'PROPFIND'), noOther.base, 'no other section: version level');
});

t.test('exact path beats a regex; the last matching regex wins', async (t) => {
  const v = mustVersion(
    compileServiceAcl({
      '1': {
        apis: {
          '/user/me': { access: false },
          '/user/:id': { access: true },
          '/user/:id/:field': { access: ['a'] },
        },
        apisRegExp: [
          { regExp: '^/user/[0-9]+/email$', access: ['b'] },
          { regExp: '^/files/', access: ['first'] },
          { regExp: '^/files/private/', access: ['last'] },
        ],
      },
    }),
    '1',
  );
  t.equal(accessOf(v.base, '/user/me'), false, 'exact path, though /user/:id also matches');
  t.equal(accessOf(v.base, '/user/5'), true);
  t.same(accessOf(v.base, '/user/5/email'), ['b'], 'apisRegExp listed after /:param paths wins');
  t.same(accessOf(v.base, '/user/x/email'), ['a'], 'only the param regex matches');
  t.same(accessOf(v.base, '/files/private/a'), ['last'], 'both match: last wins');
  t.same(accessOf(v.base, '/files/public/a'), ['first']);
  t.equal(accessOf(v.base, '/nothing'), 'no match');
  t.equal(v.base.apis.size, 1, 'only the exact path is in the map');
  t.equal(v.base.regex.length, 5, '/:param paths moved to regex');
});

t.test('/user/:id is one case-sensitive segment with an optional trailing slash', async (t) => {
  const re = pathToRegExp('/user/:id');
  t.ok(re.test('/user/5'));
  t.ok(re.test('/user/5/'));
  t.ok(re.test('/user/abc-DEF.x'));
  t.notOk(re.test('/user/5/x'));
  t.ok(re.test('/User/5'), 'case-insensitive, as Express routes');
  t.notOk(re.test('/user/'));
  t.notOk(re.test('/user'));
  t.notOk(re.test('/api/user/5'));

  const v = mustVersion(compileServiceAcl({ '1': { apis: { '/user/:id': { access: true } } } }), '1');
  t.equal(accessOf(v.base, '/user/5'), true);
  t.equal(accessOf(v.base, '/user/5/'), true);
  t.equal(accessOf(v.base, '/user/5/x'), 'no match');
  t.equal(accessOf(v.base, '/User/5'), true, 'case-insensitive');
});

t.test('pathToRegExp escapes literals and supports optional params', async (t) => {
  const dotted = pathToRegExp('/v1.0/item/:id');
  t.ok(dotted.test('/v1.0/item/3'));
  t.notOk(dotted.test('/v1x0/item/3'), '"." is literal');
  const optional = pathToRegExp('/list/:page?');
  t.ok(optional.test('/list'));
  t.ok(optional.test('/list/2'));
  t.notOk(optional.test('/list/2/3'));
  const params = pathToRegExp('/a/:x/b/:y').exec('/a/1/b/2');
  t.same(params?.slice(1), ['1', '2']);
});

t.test('apisRegExp strings compile; an invalid one throws', async (t) => {
  const v = mustVersion(
    compileServiceAcl({ '1': { get: { apisRegExp: [{ regExp: '^/items/[0-9]+$', access: true }] } } }),
    '1',
  );
  const get = effectiveFor(v, 'GET');
  t.equal(accessOf(get, '/items/12'), true);
  t.equal(accessOf(get, '/items/ab'), 'no match');
  t.ok(get.regex[0]?.re instanceof RegExp);

  t.throws(() => compileServiceAcl({ '1': { apisRegExp: [{ regExp: '(' }] } }), {
    message: /invalid regular expression "\("/,
  });
  t.throws(() => compileServiceAcl({ '1': { post: { apisRegExp: [{ regExp: '[a-' }] } } }), {
    message: /invalid regular expression/,
  });
  t.throws(() => compileServiceAcl({ apisRegExp: [{ regExp: '*x' }] }), { message: /invalid regular expression/ });
});

t.test('access values are normalised', async (t) => {
  const groups = ['g1', 'g2'];
  const v = mustVersion(
    compileServiceAcl({
      '1': {
        apis: {
          '/absent': {},
          '/false': { access: false },
          '/true': { access: true },
          '/groups': { access: groups },
        },
        apisRegExp: [{ regExp: '^/re$' }],
      },
    }),
    '1',
  );
  t.equal(v.base.access, false, 'absent version access -> false');
  t.equal(accessOf(v.base, '/absent'), false);
  t.equal(accessOf(v.base, '/false'), false);
  t.equal(accessOf(v.base, '/true'), true);
  t.equal(accessOf(v.base, '/re'), false, 'apisRegExp without access -> false');
  const g = matchApi(v.base, '/groups')?.access;
  t.same(g, ['g1', 'g2']);
  t.not(g, groups, 'a copy, not the document array');
  t.ok(Object.isFrozen(g), 'group list frozen');
  groups.push('g3');
  t.same(matchApi(v.base, '/groups')?.access, ['g1', 'g2'], 'later edits to the document do not leak in');
  t.ok(Object.isFrozen(matchApi(v.base, '/true')), 'compiled api frozen');

  const trueVersion = mustVersion(compileServiceAcl({ '1': { access: true } }), '1');
  t.equal(trueVersion.base.access, true);
  const groupVersion = mustVersion(compileServiceAcl({ '1': { access: ['owner'] } }), '1');
  t.same(groupVersion.base.access, ['owner']);
});

t.test('compileAcl compiles every service, null for no ACL', async (t) => {
  t.equal(compileAcl(undefined), null);
  const acl = compileAcl({ urac: { '3': { access: true } }, legacy: { access: ['x'] } });
  t.not(acl, null);
  t.same([...(acl?.keys() ?? [])].sort(), ['legacy', 'urac']);
  const urac = acl?.get('urac');
  t.equal(urac?.latest, '3');
  t.equal(acl?.get('legacy')?.versions, null);
  t.equal(compileAcl({})?.size, 0, 'an empty ACL is an empty map, not null');
});

t.test('API matching ignores case: Express routes /ADMIN/users to /admin/users, so the ACL must too', async (t) => {
  const { compileServiceAcl: compile, versionAcl: va, effectiveFor: eff, matchApi: match } = await import('../../registry/view/acl.js');
  const s = compile({ '1': { access: false, apis: { '/admin/users': { access: ['owner'] }, '/orders/:id': { access: true } } } });
  const acl = eff(va(s, '1')!, 'GET');
  t.same(match(acl, '/ADMIN/users')?.access, ['owner']);
  t.same(match(acl, '/Admin/Users')?.access, ['owner']);
  t.equal(match(acl, '/ORDERS/7')?.access, true);
  const re = compile({ '1': { apisRegExp: [{ regExp: '^/secret', access: true }] } });
  t.equal(match(eff(va(re, '1')!, 'GET'), '/SECRET/x')?.access, true);
});
