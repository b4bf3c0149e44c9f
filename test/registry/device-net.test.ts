import t from 'tap';
import { deviceAllowed, parseUserAgent } from '../../registry/view/device.js';
import { compileCidrs, ipIn, plainIp } from '../../registry/view/net.js';

const UA = {
  chrome:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36',
  chrome98: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/98.0.4758.102 Safari/537.36',
  chromeAndroid:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36',
  chromeOs: 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36',
  firefox: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0',
  safari:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
  mobileSafari:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1',
  mobileSafari15:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 15_8 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.6.6 Mobile/15E148 Safari/604.1',
  ipad: 'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
  edge:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91',
  curl: 'curl/8.4.0',
  unknown: 'SomeBot/1.0',
};

function brief(ua: string): [string, string, string, string, string, string, string, string] {
  const a = parseUserAgent(ua);
  return [a.family, a.major, a.minor, a.patch, a.os.family, a.os.major, a.os.minor, a.os.patch];
}

t.test('parseUserAgent: browser families and versions', async (t) => {
  t.same(brief(UA.chrome), ['Chrome', '120', '0', '6099', 'Windows', '10', '0', '']);
  t.same(brief(UA.chromeAndroid), ['Chrome Mobile', '120', '0', '6099', 'Android', '14', '', '']);
  t.same(brief(UA.firefox), ['Firefox', '121', '0', '', 'Ubuntu', '', '', '']);
  t.same(brief(UA.safari), ['Safari', '17', '1', '', 'Mac OS X', '10', '15', '7']);
  t.same(brief(UA.mobileSafari), ['Mobile Safari', '17', '1', '2', 'iOS', '17', '1', '2']);
  t.same(brief(UA.edge), ['Edge', '120', '0', '2210', 'Windows', '10', '0', ''], 'Edge, not the Chrome it also names');
  t.same(brief(UA.curl), ['curl', '8', '4', '0', 'Other', '', '', '']);
  t.same(brief(UA.unknown), ['Other', '', '', '', 'Other', '', '', '']);
  t.same(brief(''), ['Other', '', '', '', 'Other', '', '', '']);
});

t.test('parseUserAgent: OS families', async (t) => {
  t.equal(parseUserAgent(UA.chrome).os.family, 'Windows');
  t.equal(parseUserAgent(UA.chromeAndroid).os.family, 'Android', 'Android before Linux');
  t.same(parseUserAgent(UA.chromeOs).os, { family: 'Chrome OS', major: '14541', minor: '0', patch: '0' });
  t.equal(parseUserAgent(UA.firefox).os.family, 'Ubuntu', 'Ubuntu before Linux');
  t.equal(parseUserAgent(UA.firefoxLinux).os.family, 'Linux');
  t.equal(parseUserAgent(UA.safari).os.family, 'Mac OS X');
  t.equal(parseUserAgent(UA.mobileSafari).os.family, 'iOS', 'iOS, though the UA says "like Mac OS X"');
  t.same(parseUserAgent(UA.ipad).os, { family: 'iOS', major: '16', minor: '6', patch: '' });
  t.equal(parseUserAgent(UA.ipad).family, 'Mobile Safari');
});

t.test('deviceAllowed: no rules, allow, deny', async (t) => {
  t.ok(deviceAllowed({}, UA.curl), 'no rules: allowed');
  t.ok(deviceAllowed({ allow: [], deny: [] }, UA.curl), 'empty lists: allowed');

  const chromeOnly = { allow: [{ family: 'Chrome' }] };
  t.ok(deviceAllowed(chromeOnly, UA.chrome));
  t.notOk(deviceAllowed(chromeOnly, UA.firefox));
  t.notOk(deviceAllowed(chromeOnly, UA.curl));
  t.notOk(deviceAllowed(chromeOnly, UA.edge), 'Edge is not Chrome');
  t.notOk(deviceAllowed(chromeOnly, UA.chromeAndroid), '"Chrome Mobile" is not "Chrome"');
  t.ok(deviceAllowed({ allow: [{ family: 'chrome' }] }, UA.chrome), 'family compared case-insensitively');

  const noCurl = { deny: [{ family: 'curl' }] };
  t.notOk(deviceAllowed(noCurl, UA.curl));
  t.ok(deviceAllowed(noCurl, UA.chrome));

  t.notOk(deviceAllowed({ allow: [{ family: 'Chrome' }] }, UA.unknown), 'an unknown agent is "Other"');
  t.ok(deviceAllowed({ allow: [{ family: 'Other' }] }, UA.unknown));
  t.ok(deviceAllowed({ allow: [{ family: 'Firefox' }, { family: 'curl' }] }, UA.curl), 'any allow rule suffices');
});

