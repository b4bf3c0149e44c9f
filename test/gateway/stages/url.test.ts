import t from 'tap';
import { queryParam } from '../../../gateway/query.js';
import { normalizePath } from '../../../gateway/stages/url.js';

t.test('normalizePath: plain paths are returned unchanged', async (t) => {
  for (const p of ['/', '/a', '/a/b', '/a/b/', '/a%20b/c', '/user/42', '/.well-known/x', '/a/..b', '/a/b.', '/a...']) {
    t.equal(normalizePath(p), p, p);
  }
});

t.test('normalizePath: collapses empty segments and resolves dot segments', async (t) => {
  const cases: [string, string][] = [
    ['//a//b', '/a/b'],
    ['//', '/'],
    ['/a//', '/a/'],
    ['/./', '/'],
    ['/a/./b', '/a/b'],
    ['/a/.', '/a'],
    ['/a/./', '/a/'],
    ['/a/b/../c', '/a/c'],
    ['/a/b/..', '/a'],
    ['/a/../', '/'],
    ['/a/b/../../c', '/c'],
    ['/svc/x/../api', '/svc/api'],
    ['/svc/x/..//api', '/svc/api'],
    ['/svc/./x/./../api/', '/svc/api/'],
    ['/.well-known/../x', '/x'],
  ];
  for (const [raw, want] of cases) t.equal(normalizePath(raw), want, `${raw} → ${want}`);
});

t.test('normalizePath: null for what is not a plain origin-form path', async (t) => {
  const bad = [
    '',
    'a/b',
    '*',
    'http://host/a',
    '/..',
    '/../a',
    '/a/../..',
    '/a/b/../../../c',
    '/a\\b',
    '/a/..\\..',
    '/%2e%2e/x',
    '/%2E%2E/x',
    '/svc/%2e%2e/x',
    '/svc/.%2e/x',
    '/svc/%2e/x',
    '/a%2fb',
    '/a%2Fb',
    '/a%5cb',
    '/a%5Cb',
    '/a%00b',
  ];
  for (const raw of bad) t.equal(normalizePath(raw), null, JSON.stringify(raw));
});

t.test('normalizePath: double-encoded dots stay data, never become a traversal', async (t) => {
  t.equal(normalizePath('/svc/%252e%252e/x'), '/svc/%252e%252e/x');
});

t.test('queryParam: finds a parameter by exact name', async (t) => {
  t.equal(queryParam('', 'key'), undefined, 'empty query');
  t.equal(queryParam('key=abc', 'key'), 'abc');
  t.equal(queryParam('a=1&key=abc&b=2', 'key'), 'abc', 'in the middle');
  t.equal(queryParam('a=1&key=abc', 'key'), 'abc', 'last');
  t.equal(queryParam('&key=abc', 'key'), 'abc', 'after an empty pair');
  t.equal(queryParam('a=1&&key=abc', 'key'), 'abc', 'after a double &');
  t.equal(queryParam('key=1&key=2', 'key'), '1', 'the first occurrence wins');
  t.equal(queryParam('access_token=t0k&key=k', 'access_token'), 't0k');
});

t.test('queryParam: other names are not confused with it', async (t) => {
  t.equal(queryParam('xkey=1', 'key'), undefined, 'suffix of another name');
  t.equal(queryParam('keyx=1', 'key'), undefined, 'prefix of another name');
  t.equal(queryParam('keyx=1&key=2', 'key'), '2', 'prefix of another name, then the real one');
  t.equal(queryParam('a=key=1', 'key'), undefined, 'inside a value');
  t.equal(queryParam('a=x&b=key%3D1', 'key'), undefined, 'encoded inside a value');
  t.equal(queryParam('KEY=1', 'key'), undefined, 'names are case-sensitive');
  t.equal(queryParam('key', 'key'), undefined, 'a name without = has no value');
  t.equal(queryParam('key&a=1', 'key'), undefined);
});

t.test('queryParam: values are decoded', async (t) => {
  t.equal(queryParam('key=', 'key'), '', 'empty value');
  t.equal(queryParam('key=a%20b', 'key'), 'a b');
  t.equal(queryParam('key=a+b', 'key'), 'a b', 'form encoding: + is a space');
  t.equal(queryParam('key=a%2Bb', 'key'), 'a+b', 'an encoded + stays a +');
  t.equal(queryParam('key=a=b', 'key'), 'a=b', 'everything after the first =');
  t.equal(queryParam('key=%C3%A9', 'key'), 'é', 'UTF-8');
  t.equal(queryParam('key=%26x&y=1', 'key'), '&x', 'an encoded & does not end the value');
});

t.test('queryParam: null when the value cannot be decoded', async (t) => {
  t.equal(queryParam('key=%ZZ', 'key'), null);
  t.equal(queryParam('key=%', 'key'), null);
  t.equal(queryParam('key=%C3', 'key'), null, 'truncated UTF-8');
  t.equal(queryParam('a=%ZZ&key=ok', 'key'), 'ok', 'a bad value elsewhere does not matter');
});

t.test('url stage: the built-in answers come first — a CORS preflight, the favicon, `/`', async (t) => {
  const { createUrlStage } = await import('../../../gateway/stages/url.js');
  const { BUILTIN_ANSWERS, ERRORS } = await import('../../../gateway/errors.js');
  const { contextFor, snapshotOf } = await import('../../helpers/stage-context.js');
  const snap = snapshotOf({});
  const url = createUrlStage({ cors: true });
  t.equal(url.run(contextFor(snap, { method: 'OPTIONS', url: '/svc/x' })), BUILTIN_ANSWERS.PREFLIGHT);
  t.equal(url.run(contextFor(snap, { url: '/favicon.ico' })), BUILTIN_ANSWERS.FAVICON);
  t.equal(url.run(contextFor(snap, { url: '/' })), ERRORS.HELLO);
  t.equal(url.run(contextFor(snap, { method: 'POST', url: '/favicon.ico' })), ERRORS.UNKNOWN_SERVICE, 'only a GET is the favicon');
  t.equal(createUrlStage({ cors: false }).run(contextFor(snap, { method: 'OPTIONS', url: '/svc/x' })), ERRORS.UNKNOWN_SERVICE, 'without CORS an OPTIONS is a request like any other');
});

t.test('url stage: the ext key never reaches the upstream URL; the rest of the query does, as sent', async (t) => {
  const { createUrlStage } = await import('../../../gateway/stages/url.js');
  const { dropParam } = await import('../../../gateway/query.js');
  const { contextFor, snapshotOf } = await import('../../helpers/stage-context.js');
  const snap = snapshotOf({ services: [{ name: 'svc', port: 1, versions: { '1': { extKeyRequired: false } } }] });
  const url = createUrlStage();
  for (const [sent, upstream] of [
    ['/svc/x?key=abc', '/x'],
    ['/svc/x?a=1&key=abc&b=2', '/x?a=1&b=2'],
    ['/svc/x?key=abc&key=def', '/x'],
    ['/svc/x?monkey=1&keyring=2', '/x?monkey=1&keyring=2'],
    ['/svc/x?a=%20&b', '/x?a=%20&b'],
  ] as const) {
    const ctx = contextFor(snap, { url: sent });
    t.equal(url.run(ctx), null);
    t.equal(ctx.upstreamPath, upstream, `${sent} → ${upstream}`);
    t.equal(ctx.query, sent.slice(sent.indexOf('?') + 1), 'the key stage still reads the query as sent');
  }
  t.equal(dropParam('key', 'key'), '');
  t.equal(dropParam('', 'key'), '');
});
