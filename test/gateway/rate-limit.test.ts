import { randomBytes } from 'node:crypto';
import t from 'tap';
import { Client } from 'undici';
import type { Product, RateLimitRule, Service, Tenant } from '../../registry/view/types.js';
import { extKey, settle, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startEchoService } from '../helpers/servers.js';

/**
 * Rate limits (issue 16 §4) on one gateway, counted in its process, on an injected clock: the
 * package's (tier) limits, replaced by an application's or a key's own; counted per tenant,
 * application, key, user or client address; 429/190 with Retry-After and the RateLimit headers; a
 * kept decision does not skip them.
 */
const KEYS = { a1: randomBytes(64).toString('hex'), a2: randomBytes(64).toString('hex'), b: randomBytes(64).toString('hex'), own: randomBytes(64).toString('hex') };
const services: Service[] = [
  { name: 'svc', port: 1, versions: { '1': { extKeyRequired: true, oauth: false } } },
  { name: 'other', port: 1, versions: { '1': { extKeyRequired: true, oauth: false } } },
  { name: 'open', port: 1, versions: { '1': { extKeyRequired: false, oauth: false } } },
];
const acl = { dev: { svc: { '1': { access: false } }, other: { '1': { access: false } } } };
const tier = (rateLimits: RateLimitRule[]): Product => ({ code: 'P', name: 'P', packages: [{ code: 'P_TIER', name: 'tier', acl, rateLimits }, { code: 'P_FREE', name: 'free', acl }] });

function tenants(appLimits?: RateLimitRule[], keyLimits?: RateLimitRule[]): Tenant[] {
  return [
    {
      id: 'tA',
      code: 'TA',
      name: 'A',
      type: 'client',
      applications: [
        {
          appId: 'app1',
          product: 'P',
          package: 'P_TIER',
          ...(appLimits ? { rateLimits: appLimits } : {}),
          keys: [
            { key: 'a'.repeat(32), extKeys: [extKey(KEYS.a1)] },
            { key: 'c'.repeat(32), extKeys: [extKey(KEYS.own)], ...(keyLimits ? { rateLimits: keyLimits } : {}) },
          ],
        },
        { appId: 'app2', product: 'P', package: 'P_TIER', keys: [{ key: 'b'.repeat(32), extKeys: [extKey(KEYS.a2)] }] },
      ],
    },
    { id: 'tB', code: 'TB', name: 'B', type: 'client', applications: [{ appId: 'app3', product: 'P', package: 'P_TIER', keys: [{ key: 'd'.repeat(32), extKeys: [extKey(KEYS.b)] }] }] },
  ];
}

let now = Date.UTC(2026, 0, 1);
const clock = () => now;
const echo = await startEchoService();
t.teardown(() => echo.close());

async function gatewayWith(products: Product[], ts: Tenant[], headers: 'always' | 'near' | 'off' = 'always', config: Record<string, unknown> = {}): Promise<TestGateway> {
  const gw = await startTestGateway({ products, tenants: ts, services, clock, config: { 'gateway.rateLimitHeaders': headers, ...config } });
  for (const s of services) await gw.store.registerHost({ service: s.name, version: '1', host: '127.0.0.1', port: echo.port, maintenancePort: echo.maintenance.port });
  await settle(gw);
  return gw;
}

interface Answer {
  status: number;
  code: number | null;
  policy: string | undefined;
  state: string | undefined;
  retryAfter: string | undefined;
}

async function call(client: Client, key: string | null, path = '/svc/x', headers: Record<string, string> = {}): Promise<Answer> {
  const res = await client.request({ method: 'GET', path, headers: { ...(key === null ? {} : { key }), ...headers } });
  const text = await res.body.text();
  const h = (n: string) => res.headers[n] as string | undefined;
  return {
    status: res.statusCode,
    code: res.statusCode === 429 ? ((JSON.parse(text) as { errors: { codes: number[] } }).errors.codes[0] ?? null) : null,
    policy: h('ratelimit-policy'),
    state: h('ratelimit'),
    retryAfter: h('retry-after'),
  };
}

