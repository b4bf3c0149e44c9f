/**
 * How many retries this process may still send: every first attempt earns `ratio` of one, a retry
 * spends one, and the bucket holds at most `reserve` (so a quiet gateway can still retry a few).
 * Over time retries stay within `ratio` of the traffic: a failing upstream gets at most that much
 * extra load from us, never a retry storm (Envoy's retry budget, Finagle's RetryBudget).
 */
export class RetryBudget {
  #tokens: number;

  constructor(
    readonly ratio: number,
    readonly reserve: number,
  ) {
    this.#tokens = ratio > 0 ? reserve : 0;
  }

  earn(): void {
    if (this.#tokens < this.reserve) this.#tokens += this.ratio;
  }

  has(): boolean {
    return this.#tokens >= 1;
  }

  /** Spends one retry if there is one. */
  take(): boolean {
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  get available(): number {
    return Math.floor(this.#tokens);
  }
}
