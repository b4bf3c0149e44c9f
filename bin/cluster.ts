import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/schema.js';
import type { Log } from './log.js';
import { onShutdown } from './shutdown.js';
import { startTessera, type Tessera } from './start.js';

interface ReadyMessage {
  type: 'tessera:ready';
  gateway: number;
  maintenance: number;
}

function isReady(m: unknown): m is ReadyMessage {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'tessera:ready';
}

/**
 * `tessera start --workers N`: the primary runs the bundled services and keeps N gateway workers
 * alive on one port (node:cluster hands connections out round-robin); a worker that dies is
 * replaced, with a back-off when it keeps dying at start-up. Needs a shared (redis) store: each
 * worker follows the registry on its own connection.
 */
export async function runCluster(config: Readonly<Config>, workers: number, log: Log): Promise<void> {
  if (cluster.isWorker) {
    const t = await startTessera(config, log, { services: false });
    process.send?.({ type: 'tessera:ready', gateway: t.ports.gateway, maintenance: t.ports.maintenance } satisfies ReadyMessage);
    onShutdown(log, () => t.close());
    return;
  }

  const t: Tessera = await startTessera(config, log, { gateway: false });
  let stopping = false;
  let ready = 0;
  let announced = false;
  let recentDeaths: number[] = [];

  const fork = (): Worker => {
    const w = cluster.fork();
    w.on('message', (m: unknown) => {
      if (!isReady(m)) return;
      ready++;
      if (!announced && ready >= workers) {
        announced = true;
        log('info', 'ready', {
          env: config.env,
          store: config.store,
          workers,
          gateway: m.gateway,
          maintenance: m.maintenance,
          services: t.ports.services,
        });
      }
    });
    return w;
  };

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    const now = Date.now();
    recentDeaths = [...recentDeaths.filter((d) => now - d < 10_000), now];
    const delay = recentDeaths.length > workers * 3 ? 2000 : 0;
    log('warn', 'gateway worker died; replacing it', { pid: worker.process.pid, code, signal, delayMs: delay });
    setTimeout(() => {
      if (!stopping) fork();
    }, delay).unref();
  });

  for (let i = 0; i < workers; i++) fork();

  onShutdown(log, async () => {
    stopping = true;
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    await Promise.all(
      alive.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      ),
    );
    await t.close();
  });
}
