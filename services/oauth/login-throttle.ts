import type { Counter, Store } from '../../registry/control/store/types.js';

export interface ThrottleSettings {
  /** Wrong passwords for one username before each further try must wait. */
  userFreeFailures: number;
  /** Wrong passwords from one client address before each further try must wait. */
  ipFreeFailures: number;
  /** Failures are forgotten this long after the last one, seconds. */
  windowSeconds: number;
  /** The wait doubles with each failure past the free ones, up to this, seconds. */
  maxDelaySeconds: number;
}

export interface Refusal {
  /** Whole seconds until a try is counted again (`Retry-After`). */
  readonly retryAfter: number;
  readonly by: 'username' | 'ip';
}

/**
 * Password guessing, slowed per username and per client address (OWASP's "exponential back-off"):
 * the first failures are free, then each try must wait 1 s, 2 s, 4 s … (capped) after the latest
 * failure, and a try made sooner is refused without looking at the password. The counters live in
 * the store, so every oauth instance of a Redis deployment counts together. Known and unknown
 * usernames are counted alike: the throttle says nothing about who exists.
 */
export class LoginThrottle {
  constructor(
    readonly store: Store,
    readonly settings: ThrottleSettings,
    readonly now: () => number = Date.now,
  ) {}

  #delaySeconds(c: Counter | null, free: number, at: number): number {
    if (c === null || c.count < free || at - c.last > this.settings.windowSeconds * 1000) return 0;
    const wait = Math.min(2 ** (c.count - free), this.settings.maxDelaySeconds) * 1000;
    return Math.max(0, Math.ceil((c.last + wait - at) / 1000));
  }

  /** Null when a try may be made now; else how long to wait. */
  async check(username: string, ip: string): Promise<Refusal | null> {
    const at = this.now();
    const [byUser, byIp] = await Promise.all([this.store.readCounter(userKey(username)), this.store.readCounter(ipKey(ip))]);
    const u = this.#delaySeconds(byUser, this.settings.userFreeFailures, at);
    const i = this.#delaySeconds(byIp, this.settings.ipFreeFailures, at);
    if (u === 0 && i === 0) return null;
    return u >= i ? { retryAfter: u, by: 'username' } : { retryAfter: i, by: 'ip' };
  }

  /** Counts a wrong password; true when this failure put the username or address past its free ones. */
  async failed(username: string, ip: string): Promise<{ user: Counter; ip: Counter; throttled: boolean }> {
    const at = this.now();
    const windowMs = this.settings.windowSeconds * 1000;
    const [user, addr] = await Promise.all([
      this.store.countFailure(userKey(username), at, windowMs),
      this.store.countFailure(ipKey(ip), at, windowMs),
    ]);
    return { user, ip: addr, throttled: user.count >= this.settings.userFreeFailures || addr.count >= this.settings.ipFreeFailures };
  }

  /** The right password: that username starts afresh (the address keeps its count). */
  async succeeded(username: string): Promise<void> {
    await this.store.clearCounter(userKey(username));
  }
}

const userKey = (username: string) => `login:user:${username.toLowerCase()}`;
const ipKey = (ip: string) => `login:ip:${ip}`;
