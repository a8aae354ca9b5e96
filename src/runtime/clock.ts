/** Time as the election sees it: a monotonic clock for every expiry decision, the wall clock only for records. */
export interface Clock {
  /** Monotonic milliseconds; never goes back, unaffected by wall-clock changes. */
  now(): number;
  /** Wall-clock time, written into lock records and events, never used to judge expiry. */
  date(): Date;
  /**
   * Calls `callback` after `ms` (any non-negative number, however large; never for `Infinity`); returns a function
   * that cancels it.
   */
  setTimer(ms: number, callback: () => void): () => void;
}

/**
 * The longest delay one Node.js timer holds (2^31 − 1 ms, about 24.8 days). Node turns a longer one into a 1 ms timer,
 * so a lease duration written by another client (e.g. `leaseDurationSeconds: 2147483647`) would make a loop spin.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A timer for any delay: one that Node cannot hold is armed for `MAX_TIMER_MS` and re-armed for the rest, so it fires
 * once, at the right time; `Infinity` never fires. `schedule` is `setTimeout` (a parameter for tests).
 */
export function longTimer(
  ms: number,
  callback: () => void,
  schedule: (callback: () => void, ms: number) => unknown = setTimeout,
  cancel: (timer: unknown) => void = (timer) => clearTimeout(timer as NodeJS.Timeout),
): () => void {
  let timer: unknown;
  const arm = (left: number) => {
    if (!(left < Number.POSITIVE_INFINITY)) return;
    const step = Math.min(Math.max(0, left), MAX_TIMER_MS);
    timer = schedule(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : callback()), step);
  };
  arm(Number.isNaN(ms) ? 0 : ms);
  return () => {
    if (timer !== undefined) cancel(timer);
    timer = undefined;
  };
}

export const systemClock: Clock = {
  now: () => performance.now(),
  date: () => new Date(),
  setTimer: (ms, callback) => longTimer(ms, callback),
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