t.test('a tier limit per tenant: the 6th of 5 is 429/190 with Retry-After; every answer says where it stands', async (t) => {
  const gw = await gatewayWith([tier([{ by: 'tenant', limit: 5, windowSeconds: 60 }])], tenants());
  t.teardown(() => gw.close());
  // One keep-alive connection: after the first, each request reuses the kept decision.
  const client = new Client(gw.url);
  t.teardown(() => client.close());
  const answers: Answer[] = [];
  for (let i = 0; i < 5; i++) answers.push(await call(client, KEYS.a1));
  t.same(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
  t.equal(answers[0]!.policy, '"tenant";q=5;w=60', 'RateLimit-Policy');
  t.same(answers.map((a) => a.state), ['"tenant";r=4;t=60', '"tenant";r=3;t=60', '"tenant";r=2;t=60', '"tenant";r=1;t=60', '"tenant";r=0;t=60'], 'RateLimit counts down');
  const refused = await call(client, KEYS.a1);
  t.match(refused, { status: 429, code: 190, retryAfter: '60', state: '"tenant";r=0;t=60' }, 'the sixth: refused though its decision is kept');
  t.equal(echo.seen.filter((s) => s.headers['x-forwarded-host']).length >= 5, true);
  t.equal((await call(client, KEYS.a2)).status, 429, 'the same tenant through another application: the tenant’s count');
  t.equal((await call(client, KEYS.b)).status, 200, 'another tenant: its own count');
  t.equal((await call(client, null, '/open/x')).status, 200, 'an unkeyed service is not limited');
  now += 30_000;
  t.equal((await call(client, KEYS.a1)).status, 429, 'half the window later: still used up');
  now += 31_000;
  t.equal((await call(client, KEYS.a1)).status, 429, 'a sliding window: one window later the last one still counts by its overlap (59/60 of 5)');
  now += 12_100;
  t.equal((await call(client, KEYS.a1)).status, 200, 'once a fifth of it has slid out, one token is back');
  t.equal((await call(client, KEYS.a1)).status, 429, 'and only one');
});

t.test('application and key limits replace the tier’s; a service-scoped rule counts only its service', async (t) => {
  const gw = await gatewayWith(
    [tier([{ by: 'tenant', limit: 1000, windowSeconds: 60 }])],
    tenants([{ by: 'application', limit: 2, windowSeconds: 60, service: 'svc', name: 'app-svc' }], [{ by: 'key', limit: 3, windowSeconds: 10 }]),
  );
  t.teardown(() => gw.close());
  const client = new Client(gw.url);
  t.teardown(() => client.close());
  const a = [await call(client, KEYS.a1), await call(client, KEYS.a1), await call(client, KEYS.a1)];
  t.same(a.map((x) => x.status), [200, 200, 429], 'app1: its own limit of 2 on svc');
  t.equal(a[0]!.policy, '"app-svc";q=2;w=60');
  t.equal((await call(client, KEYS.a1, '/other/x')).status, 200, 'the app rule is for svc only: other passes');
  t.equal((await call(client, KEYS.a1, '/other/x')).policy, undefined, 'and carries no RateLimit header');
  const own = [await call(client, KEYS.own), await call(client, KEYS.own), await call(client, KEYS.own), await call(client, KEYS.own)];
  t.same(own.map((x) => x.status), [200, 200, 200, 429], 'the key with its own limit of 3 per 10 s');
  t.equal(own[0]!.policy, '"key";q=3;w=10');
  t.equal((await call(client, KEYS.a2)).policy, '"tenant";q=1000;w=60', 'app2 declares none: the tier applies');
});

t.test('per client address: counted per tenant and address', async (t) => {
  const gw = await gatewayWith([tier([{ by: 'ip', limit: 2, windowSeconds: 60 }])], tenants(), 'always', { 'gateway.trustedProxies': ['127.0.0.1/32'] });
  t.teardown(() => gw.close());
  const client = new Client(gw.url);
  t.teardown(() => client.close());
  const from = (ip: string) => call(client, KEYS.a1, '/svc/x', { 'x-forwarded-for': ip });
  t.same([(await from('10.0.0.1')).status, (await from('10.0.0.1')).status, (await from('10.0.0.1')).status], [200, 200, 429]);
  t.equal((await from('10.0.0.2')).status, 200, 'another address has its own');
  t.equal((await call(client, KEYS.b, '/svc/x', { 'x-forwarded-for': '10.0.0.1' })).status, 200, 'the same address in another tenant too');
});

t.test('a registry change does not reset the counters', async (t) => {
  const gw = await gatewayWith([tier([{ by: 'tenant', limit: 2, windowSeconds: 60 }])], tenants());
  t.teardown(() => gw.close());
  const client = new Client(gw.url);
  t.teardown(() => client.close());
  await call(client, KEYS.a1);
  await call(client, KEYS.a1);
  t.equal((await call(client, KEYS.a1)).status, 429);
  await gw.store.put('service', { name: 'extra', port: 2, versions: { '1': { extKeyRequired: false } } });
  await settle(gw);
  t.equal((await call(client, KEYS.a1)).status, 429, 'still used up after a snapshot rebuild');
});

t.test('gateway.rateLimitHeaders: near (the default) once a fifth or less is left; off keeps Retry-After only', async (t) => {
  const near = await gatewayWith([tier([{ by: 'tenant', limit: 10, windowSeconds: 60 }])], tenants(), 'near');
  t.teardown(() => near.close());
  t.equal(near.config.gateway.rateLimitHeaders, 'near');
  const client = new Client(near.url);
  t.teardown(() => client.close());
  const states: (string | undefined)[] = [];
  for (let i = 0; i < 10; i++) states.push((await call(client, KEYS.a1)).state);
  t.same(states, [undefined, undefined, undefined, undefined, undefined, undefined, undefined, '"tenant";r=2;t=60', '"tenant";r=1;t=60', '"tenant";r=0;t=60'], 'headers from the last fifth on');
  t.match(await call(client, KEYS.a1), { status: 429, retryAfter: '60', state: '"tenant";r=0;t=60', policy: '"tenant";q=10;w=60' }, 'and on the refusal');

  const off = await gatewayWith([tier([{ by: 'tenant', limit: 1, windowSeconds: 60 }])], tenants(), 'off');
  t.teardown(() => off.close());
  const c2 = new Client(off.url);
  t.teardown(() => c2.close());
  t.match(await call(c2, KEYS.a1), { status: 200, state: undefined, policy: undefined });
  t.match(await call(c2, KEYS.a1), { status: 429, state: undefined, policy: undefined, retryAfter: '60' }, 'off: a refusal still says when to come back');
});

t.test('a refused request spends nothing of the limits it passed; IPv6 is counted per /64', async (t) => {
  const gw = await gatewayWith([tier([{ by: 'tenant', limit: 3, windowSeconds: 60 }, { by: 'ip', limit: 1, windowSeconds: 60 }])], tenants(), 'near', {
    'gateway.trustedProxies': ['127.0.0.1/32'],
  });
  t.teardown(() => gw.close());
  const client = new Client(gw.url);
  t.teardown(() => client.close());
  const from = async (ip: string) => (await call(client, KEYS.a1, '/svc/x', { 'x-forwarded-for': ip })).status;
  t.same([await from('10.0.0.1'), await from('10.0.0.1'), await from('10.0.0.1')], [200, 429, 429], 'one address over its own limit');
  t.same([await from('10.0.0.2'), await from('10.0.0.3'), await from('10.0.0.4')], [200, 200, 429], 'the tenant still had its other two: the refusals spent none');

  t.equal(await from('2001:db8:0:1::5'), 429, 'the tenant limit is used up for everyone now');
});

t.test('addressBlock: IPv4 as is, IPv6 by its /64', async (t) => {
  const { addressBlock } = await import('../../gateway/stages/rate-limit.js');
  t.equal(addressBlock('10.1.2.3'), '10.1.2.3');
  t.equal(addressBlock('2001:db8:0:1::5'), '2001:db8:0:1::/64');
  t.equal(addressBlock('2001:0DB8:0000:0001:aaaa:bbbb:cccc:dddd'), '2001:db8:0:1::/64', 'case and leading zeros');
  t.equal(addressBlock('2001:db8::1'), '2001:db8:0:0::/64');
  t.equal(addressBlock('::1'), '0:0:0:0::/64');
  t.not(addressBlock('2001:db8:0:2::1'), addressBlock('2001:db8:0:1::1'), 'another /64 is another subject');
});