t.test('deviceAllowed: "*" matches anything', async (t) => {
  const all = { allow: [{ family: '*' }] };
  for (const ua of [UA.chrome, UA.curl, UA.unknown, '']) t.ok(deviceAllowed(all, ua), `allowed: ${ua || '(empty)'}`);
  t.ok(deviceAllowed({ allow: [{ family: 'Chrome', major: '*' }] }, UA.chrome));
  t.notOk(deviceAllowed({ deny: [{ family: '*' }] }, UA.chrome), 'deny "*" denies everything');
  t.ok(deviceAllowed({ allow: [{ os: { family: '*' } }] }, UA.curl));
});

t.test('deviceAllowed: {min, max} and exact version bounds', async (t) => {
  const range = { allow: [{ family: 'Chrome', major: { min: '100', max: '130' } }] };
  t.ok(deviceAllowed(range, UA.chrome), '120 in 100..130');
  t.notOk(deviceAllowed(range, UA.chrome98), '98 below min');
  t.ok(deviceAllowed({ allow: [{ family: 'Chrome', major: { min: '120', max: '120' } }] }, UA.chrome), 'bounds inclusive');
  t.notOk(deviceAllowed({ allow: [{ family: 'Chrome', major: { max: '119' } }] }, UA.chrome), '120 above max');
  t.ok(deviceAllowed({ allow: [{ family: 'Chrome', major: { min: '*', max: '120' } }] }, UA.chrome), 'min "*" unbounded');
  t.ok(deviceAllowed({ allow: [{ family: 'Chrome', major: { min: '99' } }] }, UA.chrome), 'numeric, not string, compare');
  t.notOk(deviceAllowed({ allow: [{ family: 'Other', major: { min: '1' } }] }, UA.unknown), 'no version: a bound fails');

  t.ok(deviceAllowed({ allow: [{ family: 'Chrome', major: '120' }] }, UA.chrome), 'exact string');
  t.notOk(deviceAllowed({ allow: [{ family: 'Chrome', major: '12' }] }, UA.chrome), 'exact is exact');
  t.ok(deviceAllowed({ allow: [{ family: 'Chrome', major: '120', minor: '0', patch: '6099' }] }, UA.chrome));
  t.notOk(deviceAllowed({ allow: [{ family: 'Chrome', patch: { min: '7000' } }] }, UA.chrome));

  const ios16 = { allow: [{ os: { family: 'iOS', major: { min: '16' } } }] };
  t.ok(deviceAllowed(ios16, UA.mobileSafari));
  t.notOk(deviceAllowed(ios16, UA.mobileSafari15));
  t.notOk(deviceAllowed(ios16, UA.chromeAndroid));

  const oldChrome = { allow: [{ family: '*' }], deny: [{ family: 'Chrome', major: { max: '99' } }] };
  t.notOk(deviceAllowed(oldChrome, UA.chrome98), 'deny wins over allow');
  t.ok(deviceAllowed(oldChrome, UA.chrome));
  t.ok(deviceAllowed(oldChrome, UA.firefox));
});

