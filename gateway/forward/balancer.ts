import { request, type Dispatcher } from 'undici';
import type { ServiceEntry, Snapshot, Upstream } from '../../registry/view/snapshot.js';
import type { SnapshotHolder } from '../../registry/view/sync.js';
import { ERRORS } from '../errors.js';

/** What the balancer knows of one upstream origin (shared by every service version it serves). */
export interface HostState {
  /** The last active probe (or a refused connection) said it is up. */
  healthy: boolean;
  lastCheck: number;
  downSince: number | null;
  /** Failed probes in a row. */
  failures: number;
  /** Requests this process has in flight to it (the per-host concurrency limit). */
  inFlight: number;
  /** Passive: 5xx answers and resets in a row, as the proxy saw them. */
  consecutiveErrors: number;
  /** Ejected (no traffic) until this time, ms; 0: not ejected. */
  ejectedUntil: number;
  /** Ejections so far: each lasts longer (base × count, up to the maximum). */
  ejections: number;
  lastEjectedAt: number;
}

export interface BalancerOptions {
  probeTimeoutMs: number;
  /** Requests in flight per origin before a host counts as busy (its pool has as many connections). */
  maxRequestsPerHost: number;
  /** Passive outlier ejection (Envoy's consecutive-5xx): 0 turns it off. */
  ejectAfterErrors: number;
  ejectBaseMs: number;
  ejectMaxMs: number;
  now?: () => number;
  /** Told the set of upstream origins after each probe round (to close pools of removed hosts). */
  onOrigins?: (origins: ReadonlySet<string>) => void;
}

/** No host to send to: every one is down (133), or every one is at its concurrency limit (189). */
export type NoHost = typeof ERRORS.SERVICE_UNREACHABLE | typeof ERRORS.UPSTREAM_BUSY;

function down(h: HostState, now: number): void {
  if (h.healthy) h.downSince = now;
  h.healthy = false;
  h.lastCheck = now;
  h.failures++;
}

function fresh(): HostState {
  return { healthy: true, lastCheck: 0, downSince: null, failures: 0, inFlight: 0, consecutiveErrors: 0, ejectedUntil: 0, ejections: 0, lastEjectedAt: 0 };
}

/**
 * Round robin over a service version's usable hosts. Health is active (a `/heartbeat` probe on the
 * maintenance port every interval; a refused connection marks the host down until a probe
 * succeeds) and passive: a host that answers 5xx or resets `ejectAfterErrors` times in a row is
 * ejected for a growing interval, whatever its heartbeat says — a process can be up and still
 * fail every request. When every host of a version is ejected the ejected ones are used anyway
 * (Envoy's panic routing: ejection must not take a whole service down). A host never probed yet
 * counts as healthy, so a service that just registered is routed to at once.
 */
export class Balancer {
  readonly #hosts = new Map<string, HostState>();
  /** Keyed by the snapshot's hosts array: no string building per request, reset with the snapshot. */
  readonly #cursor = new WeakMap<readonly Upstream[], { next: number }>();
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #probing = false;
  /** Ejections, for /awarenessStat and metrics. */
  ejected = 0;

  constructor(
    readonly dispatcher: Dispatcher,
    readonly options: BalancerOptions,
  ) {
    this.#now = options.now ?? Date.now;
  }

  /** The state of `origin`, made on first use. */
  state(origin: string): HostState {
    let h = this.#hosts.get(origin);
    if (h === undefined) this.#hosts.set(origin, (h = fresh()));
    return h;
  }

  /**
   * The next usable host of `service`@`version`, not `avoid` when another one is usable (a retry
   * goes elsewhere when it can); a denial when there is none.
   */
  pick(service: ServiceEntry, version: string, avoid: Upstream | null = null): Upstream | NoHost {
    const hosts = service.hosts.get(version);
    if (hosts === undefined || hosts.length === 0) return ERRORS.SERVICE_UNREACHABLE;
    let cursor = this.#cursor.get(hosts);
    if (cursor === undefined) this.#cursor.set(hosts, (cursor = { next: 0 }));
    const start = cursor.next;
    const max = this.options.maxRequestsPerHost;
    let now = 0;
    let ejected: Upstream | null = null;
    let avoided: Upstream | null = null;
    let busy = false;
    for (let i = 0; i < hosts.length; i++) {
      const idx = (start + i) % hosts.length;
      const u = hosts[idx]!;
      const h = this.state(u.origin);
      if (!h.healthy) continue;
      if (h.inFlight >= max) {
        busy = true;
        continue;
      }
      if (h.ejectedUntil !== 0) {
        if (now === 0) now = this.#now();
        if (h.ejectedUntil > now) {
          ejected ??= u;
          continue;
        }
        h.ejectedUntil = 0;
        h.consecutiveErrors = 0;
      }
      if (u === avoid || (avoid !== null && u.origin === avoid.origin)) {
        avoided ??= u;
        continue;
      }
      cursor.next = idx + 1;
      return u;
    }
    const fallback = avoided ?? ejected;
    if (fallback !== null) return fallback;
    return busy ? ERRORS.UPSTREAM_BUSY : ERRORS.SERVICE_UNREACHABLE;
  }

  /** A proxied exchange with `h` ended: `failed` for a 5xx answer, a reset or a timeout. */
  finished(h: HostState, failed: boolean): void {
    h.inFlight--;
    if (!failed) {
      h.consecutiveErrors = 0;
      // A host that stayed good for a whole maximum ejection starts again from the base interval.
      if (h.ejections > 0 && this.#now() - h.lastEjectedAt > this.options.ejectMaxMs) h.ejections = 0;
      return;
    }
    const limit = this.options.ejectAfterErrors;
    if (limit === 0 || ++h.consecutiveErrors < limit || h.ejectedUntil !== 0) return;
    const now = this.#now();
    h.ejections++;
    h.lastEjectedAt = now;
    h.ejectedUntil = now + Math.min(this.options.ejectBaseMs * h.ejections, this.options.ejectMaxMs);
    this.ejected++;
  }

  /** A refused connection: down until a probe says otherwise. */
  markDown(u: Upstream): void {
    down(this.state(u.origin), this.#now());
  }

  /** State by origin, for the maintenance port's `/awarenessStat`. */
  stats(): Record<string, Readonly<HostState>> {
    return Object.fromEntries(this.#hosts);
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
      // An origin in flight keeps its state (its counter is decremented when the exchange ends).
      for (const [origin, h] of this.#hosts) if (!seen.has(origin) && h.inFlight === 0) this.#hosts.delete(origin);
      this.options.onOrigins?.(seen);
    } finally {
      this.#probing = false;
    }
  }

  async #probe(u: Upstream): Promise<void> {
    let ok = false;
    const timeout = this.options.probeTimeoutMs;
    try {
      const res = await request(u.heartbeatUrl, {
        dispatcher: this.dispatcher,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        signal: AbortSignal.timeout(timeout),
      });
      ok = res.statusCode === 200;
      await res.body.dump();
    } catch {
      ok = false;
    }
    const h = this.state(u.origin);
    const now = this.#now();
    if (!ok) return down(h, now);
    h.lastCheck = now;
    h.healthy = true;
    h.downSince = null;
    h.failures = 0;
  }
}
