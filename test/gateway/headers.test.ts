import { randomBytes } from 'node:crypto';
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import t from 'tap';
import type { EnvAcl, Product, Service, Tenant } from '../../registry/view/types.js';
import { extKey, settle, startTestGateway } from '../helpers/gateway.js';
import { startEchoService, startServer, type Seen } from '../helpers/servers.js';

/** What crosses the gateway in each direction: request headers, path, injected context, response headers. */

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** node:http: fetch refuses to send connection, keep-alive, te, upgrade and host. */
function call(port: number, path: string, headers: OutgoingHttpHeaders = {}, method = 'GET', body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer for ${path} within 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

const KEY = randomBytes(48).toString('hex');
const IKEY = randomBytes(16).toString('hex');

const keyed = { extKeyRequired: true, oauth: false };
const services: Service[] = [
  { name: 'svc', port: 4100, versions: { '1': keyed } },
  { name: 'prov', port: 4100, versions: { '1': { ...keyed, provision_ACL: true } } },
  { name: 'plain', port: 4100, versions: { '1': { extKeyRequired: false, oauth: false } } },
  { name: 'custom', port: 4100, versions: { '1': { extKeyRequired: false, oauth: false } } },
];

const PACKAGE_ACL: EnvAcl = {
  dev: { svc: { '1': {} }, prov: { '1': { apis: { '/a': { access: false } } } } },
  stg: { svc: { '1': { apisPermission: 'restricted' } } },
};
const APP_ACL: EnvAcl = { dev: { elsewhere: { '1': {} } }, prod: { elsewhere: { '1': { access: true } } } };
const KEY_CONFIG = {
  dev: {
    commonFields: { shared: 'c', svc: 'from commonFields: loses to the service entry' },
    svc: { a: 1, nested: { deep: true } },
    prov: { p: 2 },
    other: { secret: 'never shown to svc' },
  },
  stg: { svc: { a: 'stg' } },
};

const products: Product[] = [
  { code: 'TPROD', name: 'Test product', packages: [{ code: 'TPROD_BASIC', name: 'Basic', acl: PACKAGE_ACL }] },
];
const tenants: Tenant[] = [
  {
    id: 'tenant1',
    code: 'TEN1',
    name: 'Tenant Ünïcode',
    type: 'product',
    applications: [
      {
        appId: 'app1',
        product: 'TPROD',
        package: 'TPROD_BASIC',
        acl: APP_ACL,
        keys: [{ key: IKEY, config: KEY_CONFIG, extKeys: [extKey(KEY)] }],
      },
    ],
  },
];

// Credentials on: the origin is echoed (with Vary), which is what these tests look at.
const gw = await startTestGateway({ products, tenants, services, config: { 'cors.credentials': true } });
t.teardown(() => gw.close());
const echo = await startEchoService();
t.teardown(() => echo.close());

/** Upstream with chosen response headers, by path. */
const custom = await startServer((req, res) => {
  const path = (req.url ?? '').split('?')[0];
  if (path === '/count') {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes }));
    });
    return;
  }
  req.resume();
  if (path === '/hop') {
    res.writeHead(201, {
      connection: 'keep-alive, x-hop',
      'keep-alive': 'timeout=99',
      'x-hop': 'listed in Connection',
      'proxy-authenticate': 'Basic realm="upstream"',
      'x-kept': 'yes',
      'set-cookie': ['a=1', 'b=2'],
      'content-type': 'text/plain',
    });
    res.end('created');
  } else if (path === '/early') {
    // 103 Early Hints (two preload links), then the answer a little later.
    res.writeEarlyHints({ link: ['</a.css>; rel=preload; as=style', '</b.js>; rel=preload; as=script'] });
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('after hints');
    }, 20);
  } else if (path === '/early-odd') {
    // A 103 whose Link node would refuse to write (not `<uri>; params`): written raw.
    res.socket?.write('HTTP/1.1 103 Early Hints\r\nlink: not-a-link\r\n\r\n');
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('after odd hints');
  } else if (path === '/acao') {
    res.writeHead(200, { 'access-control-allow-origin': 'https://upstream.example', 'content-type': 'text/plain' });
    res.end('own cors');
  } else if (path === '/vary') {
    res.writeHead(200, { vary: 'Accept-Encoding', 'content-type': 'text/plain' });
    res.end('varies');
  } else {
    res.writeHead(404);
    res.end();
  }
});
t.teardown(() => custom.close());
const customMaintenance = await startServer((_req, res) => res.end('{"result":true}'));
t.teardown(() => customMaintenance.close());

