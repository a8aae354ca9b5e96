/** A token bucket as client-go's flowcontrol rate limiter: `burst` tokens, refilled at `qps` per second. */
export class TokenBucket {
  readonly #burst: number;
  readonly #qps: number;
  #tokens: number;
  #last: number;

  constructor(burst: number, qps: number, nowMs: number) {
    this.#burst = burst;
    this.#qps = qps;
    this.#tokens = burst;
    this.#last = nowMs;
  }

  /** Takes a token if one is available. */
  tryAccept(nowMs: number): boolean {
    const elapsed = Math.max(0, nowMs - this.#last);
    this.#last = nowMs;
    this.#tokens = Math.min(this.#burst, this.#tokens + (elapsed / 1000) * this.#qps);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
