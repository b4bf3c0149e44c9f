import { request, type Dispatcher } from 'undici';
import type { ServiceEntry, Snapshot, Upstream } from '../../registry/view/snapshot.js';
import type { SnapshotHolder } from '../../registry/view/sync.js';

interface Health {
  healthy: boolean;
  lastCheck: number;
  downSince: number | null;
  failures: number;
}

/**
 * Round robin over a service version's healthy hosts. Health is active (a `/heartbeat` probe on
 * the maintenance port every interval) and passive (a refused connection marks the host down
 * until a probe succeeds). A host never probed yet counts as healthy, so a service that just
 * registered is routed to at once.
 */
export class Balancer {
  readonly #health = new Map<string, Health>();
  /** Keyed by the snapshot's hosts array: no string building per request, reset with the snapshot. */
  readonly #cursor = new WeakMap<readonly Upstream[], { next: number }>();
  #timer: NodeJS.Timeout | null = null;
  #probing = false;

  constructor(
    readonly dispatcher: Dispatcher,
    readonly probeTimeoutMs: number,
    /** Told the set of upstream origins after each probe round (to close pools of removed hosts). */
    readonly onOrigins?: (origins: ReadonlySet<string>) => void,
  ) {}

  pick(service: ServiceEntry, version: string): Upstream | null {
    const hosts = service.hosts.get(version);
    if (hosts === undefined || hosts.length === 0) return null;
    let cursor = this.#cursor.get(hosts);
    if (cursor === undefined) this.#cursor.set(hosts, (cursor = { next: 0 }));
    const start = cursor.next;
    for (let i = 0; i < hosts.length; i++) {
      const idx = (start + i) % hosts.length;
      const h = hosts[idx]!;
      const health = this.#health.get(h.origin);
      if (health === undefined || health.healthy) {
        cursor.next = idx + 1;
        return h;
      }
    }
    return null;
  }

  markDown(u: Upstream): void {
    const h = this.#health.get(u.origin);
    const now = Date.now();
    if (h === undefined) this.#health.set(u.origin, { healthy: false, lastCheck: now, downSince: now, failures: 1 });
    else {
      if (h.healthy) h.downSince = now;
      h.healthy = false;
      h.failures++;
    }
  }

  /** Health by origin, for the maintenance port's `/awarenessStat`. */
  stats(): Record<string, Readonly<Health>> {
    return Object.fromEntries(this.#health);
  }

  start(holder: SnapshotHolder, intervalMs: number): void {
    const tick = () => void this.probeAll(holder.current());
    this.#timer = setInterval(tick, intervalMs);
    this.#timer.unref();
    tick();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async probeAll(snapshot: Snapshot): Promise<void> {
    if (this.#probing) return;
    this.#probing = true;
    try {
      const probes: Promise<void>[] = [];
      const seen = new Set<string>();
      for (const service of snapshot.services.values()) {
        for (const list of service.hosts.values()) {
          for (const u of list) {
            if (seen.has(u.origin)) continue;
            seen.add(u.origin);
            probes.push(this.#probe(u));
          }
        }
      }
      await Promise.all(probes);
      for (const origin of [...this.#health.keys()]) if (!seen.has(origin)) this.#health.delete(origin);
      this.onOrigins?.(seen);
    } finally {
      this.#probing = false;
    }
  }

  async #probe(u: Upstream): Promise<void> {
    let ok = false;
    try {
      const res = await request(u.heartbeatUrl, {
        dispatcher: this.dispatcher,
        headersTimeout: this.probeTimeoutMs,
        bodyTimeout: this.probeTimeoutMs,
        signal: AbortSignal.timeout(this.probeTimeoutMs),
      });
      ok = res.statusCode === 200;
      await res.body.dump();
    } catch {
      ok = false;
    }
    const now = Date.now();
    const h = this.#health.get(u.origin);
    if (ok) this.#health.set(u.origin, { healthy: true, lastCheck: now, downSince: null, failures: 0 });
    else if (h === undefined) this.#health.set(u.origin, { healthy: false, lastCheck: now, downSince: now, failures: 1 });
    else {
      if (h.healthy) h.downSince = now;
      h.healthy = false;
      h.lastCheck = now;
      h.failures++;
    }
  }
}
