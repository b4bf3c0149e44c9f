// The service behind every proxy: node:http, keep-alive, a small fixed JSON body on any path.
// `/echo…` answers the request headers instead (run.mjs checks what each proxy forwards, e.g.
// Tessera's soajsinjectobj). A second server on port + 1000 answers GET /heartbeat with 200, as a
// SOAJS service's maintenance port does: Tessera probes it and routes only to hosts that answer.
// Usage: node upstream.mjs <port>
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 17950);
const BODY = Buffer.from(JSON.stringify({ result: true, data: { hello: 'world', n: 42 } }));
const HEADERS = { 'content-type': 'application/json', 'content-length': BODY.length };

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  if (req.url.startsWith('/echo')) {
    const body = Buffer.from(JSON.stringify({ result: true, data: { url: req.url, method: req.method, headers: req.headers } }));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
    return;
  }
  // The request may carry a body: drain it before answering (none in this bench).
  if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) req.resume();
  res.writeHead(200, HEADERS);
  res.end(BODY);
});
server.headersTimeout = 60_000;
server.requestTimeout = 0;

const heartbeat = createServer((req, res) => {
  const body = JSON.stringify({ result: true, ts: Date.now(), service: { service: 'bench', type: 'rest', route: '/heartbeat' } });
  res.writeHead(req.url.split('?')[0] === '/heartbeat' ? 200 : 404, { 'content-type': 'application/json' });
  res.end(body);
});

let listening = 0;
const ready = () => {
  if (++listening === 2) process.stdout.write(`${JSON.stringify({ msg: 'ready', port, heartbeat: port + 1000 })}\n`);
};
const fail = (err) => {
  process.stderr.write(`upstream: ${err.message}\n`);
  process.exit(1);
};
server.once('error', fail).listen(port, '127.0.0.1', ready);
heartbeat.once('error', fail).listen(port + 1000, '127.0.0.1', ready);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
// Never outlive the harness: stdin is a pipe from it.
process.stdin.on('end', () => process.exit(0)).resume();
