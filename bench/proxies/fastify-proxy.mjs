// fastify 5 + @fastify/http-proxy (reply-from over undici): /bench/* → the upstream with the
// prefix stripped. Logging off.
// Usage: node proxies/fastify-proxy.mjs <upstream origin> [port]   — prints {"msg":"ready","port":N}
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';

const origin = process.argv[2] ?? 'http://127.0.0.1:17950';
const port = Number(process.argv[3] ?? 0);
const app = Fastify({ logger: false, keepAliveTimeout: 65_000 });
await app.register(proxy, { upstream: origin, prefix: '/bench', rewritePrefix: '', http2: false });
await app.listen({ port, host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ msg: 'ready', port: app.server.address().port })}\n`);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
process.stdin.on('end', () => process.exit(0)).resume();
