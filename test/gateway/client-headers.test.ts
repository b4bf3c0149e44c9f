import t from 'tap';
import { ClientHeaders } from '../../gateway/client-headers.js';
import type { RequestContext } from '../../gateway/context.js';
import { upstreamHeaders } from '../../gateway/forward/http.js';
import { InjectSigner, signInject } from '../../registry/view/inject-signature.js';
const SECRET = Buffer.from('a test secret of at least 32 bytes!!');

/** node's `req.headers` shape: lower-case names, repeats joined except set-cookie. */
const sample = {
  host: 'api.example.test',
  key: 'k1',
  authorization: 'Bearer t',
  access_token: 'q',
  'user-agent': 'ua/1',
  origin: 'https://app.example',
  'x-forwarded-for': '6.6.6.6, 10.0.0.1',
  connection: 'keep-alive, x-hop',
  'x-hop': 'listed in Connection',
  'keep-alive': 'timeout=5',
  soajsinjectobj: '{"forged":true}',
  'x-custom': 'kept',
  'set-cookie': ['a=1', 'b=2'],
  'content-length': '3',
};

t.test('the fields the gateway reads, in one pass', async (t) => {
  const h = new ClientHeaders(sample);
  t.equal(h.key, 'k1');
  t.equal(h.authorization, 'Bearer t');
  t.equal(h.accessToken, 'q');
  t.equal(h.userAgent, 'ua/1');
  t.equal(h.origin, 'https://app.example');
  t.equal(h.host, 'api.example.test');
  t.equal(h.xForwardedFor, '6.6.6.6, 10.0.0.1');
  t.equal(h.hasBody, true);
});

t.test('forwarded: the client order minus hop-by-hop, Connection-listed, internal and forwarding headers', async (t) => {
  const h = new ClientHeaders(sample);
  t.strictSame(h.forward, [
    'host', 'api.example.test',
    'key', 'k1',
    'authorization', 'Bearer t',
    'access_token', 'q',
    'user-agent', 'ua/1',
    'origin', 'https://app.example',
    'x-custom', 'kept',
    'set-cookie', 'a=1',
    'set-cookie', 'b=2',
    'content-length', '3',
  ]);
});

t.test('a body: a length other than 0, or a transfer coding', async (t) => {
  t.equal(new ClientHeaders({}).hasBody, false);
  t.equal(new ClientHeaders({ 'content-length': '0' }).hasBody, false);
  t.equal(new ClientHeaders({ 'content-length': '10' }).hasBody, true);
  t.equal(new ClientHeaders({ 'transfer-encoding': 'chunked' }).hasBody, true);
});

t.test('upstream headers: ours after the client\'s, the same list however often it is asked for', async (t) => {
  const headers = new ClientHeaders({ host: 'h', key: 'k', 'x-forwarded-proto': 'https' });
  const ctx = { headers, clientIp: '10.1.2.3', inject: '{"tenant":{}}' } as unknown as RequestContext;
  const expected = [
    'host', 'h',
    'key', 'k',
    'x-forwarded-for', '10.1.2.3',
    'x-forwarded-host', 'h',
    'x-forwarded-proto', 'http',
    'soajsinjectobj', '{"tenant":{}}',
    'x-tessera-signature', signInject(SECRET, '{"tenant":{}}', 1_700_000_000),
  ];
  const signer = new InjectSigner(SECRET, () => 1_700_000_000);
  t.strictSame([...upstreamHeaders(ctx, 'http', signer)], expected);
  t.strictSame([...upstreamHeaders(ctx, 'http', signer)], expected, 'a second call does not append again');
});
