import { randomBytes } from 'node:crypto';
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import t from 'tap';
import type { EnvAcl, Product, Service, Tenant } from '../../registry/view/types.js';
import { extKey, settle, startTestGateway } from '../helpers/gateway.js';
import { startEchoService, startServer } from '../helpers/servers.js';

/**
 * Every denial of the data plane over real HTTP: status and envelope (soajs-reference §3), against
 * one gateway whose products, tenants and services are built so each code has exactly one cause.
 */

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** node:http, not fetch: fetch would normalise `..` and refuse some headers. */
function call(port: number, path: string, opts: { method?: string; headers?: OutgoingHttpHeaders } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer for ${path} within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

function denied(t: Tap, r: Reply, status: number, code: number, message: string, label = ''): void {
  t.equal(r.status, status, `HTTP ${status} ${label}`.trim());
  t.equal(r.headers['content-type'], 'application/json');
  let body: unknown;
  try {
    body = JSON.parse(r.text);
  } catch {
    body = r.text;
  }
  t.strictSame(body, { result: false, errors: { codes: [code], details: [{ code, message }] } }, `envelope ${code} ${label}`.trim());
}

function proxied(t: Tap, r: Reply, upstreamUrl: string): void {
  t.equal(r.status, 200, `proxied (got ${r.status} ${r.text.slice(0, 160)})`);
  t.equal(r.headers['x-upstream'], 'echo', 'answered by the upstream');
  if (r.status === 200) t.equal((JSON.parse(r.text) as { data: { url: string } }).data.url, upstreamUrl, 'upstream path');
}

const MSG = {
  130: 'Unknown service.',
  132: 'A valid key is needed to access any API.',
  133: 'The service you are trying to reach is not reachable at this moment.',
  144: 'The provided key cannot be used with this environment',
  148: 'Unable to load the key information',
  152: 'Unable to load the product package information. Check provision configuration for this key.',
  154: 'Access denied: The service is not available in your current package.',
  155: 'Geographic location forbidden',
  156: 'Device forbidden',
  158: 'You need to be logged in to access this System.',
  159: 'System api access is restricted. api is not in provision.',
  161: 'You need to be logged in to access this API.',
  180: 'Malformed request path.',
  TOKEN_NOT_FOUND: 'The access token was not found',
  TOKEN_MULTIPLE: 'Only one method may be used to authenticate at a time (Auth header,  GET or POST).',
  TOKEN_MALFORMED: 'Malformed auth header',
  TOKEN_INVALID: 'The access token provided is invalid.',
} as const;

const newKey = () => randomBytes(48).toString('hex');
const K = {
  good: newKey(),
  future: newKey(),
  expiredMs: newKey(),
  expiredIso: newKey(),
  stg: newKey(),
  upperEnv: newKey(),
  geoAllow10: newKey(),
  geoDeny127: newKey(),
  geoAllowLocal: newKey(),
  device: newKey(),
  override: newKey(),
  ghost: newKey(),
  unknown: newKey(),
};

const keyedFlags = { extKeyRequired: true, oauth: false };
const svc = (name: string, versions: Service['versions']): Service => ({ name, port: 4100, versions });

const services: Service[] = [
  // Latest service version is 2, the package lists only 1: without a requested version the ACL's wins.
  svc('keyed', { '1': keyedFlags, '2': keyedFlags }),
  svc('open', { '1': { extKeyRequired: false, oauth: false } }),
  svc('nohost', { '1': keyedFlags }),
  svc('refused', { '1': keyedFlags }),
  svc('hidden', { '1': keyedFlags }),
  svc('login', { '1': keyedFlags }),
  svc('restricted', { '1': keyedFlags }),
  svc('methods', { '1': keyedFlags }),
  svc('override', { '1': keyedFlags }),
  // oauth absent: on (SOAJS default)
  svc('secure', { '1': { extKeyRequired: true } }),
  svc('ghostver', { '1': keyedFlags }),
];

const PACKAGE_ACL: EnvAcl = {
  dev: {
    keyed: { '1': { access: false, apis: { '/needs-login': { access: true } } } },
    nohost: { '1': {} },
    // The ACL grants a version the service does not have.
    ghostver: { '1': {}, '3': {} },
    refused: { '1': {} },
    login: { '1': { access: true, apis: { '/pub': { access: false }, '/priv': { access: true } } } },
    restricted: {
      '1': {
        apisPermission: 'restricted',
        apis: { '/api': { access: false }, '/user/:id': { access: false }, '/locked': { access: true } },
      },
    },
    methods: { '1': { get: { apisPermission: 'restricted', apis: { '/only': { access: false } } } } },
    override: { '1': {} },
    secure: { '1': { apis: { '/private': { access: true }, '/public': { access: false } } } },
  },
  // `hidden` is granted in another environment only: this gateway serves dev.
  stg: { hidden: { '1': {} } },
};

const products: Product[] = [
  { code: 'TPROD', name: 'Test product', packages: [{ code: 'TPROD_BASIC', name: 'Basic', acl: PACKAGE_ACL }] },
];

const tenants: Tenant[] = [
  {
    id: 'tenant1',
    code: 'TEN1',
    name: 'Tenant One',
    type: 'product',
    applications: [
      {
        appId: 'app1',
        product: 'TPROD',
        package: 'TPROD_BASIC',
        keys: [
          {
            key: randomBytes(16).toString('hex'),
            extKeys: [
              extKey(K.good),
              extKey(K.future, { expDate: Date.now() + 3_600_000 }),
              extKey(K.expiredMs, { expDate: Date.now() - 60_000 }),
              extKey(K.expiredIso, { expDate: new Date(Date.now() - 60_000).toISOString() }),
              extKey(K.stg, { env: 'stg' }),
              extKey(K.upperEnv, { env: 'DEV' }),
              extKey(K.geoAllow10, { geo: { allow: ['10.0.0.0/8'] } }),
              extKey(K.geoDeny127, { geo: { deny: ['127.0.0.0/8'] } }),
              extKey(K.geoAllowLocal, { geo: { allow: ['127.0.0.1'] } }),
              extKey(K.device, { device: { deny: [{ family: 'curl' }] } }),
            ],
          },
        ],
      },
      {
        appId: 'app2',
        product: 'TPROD',
        package: 'TPROD_BASIC',
        // Application-level override: only `override`, and restricted with nothing listed.
        acl: { dev: { override: { '1': { apisPermission: 'restricted' } } } },
        keys: [{ key: randomBytes(16).toString('hex'), extKeys: [extKey(K.override)] }],
      },
    ],
  },
];

const gw = await startTestGateway({ products, tenants, services });
t.teardown(() => gw.close());
const echo = await startEchoService();
t.teardown(() => echo.close());

// A port nobody listens on: bind, read, close.
const closed = await startServer(() => undefined);
const closedPort = closed.port;
await closed.close();

for (const s of services) {
  if (s.name === 'nohost') continue;
  const port = s.name === 'refused' ? closedPort : echo.port;
  const maintenancePort = s.name === 'refused' ? closedPort : echo.maintenance.port;
  await gw.store.registerHost({ service: s.name, version: '1', host: '127.0.0.1', port, maintenancePort });
}
await settle(gw);

const get = (path: string, headers: OutgoingHttpHeaders = {}, method = 'GET') => call(gw.port, path, { method, headers });

t.test('130 unknown service', async (t) => {
  denied(t, await get('/nosuch/x', { key: K.good }), 404, 130, MSG[130]);
  denied(t, await get('/nosuch'), 404, 130, MSG[130]);
  denied(t, await get('/keyed:abc/x', { key: K.good }), 404, 130, MSG[130]);
  // the same service with a well-formed version is routed
  proxied(t, await get('/keyed:1/x', { key: K.good }), '/x');
});

t.test('132 keyed service without a key', async (t) => {
  denied(t, await get('/keyed/x'), 403, 132, MSG[132]);
  denied(t, await get('/keyed/x?key='), 403, 132, MSG[132]);
  proxied(t, await get('/keyed/x', { key: K.good }), '/x');
});

t.test('148 for unknown, malformed and expired keys', async (t) => {
  denied(t, await get('/keyed/x', { key: K.unknown }), 403, 148, MSG[148]);
  denied(t, await get('/keyed/x', { key: 'not-a-hex-key-at-all-zzzzzzzzzzzzzzzzzzzzzz' }), 403, 148, MSG[148]);
  denied(t, await get('/keyed/x', { key: K.good.toUpperCase() }), 403, 148, MSG[148], 'upper-case hex is not an ext key');
  denied(t, await get('/keyed/x', { key: K.good.slice(0, 31) }), 403, 148, MSG[148], 'too short');
  denied(t, await get('/keyed/x?key=%ZZ'), 403, 148, MSG[148]);
  denied(t, await get(`/keyed/x?key=${K.unknown}`), 403, 148, MSG[148]);
  denied(t, await get('/keyed/x', { key: K.expiredMs }), 403, 148, MSG[148]);
  denied(t, await get('/keyed/x', { key: K.expiredIso }), 403, 148, MSG[148]);
  proxied(t, await get('/keyed/x', { key: K.future }), '/x');
});

t.test('144 key of another environment', async (t) => {
  denied(t, await get('/keyed/x', { key: K.stg }), 401, 144, MSG[144]);
  proxied(t, await get('/keyed/x', { key: K.upperEnv }), '/x');
});

t.test('key from ?key= as well as from the header', async (t) => {
  // The key is never forwarded in the upstream URL, whichever one decided (issue 16 §6).
  proxied(t, await get(`/keyed/x?key=${K.good}`), '/x');
  proxied(t, await get('/keyed/x', { key: K.good }), '/x');
  // the header wins over the query, and the query's key (another one) does not reach the service either
  proxied(t, await get(`/keyed/x?key=${K.unknown}&a=1`, { key: K.good }), '/x?a=1');
});

t.test('a key sent to a service that needs none must still be valid', async (t) => {
  echo.seen.length = 0;
  denied(t, await get('/open/x', { key: K.unknown }), 403, 148, MSG[148]);
  denied(t, await get('/open/x', { key: 'zz' }), 403, 148, MSG[148]);
  denied(t, await get('/open/x?key=%ZZ'), 403, 148, MSG[148]);
  denied(t, await get('/open/x', { key: K.stg }), 401, 144, MSG[144]);
  t.equal(echo.seen.length, 0, 'nothing reached the upstream');

  proxied(t, await get('/open/x', { key: K.good }), '/x');
  proxied(t, await get('/open/x'), '/x');
  t.equal(echo.seen.length, 2);
  t.equal(echo.seen[0]?.inject, null, 'no soajsinjectobj for a service without key');
  t.equal(echo.seen[0]?.headers['key'], K.good, 'the key itself is forwarded');
  // the key's geo rules belong to the tenant context, which a keyless service does not have
  proxied(t, await get('/open/x', { key: K.geoAllow10 }), '/x');
});

t.test('133 no host, unknown version, refused connection', async (t) => {
  denied(t, await get('/nohost/x', { key: K.good }), 504, 133, MSG[133]);
  // SOAJS order: a version the key's ACL lacks is 154 (keyACL) before the registry is asked.
  denied(t, await get('/keyed/v9/x', { key: K.good }), 401, 154, MSG[154]);
  denied(t, await get('/keyed:9/x', { key: K.good }), 401, 154, MSG[154]);
  // Granted by the ACL but unknown to the service: 133.
  denied(t, await get('/ghostver/v3/x', { key: K.good }), 504, 133, MSG[133]);
  denied(t, await get('/ghostver/x', { key: K.good }), 504, 133, MSG[133]);
  denied(t, await get('/refused/x', { key: K.good }), 504, 133, MSG[133]);
  // marked down: answered at once, still 133
  denied(t, await get('/refused/x', { key: K.good }), 504, 133, MSG[133]);
});

t.test('152 application whose package does not exist', async (t) => {
  const ghost: Tenant = {
    id: 'tenant2',
    code: 'TEN2',
    name: 'Ghost package tenant',
    type: 'product',
    applications: [
      {
        appId: 'app3',
        product: 'TPROD',
        package: 'TPROD_GHOST',
        keys: [{ key: randomBytes(16).toString('hex'), extKeys: [extKey(K.ghost)] }],
      },
    ],
  };
  // The schema only checks that the package is named after the product; it cannot see packages.
  await t.resolves(gw.store.put('tenant', ghost), 'validation accepts a package that does not exist');
  await settle(gw);
  denied(t, await get('/keyed/x', { key: K.ghost }), 500, 152, MSG[152]);
  // a service without key has no package to check
  proxied(t, await get('/open/x', { key: K.ghost }), '/x');
});

t.test('154 service not in the package, version not in the ACL', async (t) => {
  echo.seen.length = 0;
  denied(t, await get('/hidden/x', { key: K.good }), 401, 154, MSG[154]);
  denied(t, await get('/hidden/x', { key: K.good, access_token: 'abc' }), 401, 154, MSG[154], 'a token hint changes nothing without oauth');
  denied(t, await get('/keyed/v2/x', { key: K.good }), 401, 154, MSG[154]);
  denied(t, await get('/keyed:2/x', { key: K.good }), 401, 154, MSG[154]);
  t.equal(echo.seen.length, 0, 'nothing reached the upstream');
  proxied(t, await get('/keyed/v1/x', { key: K.good }), '/x');
});

t.test('155 geo allow/deny', async (t) => {
  denied(t, await get('/keyed/x', { key: K.geoAllow10 }), 403, 155, MSG[155]);
  denied(t, await get('/keyed/x', { key: K.geoDeny127 }), 403, 155, MSG[155]);
  // a spoofed X-Forwarded-For does not move the client (no trusted proxies)
  denied(t, await get('/keyed/x', { key: K.geoAllow10, 'x-forwarded-for': '10.1.2.3', 'x-real-ip': '10.1.2.3' }), 403, 155, MSG[155]);
  proxied(t, await get('/keyed/x', { key: K.geoAllowLocal }), '/x');
});

t.test('156 device deny', async (t) => {
  denied(t, await get('/keyed/x', { key: K.device, 'user-agent': 'curl/8.0.0' }), 403, 156, MSG[156]);
  proxied(t, await get('/keyed/x', { key: K.device, 'user-agent': 'Wget/1.21.4' }), '/x');
  proxied(t, await get('/keyed/x', { key: K.good, 'user-agent': 'curl/8.0.0' }), '/x');
});

t.test('158 service access true, no user (oauth off)', async (t) => {
  denied(t, await get('/login/x', { key: K.good }), 401, 158, MSG[158], 'API not listed');
  denied(t, await get('/login/priv', { key: K.good }), 401, 158, MSG[158], 'API listed with access');
  proxied(t, await get('/login/pub', { key: K.good }), '/pub');
});

t.test('159 restricted and not listed; 161 API access without user', async (t) => {
  echo.seen.length = 0;
  denied(t, await get('/restricted/other', { key: K.good }), 401, 159, MSG[159]);
  denied(t, await get('/restricted', { key: K.good }), 401, 159, MSG[159]);
  denied(t, await get('/restricted/locked', { key: K.good }), 401, 161, MSG[161]);
  denied(t, await get('/keyed/needs-login', { key: K.good }), 401, 161, MSG[161]);
  t.equal(echo.seen.length, 0, 'nothing reached the upstream');
  proxied(t, await get('/restricted/api', { key: K.good }), '/api');
  proxied(t, await get('/keyed/other', { key: K.good }), '/other');
});

t.test('path parameters, trailing slash, traversal', async (t) => {
  proxied(t, await get('/restricted/user/42', { key: K.good }), '/user/42');
  proxied(t, await get('/restricted/user/42/', { key: K.good }), '/user/42/');
  denied(t, await get('/restricted/user/42/extra', { key: K.good }), 401, 159, MSG[159]);
  denied(t, await get('/restricted/user', { key: K.good }), 401, 159, MSG[159]);

  proxied(t, await get('/restricted/api/', { key: K.good }), '/api/');
  proxied(t, await get('/restricted/api/?x=1', { key: K.good }), '/api/?x=1');

  proxied(t, await get('/restricted/x/../api', { key: K.good }), '/api');
  proxied(t, await get('/restricted/./api', { key: K.good }), '/api');
  proxied(t, await get('//restricted//api', { key: K.good }), '/api');
  denied(t, await get('/restricted/x/../other', { key: K.good }), 401, 159, MSG[159]);
  denied(t, await get('/restricted/%2e%2e/x', { key: K.good }), 400, 180, MSG[180]);
  denied(t, await get('/restricted/%2E%2E/api', { key: K.good }), 400, 180, MSG[180]);
  denied(t, await get('/restricted/a%2fb', { key: K.good }), 400, 180, MSG[180]);
  denied(t, await get('/../restricted/api', { key: K.good }), 400, 180, MSG[180]);
});

t.test('method-level ACL: a listed method replaces the version, an unlisted one uses it', async (t) => {
  proxied(t, await get('/methods/only', { key: K.good }), '/only');
  denied(t, await get('/methods/other', { key: K.good }), 401, 159, MSG[159]);
  // SOAJS observed: PUT has no section, so the version level (public) applies
  const put = await get('/methods/other', { key: K.good }, 'PUT');
  t.equal(put.status, 200);
  t.equal(put.headers['x-upstream'], 'echo');
  const del = await get('/methods/other', { key: K.good }, 'DELETE');
  t.equal(del.status, 200);
});

t.test('application-level ACL override wins over the package', async (t) => {
  denied(t, await get('/override/x', { key: K.override }), 401, 159, MSG[159]);
  proxied(t, await get('/override/x', { key: K.good }), '/x');
  // a service absent from the override falls back to the package
  proxied(t, await get('/keyed/x', { key: K.override }), '/x');
  denied(t, await get('/restricted/other', { key: K.override }), 401, 159, MSG[159]);
  proxied(t, await get('/restricted/api', { key: K.override }), '/api');
});

t.test('oauth on: token demanded, one method, validated when sent', async (t) => {
  echo.seen.length = 0;
  denied(t, await get('/secure/private', { key: K.good }), 400, 400, MSG.TOKEN_NOT_FOUND);
  denied(
    t,
    await get('/secure/private?access_token=a', { key: K.good, authorization: 'Bearer b' }),
    400,
    400,
    MSG.TOKEN_MULTIPLE,
  );
  denied(t, await get('/secure/private', { key: K.good, authorization: 'Basic dXNlcjpwYXNz' }), 400, 400, MSG.TOKEN_MALFORMED);
  denied(t, await get('/secure/private', { key: K.good, authorization: 'Bearer abc' }), 401, 401, MSG.TOKEN_INVALID);
  denied(t, await get('/secure/private', { key: K.good, access_token: 'abc' }), 401, 401, MSG.TOKEN_INVALID);
  denied(t, await get('/secure/private?access_token=abc', { key: K.good }), 401, 401, MSG.TOKEN_INVALID);
  // a token sent to a public API is validated too (so the user would load)
  denied(t, await get('/secure/public?access_token=abc', { key: K.good }), 401, 401, MSG.TOKEN_INVALID);
  t.equal(echo.seen.length, 0, 'nothing reached the upstream');
  proxied(t, await get('/secure/public', { key: K.good }), '/public');
  // a non-Bearer Authorization on a public API is not a token (e.g. Basic for the service itself)
  proxied(t, await get('/secure/public', { key: K.good, authorization: 'Basic dXNlcjpwYXNz' }), '/public');
  // unlisted API under a version with access false: public, no token needed
  proxied(t, await get('/secure/other', { key: K.good }), '/other');
});

t.test('a denied request with a body is answered', async (t) => {
  const res = await new Promise<Reply>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: gw.port, path: '/hidden/x', method: 'POST', headers: { key: K.good, 'content-type': 'text/plain' }, agent: false }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end('payload');
  });
  denied(t, res, 401, 154, MSG[154]);
});