for (const name of ['svc', 'prov', 'plain']) {
  await gw.store.registerHost({ service: name, version: '1', host: '127.0.0.1', port: echo.port, maintenancePort: echo.maintenance.port });
}
await gw.store.registerHost({ service: 'custom', version: '1', host: '127.0.0.1', port: custom.port, maintenancePort: customMaintenance.port });
await settle(gw);

/** Sends one request and returns what the echo upstream saw of it. */
async function through(
  path: string,
  headers: OutgoingHttpHeaders = {},
  method = 'GET',
  body?: string,
): Promise<{ reply: Reply; seen: Seen | undefined }> {
  const before = echo.seen.length;
  const reply = await call(gw.port, path, headers, method, body);
  return { reply, seen: echo.seen.length === before + 1 ? echo.seen[before] : undefined };
}

const FORGED_INJECT = JSON.stringify({ tenant: { id: 'forged' }, key: { config: { admin: true } } });

t.test('client headers: hop-by-hop and internal ones stripped, the rest forwarded', async (t) => {
  const { reply, seen } = await through('/svc/a', {
    host: 'api.example.test',
    key: KEY,
    authorization: 'Bearer opaque-token',
    'x-custom': 'hello',
    'user-agent': 'tessera-test/1.0',
    soajsinjectobj: FORGED_INJECT,
    connection: 'keep-alive, x-secret',
    'keep-alive': 'timeout=5',
    te: 'trailers',
    upgrade: 'websocket',
    'proxy-authorization': 'Basic Zm9vOmJhcg==',
    'proxy-connection': 'keep-alive',
    'x-forwarded-for': '6.6.6.6',
    'x-real-ip': '6.6.6.6',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-proto': 'https',
    forwarded: 'for=6.6.6.6',
    'x-secret': 'hop-only',
  });
  t.equal(reply.status, 200, reply.text.slice(0, 200));
  if (!seen) return t.fail('the upstream saw exactly one request');
  const h = seen.headers;
  t.not(h['connection'] ?? '', 'keep-alive, x-secret', 'client Connection not forwarded');
  t.notMatch(h['connection'] ?? '', /x-secret/);
  for (const name of ['keep-alive', 'te', 'upgrade', 'proxy-authorization', 'proxy-connection', 'x-real-ip', 'forwarded', 'x-secret']) {
    t.equal(h[name], undefined, `${name} not forwarded`);
  }
  t.equal(h['x-forwarded-for'], '127.0.0.1', 'x-forwarded-for is the socket address');
  t.equal(h['x-forwarded-proto'], 'http');
  t.equal(h['x-forwarded-host'], 'api.example.test', 'x-forwarded-host is the Host the client sent');
  t.equal(h['host'], 'api.example.test', 'Host forwarded');
  t.equal(h['key'], KEY, 'key forwarded');
  t.equal(h['authorization'], 'Bearer opaque-token', 'authorization forwarded');
  t.equal(h['x-custom'], 'hello', 'custom header forwarded');
  t.equal(h['user-agent'], 'tessera-test/1.0');
  t.not(h['soajsinjectobj'], FORGED_INJECT, 'the forged soajsinjectobj is replaced');
  t.equal((seen.inject?.['tenant'] as { id?: string } | undefined)?.id, 'tenant1', 'the gateway built the context');
});

t.test('a service without key: a client-sent soajsinjectobj never reaches it', async (t) => {
  const { reply, seen } = await through('/plain/x', { soajsinjectobj: FORGED_INJECT, 'x-real-ip': '6.6.6.6' });
  t.equal(reply.status, 200);
  if (!seen) return t.fail('the upstream saw exactly one request');
  t.equal(seen.headers['soajsinjectobj'], undefined);
  t.equal(seen.headers['x-real-ip'], undefined);
  t.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
});

