import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestServer {
  readonly server: Server;
  readonly port: number;
  readonly origin: string;
  close(): Promise<void>;
}

/** A real node:http server on an ephemeral loopback port. */
export async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    origin: `http://127.0.0.1:${port}`,
    async close() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  inject: Record<string, unknown> | null;
}

/**
 * An upstream that answers `{"result":true,"data":{method,url,headers,inject}}` and records every
 * request it saw, plus a heartbeat server on its maintenance port.
 */
export async function startEchoService(): Promise<TestServer & { seen: Seen[]; maintenance: TestServer }> {
  const seen: Seen[] = [];
  const app = await startServer((req, res) => {
    const raw = req.headers['soajsinjectobj'];
    const entry: Seen = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      inject: typeof raw === 'string' ? (JSON.parse(raw) as Record<string, unknown>) : null,
    };
    seen.push(entry);
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ result: true, data: entry });
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'echo' });
      res.end(body);
    });
  });
  const maintenance = await startServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ result: true, ts: Date.now(), service: { service: 'echo', type: 'rest', route: '/heartbeat' } }));
  });
  return {
    ...app,
    seen,
    maintenance,
    async close() {
      await app.close();
      await maintenance.close();
    },
  };
}