t.test('compileCidrs / ipIn: IPv4', async (t) => {
  t.equal(compileCidrs(undefined), null);
  t.equal(compileCidrs([]), null);
  const list = compileCidrs(['10.0.0.0/8', '192.168.1.7', '172.16.0.0/12']);
  if (!list) throw new Error('no list');
  t.ok(ipIn(list, '10.0.0.1'));
  t.ok(ipIn(list, '10.255.255.255'));
  t.notOk(ipIn(list, '11.0.0.0'));
  t.ok(ipIn(list, '192.168.1.7'), 'single address');
  t.notOk(ipIn(list, '192.168.1.8'));
  t.ok(ipIn(list, '172.31.255.1'));
  t.notOk(ipIn(list, '172.32.0.1'));
  t.notOk(ipIn(list, 'not-an-ip'));
  t.notOk(ipIn(list, ''));
  const all = compileCidrs(['0.0.0.0/0']);
  t.ok(all && ipIn(all, '203.0.113.9'), '/0 matches every IPv4');
  const one = compileCidrs(['203.0.113.9/32']);
  t.ok(one && ipIn(one, '203.0.113.9'));
  t.notOk(one && ipIn(one, '203.0.113.10'));
});

t.test('compileCidrs / ipIn: IPv6', async (t) => {
  const list = compileCidrs(['2001:db8::/32', '::1', 'fe80::1/128']);
  if (!list) throw new Error('no list');
  t.ok(ipIn(list, '2001:db8:1::5'));
  t.ok(ipIn(list, '2001:0db8:ffff:ffff::1'), 'non-canonical spelling');
  t.notOk(ipIn(list, '2001:db9::1'));
  t.ok(ipIn(list, '::1'));
  t.notOk(ipIn(list, '::2'));
  t.ok(ipIn(list, 'fe80::1'));
  t.notOk(ipIn(list, 'fe80::2'));
  t.notOk(ipIn(list, '10.0.0.1'), 'an IPv4 address is not in an IPv6 list');
});

t.test('::ffff: mapped addresses via plainIp', async (t) => {
  t.equal(plainIp('::ffff:10.1.2.3'), '10.1.2.3');
  t.equal(plainIp('10.1.2.3'), '10.1.2.3');
  t.equal(plainIp('::1'), '::1');
  t.equal(plainIp('::ffff:zz'), '::ffff:zz', 'not IPv4 after the prefix: unchanged');
  t.equal(plainIp('::ffff:a00:1'), '::ffff:a00:1', 'hex form unchanged');
  const list = compileCidrs(['10.0.0.0/8']);
  if (!list) throw new Error('no list');
  t.ok(ipIn(list, plainIp('::ffff:10.1.2.3')));
  t.notOk(ipIn(list, plainIp('::ffff:11.1.2.3')));
});

t.test('compileCidrs rejects what is no address or CIDR', async (t) => {
  t.throws(() => compileCidrs(['somewhere']), { message: /"somewhere" is not an IP address or CIDR/ });
  t.throws(() => compileCidrs(['10.0.0.0/8', '10.0.0/8']), { message: /"10\.0\.0\/8" is not an IP address/ });
  t.throws(() => compileCidrs(['10.0.0.0/33']), { message: /invalid prefix length/ });
  t.throws(() => compileCidrs(['10.0.0.0/-1']), { message: /invalid prefix length/ });
  t.throws(() => compileCidrs(['10.0.0.0/8.5']), { message: /invalid prefix length/ });
  t.throws(() => compileCidrs(['2001:db8::/129']), { message: /invalid prefix length/ });
  t.doesNotThrow(() => compileCidrs(['2001:db8::/128', '10.0.0.0/32']));
});

t.test('compileCidrs rejects malformed prefix lengths', async (t) => {
  // Each of these is a typo that must not silently widen a geo allow/deny list.
  t.throws(() => compileCidrs(['10.0.0.0/']), { message: /invalid prefix length/ }, 'empty prefix is not /0');
  t.throws(() => compileCidrs(['10.0.0.0/8/9']), 'a second "/" is not ignored');
  t.throws(() => compileCidrs(['10.0.0.0/ 8']), { message: /invalid prefix length/ }, 'no whitespace');
  t.throws(() => compileCidrs(['10.0.0.0/0x8']), { message: /invalid prefix length/ }, 'decimal only');
  t.throws(() => compileCidrs(['10.0.0.0/1e1']), { message: /invalid prefix length/ }, 'decimal digits only');
});
