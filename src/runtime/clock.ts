/** Time as the election sees it: a monotonic clock for every expiry decision, the wall clock only for records. */
export interface Clock {
  /** Monotonic milliseconds; never goes back, unaffected by wall-clock changes. */
  now(): number;
  /** Wall-clock time, written into lock records and events, never used to judge expiry. */
  date(): Date;
  /** Calls `callback` after `ms`; returns a function that cancels it. */
  setTimer(ms: number, callback: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  date: () => new Date(),
  setTimer(ms, callback) {
    const timer = setTimeout(callback, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};

/**
 * A sleep on a Clock that another part can cut short: a loop waits for its next round or for news, whichever comes
 * first.
 */
export class WakeableSleep {
  readonly #clock: Clock;
  #wake: (() => void) | undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Resolves after `ms` (never, for an infinite `ms`) or at the next `wake()`. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = Number.isFinite(ms) ? this.#clock.setTimer(ms, () => done()) : () => {};
      const done = () => {
        cancel();
        this.#wake = undefined;
        resolve();
      };
      this.#wake = done;
    });
  }

  /** Ends the sleep in progress, if any. */
  wake(): void {
    this.#wake?.();
  }
}