t.test('upstream path: service and version dropped, query kept but for the ext key', async (t) => {
  const cases: [string, string][] = [
    [`/svc/v1/a/b?x=1&key=${KEY}`, `/a/b?x=1`],
    [`/svc:1/a/b?key=${KEY}`, `/a/b`],
    [`/svc/a/b?key=${KEY}&y=%20z`, `/a/b?y=%20z`],
    [`/svc?key=${KEY}`, `/`],
    // `/v1` as the last segment is an API, not a version (SOAJS)
    [`/svc/v1?key=${KEY}`, `/v1`],
    [`/svc/v1/?key=${KEY}`, `/`],
    [`/svc/a%20b/c?key=${KEY}&q=1`, `/a%20b/c?q=1`],
  ];
  for (const [sent, expected] of cases) {
    const { reply, seen } = await through(sent);
    t.equal(reply.status, 200, `${sent} proxied`);
    t.equal(seen?.url, expected, `${sent} → ${expected}`);
  }
  const post = await through(`/plain/v1/p?q=1`, { 'content-type': 'text/plain', 'content-length': '4' }, 'POST', 'body');
  t.equal(post.seen?.method, 'POST', 'method unchanged');
  t.equal(post.seen?.url, '/p?q=1');
});

t.test('soajsinjectobj: tenant, key config for the called service only, application, device, geo, awareness', async (t) => {
  const { reply, seen } = await through('/svc/a', { key: KEY, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0' });
  t.equal(reply.status, 200);
  const raw = seen?.headers['soajsinjectobj'];
  if (typeof raw !== 'string') return t.fail('soajsinjectobj sent');
  t.match(raw, /^[\x20-\x7e]*$/, 'header value is printable ASCII (non-ASCII escaped)');
  t.strictSame(JSON.parse(raw), {
    tenant: { id: 'tenant1', name: 'Tenant Ünïcode', code: 'TEN1', locked: false, type: 'product' },
    key: {
      config: { shared: 'c', svc: { a: 1, nested: { deep: true } } },
      iKey: IKEY,
      eKey: KEY,
    },
    application: { product: 'TPROD', package: 'TPROD_BASIC', appId: 'app1' },
    package: {},
    device: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0',
    geo: { ip: '127.0.0.1' },
    awareness: { host: '127.0.0.1', port: gw.port },
  });

  // Another service of the same key: its own entry, and commonFields' `svc` is no longer shadowed.
  const other = await through('/prov/a', { key: KEY });
  t.strictSame((other.seen?.inject?.['key'] as { config?: unknown } | undefined)?.config, {
    shared: 'c',
    svc: 'from commonFields: loses to the service entry',
    prov: { p: 2 },
  });

  // No User-Agent: an empty device string.
  const bare = await through('/svc/a', { key: KEY });
  t.equal(bare.seen?.inject?.['device'], '');
});

t.test('provision_ACL: the raw ACLs are injected', async (t) => {
  const { reply, seen } = await through('/prov/a', { key: KEY });
  t.equal(reply.status, 200);
  const inject = seen?.inject;
  if (!inject) return t.fail('soajsinjectobj sent');
  t.strictSame(inject['application'], {
    product: 'TPROD',
    package: 'TPROD_BASIC',
    appId: 'app1',
    acl: APP_ACL['dev'],
    acl_all_env: APP_ACL,
  });
  t.strictSame(inject['package'], { acl: PACKAGE_ACL['dev'], acl_all_env: PACKAGE_ACL });
  // and not for a service without the flag
  const plain = await through('/svc/a', { key: KEY });
  t.strictSame(plain.seen?.inject?.['package'], {});
  t.strictSame(plain.seen?.inject?.['application'], { product: 'TPROD', package: 'TPROD_BASIC', appId: 'app1' });
});

t.test('upstream response: status and headers come back, hop-by-hop ones dropped', async (t) => {
  const r = await call(gw.port, '/custom/hop');
  t.equal(r.status, 201);
  t.equal(r.text, 'created');
  t.equal(r.headers['x-kept'], 'yes');
  t.strictSame(r.headers['set-cookie'], ['a=1', 'b=2'], 'repeated headers kept');
  t.equal(r.headers['content-type'], 'text/plain');
  t.equal(r.headers['x-hop'], undefined, 'a header listed in the upstream Connection is dropped');
  t.equal(r.headers['proxy-authenticate'], undefined);
  t.not(r.headers['keep-alive'], 'timeout=99', 'upstream keep-alive not relayed');
  t.notMatch(r.headers['connection'] ?? '', /x-hop/);

  const echoed = await call(gw.port, '/plain/x');
  t.equal(echoed.headers['x-upstream'], 'echo');
});

t.test('103 Early Hints from the upstream reach the client, then the answer', async (t) => {
  const hints: { statusCode: number; headers: IncomingHttpHeaders }[] = [];
  const reply = await new Promise<Reply>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: gw.port, path: '/custom/early', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('information', (info) => hints.push({ statusCode: info.statusCode, headers: info.headers }));
    req.setTimeout(10_000, () => req.destroy(new Error('no answer for /custom/early within 10 s')));
    req.on('error', reject);
    req.end();
  });
  t.equal(reply.status, 200, reply.text);
  t.equal(reply.text, 'after hints');
  t.equal(hints.length, 1, 'one informational response');
  t.equal(hints[0]?.statusCode, 103);
  t.match(String(hints[0]?.headers['link']), /<\/a\.css>; rel=preload; as=style.*<\/b\.js>; rel=preload; as=script/);

  // Hints the gateway cannot pass on are dropped; the answer is not lost with them.
  const odd = await call(gw.port, '/custom/early-odd');
  t.equal(odd.status, 200, odd.text);
  t.equal(odd.text, 'after odd hints');
});

