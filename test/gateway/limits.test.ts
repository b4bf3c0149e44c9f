import { connect } from 'node:net';
import t from 'tap';
import { startTestGateway } from '../helpers/gateway.js';

/**
 * The request's own limits answer with their own codes (issue 16 §2), each in the SOAJS envelope,
 * and the connection is closed: headers too large 431/182, URL too long 414/183, too many header
 * fields 431/184 (never dropped silently), a request head too slow 408/185.
 */
function raw(port: number, text: string): Promise<{ status: number; code: number | null; closed: boolean; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let data = '';
    socket.on('data', (c) => (data += c.toString()));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      const code = /"codes":\[(\d+)\]/.exec(data)?.[1];
      resolve({ status, code: code === undefined ? null : Number(code), closed: true, ms: Date.now() - t0 });
    });
  });
}

t.test('each limit has its own answer, and the connection closes', async (t) => {
  const gw = await startTestGateway({ config: { 'gateway.headersTimeoutSeconds': 1, 'timeouts.clientRequestSeconds': 10 } });
  t.teardown(() => gw.close());
  const head = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;

  const big = await raw(gw.port, head(['GET /svc/x HTTP/1.1', 'Host: h', `X-Big: ${'a'.repeat(20_000)}`]));
  t.match(big, { status: 431, code: 182, closed: true }, 'headers past 16 KiB: 431, 182');

  const longUrl = await raw(gw.port, head([`GET /svc/${'u'.repeat(9_000)} HTTP/1.1`, 'Host: h']));
  t.match(longUrl, { status: 414, code: 183, closed: true }, 'a URL past 8 KiB: 414, 183');
  const hugeUrl = await raw(gw.port, head([`GET /svc/${'u'.repeat(100_000)} HTTP/1.1`, 'Host: h']));
  t.match(hugeUrl, { status: 414, code: 183, closed: true }, 'a 100 KiB URL: 414, 183 (not 400)');

  const many = await raw(gw.port, head(['GET /svc/x HTTP/1.1', 'Host: h', ...Array.from({ length: 150 }, (_, i) => `X-H${i}: v`)]));
  t.match(many, { status: 431, code: 184, closed: true }, '150 header fields past the limit of 100: 431, 184');
  const enough = await raw(gw.port, head(['GET / HTTP/1.1', 'Host: h', 'Connection: close', ...Array.from({ length: 90 }, (_, i) => `X-H${i}: v`)]));
  t.equal(enough.status, 200, '90 are fine');

  const slow = await new Promise<{ status: number; code: number | null; ms: number }>((resolve, reject) => {
    const t0 = Date.now();
    const socket = connect(gw.port, '127.0.0.1', () => socket.write('GET /svc/x HTTP/1.1\r\nHost: h\r\nX-Slow: '));
    let data = '';
    socket.on('data', (c) => (data += c.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), code: Number(/"codes":\[(\d+)\]/.exec(data)?.[1] ?? 0), ms: Date.now() - t0 }));
  });
  t.equal(slow.status, 408, 'a request head that never completes: 408');
  t.equal(slow.code, 185);
  t.ok(slow.ms < 3500, `cut within the bound (headersTimeoutSeconds 1 + the 1 s check: ${slow.ms} ms)`);
});

t.test('a clientRequestSeconds below 60 starts (it used to stop start-up with a RangeError)', async (t) => {
  const gw = await startTestGateway({ config: { 'timeouts.clientRequestSeconds': 5 } });
  t.teardown(() => gw.close());
  t.equal((await fetch(`${gw.url}/`)).status, 200);
});

t.test('two Host headers: 400/186; CONNECT: 405/187 — answered, never a silent close', async (t) => {
  const gw = await startTestGateway();
  t.teardown(() => gw.close());
  const twoHosts = await raw(gw.port, 'GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n');
  t.match(twoHosts, { status: 400, code: 186, closed: true });
  const oneHost = await raw(gw.port, 'GET / HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n');
  t.equal(oneHost.status, 200);
  const tunnel = await raw(gw.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  t.match(tunnel, { status: 405, code: 187, closed: true });
});
