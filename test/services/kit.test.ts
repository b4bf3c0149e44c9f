import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { SIGNATURE_HEADER, signInject } from '../../registry/view/inject-signature.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../../services/kit/json.js';
import { startService } from '../../services/kit/server.js';
import { signedInject } from '../helpers/inject.js';

/**
 * The service kit trusts the gateway only: a soajsinjectobj without a fresh signature of the
 * deployment's secret never reaches a handler (issue 14 §2); bodies nested too deep are a 400,
 * a handler's failure a logged 500 (§8). The clock is injected.
 */
const SECRET = randomBytes(32);
const INJECT = JSON.stringify({
  tenant: { id: 't1', code: 'T1', name: 'Tenant' },
  key: { iKey: 'a'.repeat(32), eKey: 'x', config: {} },
  application: { product: 'P', package: 'P_B', appId: 'app' },
});
const NOW = 1_800_000_000_000;

t.test('signature: fresh and right passes; missing, stale, future, forged or for another context is refused', async (t) => {
  let clock = NOW;
  const seen: string[] = [];
  const errors: unknown[] = [];
  const svc = await startService({
    name: 'kit-test',
    port: 0,
    extKeyRequired: true,
    injectSecret: SECRET,
    now: () => clock,
    onError: (err) => errors.push(err),
    routes: [
      { method: 'GET', path: '/who', handler: (req) => ({ result: true, data: req.soajs?.tenant.code }) },
      { method: 'POST', path: '/echo', body: true, handler: (req) => ({ result: true, data: Object.keys(req.body) }) },
      {
        method: 'GET',
        path: '/boom',
        handler: () => {
          throw new Error('a bug');
        },
      },
    ],
  });
  t.teardown(() => svc.close());
  t.equal(svc.host, '127.0.0.1', 'a service binds loopback unless told otherwise');
  const base = `http://127.0.0.1:${svc.port}`;
  const call = async (headers: Record<string, string>, path = '/who', init: RequestInit = {}) => {
    const res = await fetch(`${base}${path}`, { ...init, headers });
    const body = (await res.json()) as { result: boolean; data?: unknown; errors?: { codes: number[]; details: { message: string }[] } };
    if (body.result) seen.push(String(body.data));
    return { status: res.status, body };
  };
  const refused = async (t: Test, headers: Record<string, string>, fault: string) => {
    const r = await call(headers);
    t.equal(r.status, 403, `${fault}: 403`);
    t.equal(r.body.errors?.codes[0], 142);
    t.equal(r.body.errors?.details[0]?.message, `soajsinjectobj is refused: the gateway's signature is ${fault}. Call this service through the gateway`);
  };

  t.same((await call(signedInject(SECRET, INJECT, clock))).body, { result: true, data: 'T1' }, 'signed now: believed');
  const at = (ms: number) => signInject(SECRET, INJECT, Math.floor(ms / 1000));
  await refused(t, { soajsinjectobj: INJECT }, 'missing');
  await refused(t, { soajsinjectobj: INJECT, [SIGNATURE_HEADER]: 'v1=abc' }, 'malformed');
  await refused(t, { soajsinjectobj: INJECT, [SIGNATURE_HEADER]: at(NOW - 61_000) }, 'stale');
  t.equal((await call({ soajsinjectobj: INJECT, [SIGNATURE_HEADER]: at(NOW - 59_000) })).status, 200, '59 s old: still fresh');
  await refused(t, { soajsinjectobj: INJECT, [SIGNATURE_HEADER]: at(NOW + 6000) }, 'stale');
  await refused(t, { soajsinjectobj: INJECT, [SIGNATURE_HEADER]: signInject(randomBytes(32), INJECT, NOW / 1000) }, 'invalid');
  const other = INJECT.replace('"T1"', '"OWNER"');
  await refused(t, { soajsinjectobj: other, [SIGNATURE_HEADER]: at(NOW) }, 'invalid');
  clock = NOW + 120_000;
  await refused(t, signedInject(SECRET, INJECT, NOW), 'stale');
  t.same(seen, ['T1', 'T1'], 'no refused context reached the handler');

  const bare = await call({});
  t.equal(bare.status, 500, 'no context at all: SOAJS 142 as before');
  t.equal(bare.body.errors?.codes[0], 142);

  t.test('a body nested deeper than the limit is a 400; at the limit it is read', async (t) => {
    const nested = (depth: number) => `{"x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
    const headers = { ...signedInject(SECRET, INJECT, clock), 'content-type': 'application/json' };
    const ok = await call(headers, '/echo', { method: 'POST', body: nested(MAX_JSON_DEPTH) });
    t.same(ok.body, { result: true, data: ['x'] });
    const deep = await call(headers, '/echo', { method: 'POST', body: nested(MAX_JSON_DEPTH + 1) });
    t.equal(deep.status, 400);
    t.equal(deep.body.errors?.details[0]?.message, `Request body is nested deeper than ${MAX_JSON_DEPTH} levels`);
    const brackets = await call(headers, '/echo', { method: 'POST', body: JSON.stringify({ s: '[[[[{{{{'.repeat(100) }) });
    t.equal(brackets.status, 200, 'brackets inside strings do not count');
  });

  t.test("a handler's failure answers 500 and is reported", async (t) => {
    const r = await call(signedInject(SECRET, INJECT, clock), '/boom');
    t.equal(r.status, 500);
    t.equal(errors.length, 1);
    t.equal((errors[0] as Error).message, 'a bug');
  });
});

t.test('jsonDepthExceeds', async (t) => {
  t.equal(jsonDepthExceeds('{"a":{"b":[1,2,{"c":3}]}}', 4), false);
  t.equal(jsonDepthExceeds('{"a":{"b":[1,2,{"c":3}]}}', 3), true);
  t.equal(jsonDepthExceeds('{"a":"\\"{{{{"}', 1), false, 'escaped quotes keep the string open');
});