t.test('HEAD is proxied as HEAD and answers without a body', async (t) => {
  const { reply, seen } = await through('/plain/x', {}, 'HEAD');
  t.equal(reply.status, 200);
  t.equal(seen?.method, 'HEAD');
  t.equal(reply.headers['x-upstream'], 'echo');
  t.equal(reply.text, '');
});

t.test('CORS headers on proxied responses', async (t) => {
  // Only cross-origin requests carry Origin and read CORS headers: others get none.
  const plain = await call(gw.port, '/plain/x');
  t.equal(plain.headers['access-control-allow-origin'], undefined, 'no Origin, no CORS headers');
  t.equal(plain.headers['access-control-expose-headers'], undefined);

  const withOrigin = await call(gw.port, '/plain/x', { origin: 'https://app.example' });
  t.equal(withOrigin.headers['access-control-allow-origin'], 'https://app.example', 'origin echoed with credentials');
  t.equal(withOrigin.headers['access-control-allow-credentials'], 'true');
  t.match(withOrigin.headers['access-control-expose-headers'] ?? '', /key/);
  t.match(withOrigin.headers['vary'] ?? '', /\bOrigin\b/i);

  const own = await call(gw.port, '/custom/acao', { origin: 'https://app.example' });
  t.equal(own.status, 200);
  t.equal(own.headers['access-control-allow-origin'], 'https://upstream.example', "the upstream's own CORS wins");

  // An echoed origin must be announced in Vary even when the upstream sends a Vary of its own,
  // or a shared cache serves origin A's answer to origin B.
  const varied = await call(gw.port, '/custom/vary', { origin: 'https://app.example' });
  t.equal(varied.headers['access-control-allow-origin'], 'https://app.example');
  t.match(varied.headers['vary'] ?? '', /\bAccept-Encoding\b/i, "the upstream's Vary is kept");
  t.match(varied.headers['vary'] ?? '', /\bOrigin\b/i, 'Vary names Origin');
});

t.test('denials carry the CORS headers too', async (t) => {
  const r = await call(gw.port, '/svc/a', { origin: 'https://app.example' });
  t.equal(r.status, 403);
  t.equal(r.headers['access-control-allow-origin'], 'https://app.example');
});

t.test('Expect: 100-continue (curl sends it for large bodies) is answered by the gateway, not forwarded', async (t) => {
  const body = 'x'.repeat(4096);
  const r = await new Promise<Reply>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: gw.port,
        path: '/custom/count',
        method: 'POST',
        headers: { expect: '100-continue', 'content-length': body.length, 'content-type': 'text/plain' },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('continue', () => req.end(body));
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
  });
  t.equal(r.status, 200, r.text.slice(0, 200));
  t.equal(r.text, JSON.stringify({ bytes: body.length }), 'the whole body reached the upstream');
});
