import t from 'tap';
import { startTestGateway } from '../helpers/gateway.js';

t.test('GET / answers 136 with HTTP 200, favicon and CORS preflight are built in', async (t) => {
  const gw = await startTestGateway({ config: { 'cors.credentials': true } });
  t.teardown(() => gw.close());

  const hello = await fetch(`${gw.url}/`);
  t.equal(hello.status, 200);
  t.same(await hello.json(), {
    result: false,
    errors: { codes: [136], details: [{ code: 136, message: 'Hello I am here! what do you want me to do!' }] },
  });
  t.equal(hello.headers.get('access-control-allow-origin'), null, 'no Origin: not a CORS request');
  const cross = await fetch(`${gw.url}/`, { headers: { origin: 'https://app.example' } });
  t.equal(cross.headers.get('access-control-allow-origin'), 'https://app.example');

  const icon = await fetch(`${gw.url}/favicon.ico`);
  t.equal(icon.status, 200);
  t.equal(icon.headers.get('content-type'), 'image/x-icon');
  t.equal((await icon.arrayBuffer()).byteLength, 0);

  const pre = await fetch(`${gw.url}/anything/at/all`, { method: 'OPTIONS', headers: { origin: 'https://app.example' } });
  t.equal(pre.status, 204);
  t.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example', 'origin echoed: * cannot carry credentials');
  t.equal(pre.headers.get('access-control-allow-credentials'), 'true');
  t.match(pre.headers.get('access-control-allow-methods'), /GET/);
  t.match(pre.headers.get('access-control-allow-headers'), /key/);
});

t.test('absolute-form request targets are routed by their path (RFC 9112 §3.2.2)', async (t) => {
  const { connect } = await import('node:net');
  const gw = await startTestGateway();
  t.teardown(() => gw.close());
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(gw.port, '127.0.0.1', () => {
      socket.write('GET http://gateway.example/nope/api?x=1 HTTP/1.1\r\nHost: gateway.example\r\nConnection: close\r\n\r\n');
    });
    let data = '';
    socket.on('data', (c) => (data += c.toString()));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
  t.match(answer, /^HTTP\/1\.1 404 /, 'unknown service, not a malformed path');
  t.match(answer, /"codes":\[130\]/);
});

t.test('by default CORS reflects no origin and allows no credentials', async (t) => {
  const gw = await startTestGateway();
  t.teardown(() => gw.close());
  const r = await fetch(`${gw.url}/`, { headers: { origin: 'https://evil.example' } });
  t.equal(r.headers.get('access-control-allow-origin'), '*');
  t.equal(r.headers.get('access-control-allow-credentials'), null);
  t.equal(r.headers.get('vary'), null);
});
