// The baseline: the least a Node reverse proxy can do. node:http server + one undici Pool
// (keep-alive) to the upstream, `pool.dispatch()` with a minimal handler writing the response
// straight into `res` (back-pressure via pause/resume). No routing table, no auth, no header
// rewriting beyond hop-by-hop removal; the first path segment (/bench) is stripped as the gateways
// do. Same transport as Tessera (undici dispatch), minus everything a gateway decides.
// Usage: node proxies/undici-proxy.mjs <upstream origin> [port]   — prints {"msg":"ready","port":N}
import { createServer } from 'node:http';
import { Pool } from 'undici';

const origin = process.argv[2] ?? 'http://127.0.0.1:17950';
const port = Number(process.argv[3] ?? 0);
const pool = new Pool(origin, { connections: 512, keepAliveTimeout: 4_000, pipelining: 1 });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

function strip(headers) {
  const out = {};
  for (const name in headers) if (!HOP.has(name)) out[name] = headers[name];
  return out;
}

class Handler {
  constructor(res) {
    this.res = res;
    this.started = false;
  }
  onRequestStart() {}
  onResponseStart(_controller, statusCode, headers) {
    this.started = true;
    this.res.writeHead(statusCode, strip(headers));
  }
  onResponseData(controller, chunk) {
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }
  onResponseEnd() {
    this.res.end();
  }
  onResponseError(_controller, err) {
    if (this.started || this.res.headersSent) this.res.destroy(err);
    else {
      this.res.writeHead(502, { 'content-type': 'application/json' });
      this.res.end('{"result":false}');
    }
  }
}

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const url = req.url;
  const second = url.indexOf('/', 1);
  const path = second === -1 ? '/' : url.slice(second);
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool.dispatch({ path, method: req.method, headers: strip(req.headers), body: hasBody ? req : null }, new Handler(res));
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'ready', port: server.address().port })}\n`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
process.stdin.on('end', () => process.exit(0)).resume();
