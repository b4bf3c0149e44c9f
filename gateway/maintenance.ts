import { createServer, type Server } from 'node:http';
import type { SnapshotHolder } from '../registry/view/sync.js';
import type { DecisionMemo } from './decision-memo.js';
import { HEADERS } from './headers.js';
import type { Balancer } from './forward/balancer.js';

function answer(route: string | undefined, data?: unknown): string {
  return JSON.stringify({ result: true, ts: Date.now(), service: { service: 'tessera', type: 'rest', route }, ...(data === undefined ? {} : { data }) });
}

/** Why a gateway is not ready: a short code a probe can match, and a sentence for the operator. */
export interface NotReady {
  readonly reason: 'draining' | 'store-reset';
  readonly message: string;
}

/**
 * The maintenance port (SOAJS's port + 1000): `/heartbeat` (the process is alive), `/readyz` (503
 * with a reason while draining or while a store reset is held) and `/awarenessStat`. Read-only by
 * construction: it lists every upstream, so it binds loopback by default
 * (`gateway.maintenanceHost`) and answers nothing but GET and HEAD.
 */
export function createMaintenanceServer(deps: {
  holder: SnapshotHolder;
  balancer: Balancer;
  decisions: DecisionMemo;
  notReady: () => NotReady | null;
  /** Open WebSocket sessions. */
  webSockets: () => number;
  rateLimits: () => Record<string, number>;
}): Server {
  return createServer((req, res) => {
    const route = (req.url ?? '/').split('?')[0];
    const fail = (status: number, headers: Record<string, string> = {}, why: NotReady | null = null) => {
      res.writeHead(status, { [HEADERS.CONTENT_TYPE]: 'application/json', ...headers });
      res.end(JSON.stringify({ result: false, ts: Date.now(), service: { service: 'tessera', type: 'rest', route }, ...why }));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, { [HEADERS.ALLOW]: 'GET, HEAD' });
    let body: string;
    if (route === '/heartbeat') body = answer(route);
    else if (route === '/readyz') {
      // Draining: a load balancer stops sending new connections while in-flight ones finish. A held
      // store reset: this gateway serves an older registry than its store claims, an operator must look.
      const why = deps.notReady();
      if (why !== null) return fail(503, {}, why);
      body = answer(route);
    }
    else if (route === '/awarenessStat') {
      const m = process.memoryUsage();
      body = answer(route, {
        registryVersion: deps.holder.current().version,
        hosts: deps.balancer.stats(),
        decisions: { made: deps.decisions.made, reused: deps.decisions.reused },
        websocket: { sessions: deps.webSockets() },
        rateLimits: deps.rateLimits(),
        memory: { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external },
      });
    } else return fail(404);
    res.writeHead(200, { [HEADERS.CONTENT_TYPE]: 'application/json' });
    res.end(body);
  });
}
