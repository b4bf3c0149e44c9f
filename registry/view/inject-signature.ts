import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The gateway's signature on `soajsinjectobj`, the contract between the gateway (signs) and every
 * service behind it (verifies). SOAJS services trusted the header from anyone who could reach
 * their port; a Tessera service believes it only with a fresh signature from a gateway holding the
 * deployment's secret. The header value is
 *
 *     t=<unix seconds>,v1=<base64url HMAC-SHA256(secret, "<t>." + soajsinjectobj)>
 *
 * sent as `x-tessera-signature` beside the unchanged SOAJS header, so a SOAJS service that ignores
 * it keeps working.
 */
export const SIGNATURE_HEADER = 'x-tessera-signature';

/** How old a signature may be, and how far in the future (clock skew between hosts), seconds. */
export const SIGNATURE_MAX_AGE_SECONDS = 60;
export const SIGNATURE_MAX_SKEW_SECONDS = 5;

export function signInject(secret: Buffer, inject: string, t: number): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.`).update(inject, 'latin1').digest('base64url')}`;
}

export type SignatureFault = 'missing' | 'malformed' | 'stale' | 'invalid';

/** Null when `signature` is the gateway's, for this `inject`, fresh at `nowSeconds`; else why not. */
export function checkInjectSignature(secret: Buffer, inject: string, signature: string | undefined, nowSeconds: number): SignatureFault | null {
  if (signature === undefined || signature === '') return 'missing';
  const m = /^t=(\d{1,12}),v1=([A-Za-z0-9_-]{43})$/.exec(signature);
  if (!m) return 'malformed';
  const t = Number(m[1]);
  if (nowSeconds - t > SIGNATURE_MAX_AGE_SECONDS || t - nowSeconds > SIGNATURE_MAX_SKEW_SECONDS) return 'stale';
  const want = Buffer.from(signInject(secret, inject, t).slice(signature.indexOf(',v1=') + 4), 'latin1');
  const got = Buffer.from(m[2]!, 'latin1');
  return want.length === got.length && timingSafeEqual(want, got) ? null : 'invalid';
}

/** Whole seconds, read on the hot path without a clock call: one shared tick a second (undici's timers do the same). */
class SecondsClock {
  #seconds = Math.floor(Date.now() / 1000);
  #timer: NodeJS.Timeout | null = null;
  get seconds(): number {
    if (this.#timer === null) {
      this.#timer = setInterval(() => (this.#seconds = Math.floor(Date.now() / 1000)), 1000);
      this.#timer.unref();
    }
    return this.#seconds;
  }
}
const ticking = new SecondsClock();

/**
 * Signs for the gateway's hot path. A service gets the same few thousand header values again and
 * again (the inject stage reuses them), so a value's signature is kept and renewed only when it is
 * `renewSeconds` old: one HMAC per value every few seconds instead of one per request. The last
 * value is also kept aside: the next request on a busy key usually brings the very same string.
 */
export class InjectSigner {
  readonly #secret: Buffer;
  readonly #cache = new Map<string, { t: number; sig: string }>();
  readonly #max: number;
  readonly #now: () => number;
  #lastInject = '';
  #last: { t: number; sig: string } = { t: 0, sig: '' };

  constructor(
    secret: Buffer,
    /** Whole seconds since the epoch; default: a shared one-second tick. */
    now?: () => number,
    readonly renewSeconds = 10,
    max = 10_000,
  ) {
    this.#secret = secret;
    this.#max = max;
    this.#now = now ?? (() => ticking.seconds);
  }

  sign(inject: string): string {
    const t = this.#now();
    if (inject === this.#lastInject && t - this.#last.t < this.renewSeconds && this.#last.t <= t) return this.#last.sig;
    let hit = this.#cache.get(inject);
    if (hit === undefined || t - hit.t >= this.renewSeconds || hit.t > t) {
      // Bounded without LRU bookkeeping on every hit: a full cache starts over.
      if (hit === undefined && this.#cache.size >= this.#max) this.#cache.clear();
      hit = { t, sig: signInject(this.#secret, inject, t) };
      this.#cache.set(inject, hit);
    }
    this.#lastInject = inject;
    this.#last = hit;
    return hit.sig;
  }
}
