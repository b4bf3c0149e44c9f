// fast-gateway 5 (restana + fast-proxy-lite over node:http keep-alive agents): one route,
// /bench/* → the upstream with the prefix stripped.
// Usage: node proxies/fast-gateway.mjs <upstream origin> [port]   — prints {"msg":"ready","port":N}
import gateway from 'fast-gateway';

const origin = process.argv[2] ?? 'http://127.0.0.1:17950';
const port = Number(process.argv[3] ?? 0);
const server = gateway({ routes: [{ prefix: '/bench', target: origin }] });
const http = await server.start(port, '127.0.0.1');
process.stdout.write(`${JSON.stringify({ msg: 'ready', port: http.address().port })}\n`);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
process.stdin.on('end', () => process.exit(0)).resume();
