/** Time as the election sees it: a monotonic clock for every expiry decision, the wall clock only for records. */
export interface Clock {
  /** Monotonic milliseconds; never goes back, unaffected by wall-clock changes. */
  now(): number;
  /** Wall-clock time, written into lock records and events, never used to judge expiry. */
  date(): Date;
  /**
   * Calls `callback` once `now()` has advanced by `ms` (any non-negative number, however large; never for `Infinity`),
   * never before; returns a function that cancels it.
   */
  setTimer(ms: number, callback: () => void): () => void;
}

/**
 * The longest delay one Node.js timer holds (2^31 − 1 ms, about 24.8 days). Node turns a longer one into a 1 ms timer,
 * so a lease duration written by another client (e.g. `leaseDurationSeconds: 2147483647`) would make a loop spin.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A timer for any delay that never fires before its time on `now`'s clock: Node.js may run a timer up to a
 * millisecond early as `performance.now()` counts (its timers keep whole milliseconds of a loop time taken before the
 * callbacks), and a delay it cannot hold is armed for `MAX_TIMER_MS`; either way the timer is re-armed for what is
 * left, so it fires once, at or after `now() + ms`. `Infinity` never fires. `schedule`, `cancel` and `now` are
 * `setTimeout`, `clearTimeout` and `performance.now` (parameters for tests).
 */
export function longTimer(
  ms: number,
  callback: () => void,
  schedule: (callback: () => void, ms: number) => unknown = setTimeout,
  cancel: (timer: unknown) => void = (timer) => clearTimeout(timer as NodeJS.Timeout),
  now: () => number = () => performance.now(),
): () => void {
  let timer: unknown;
  const dueAt = now() + (Number.isNaN(ms) ? 0 : Math.max(0, ms));
  const arm = () => {
    const left = dueAt - now();
    if (left <= 0) {
      timer = undefined;
      callback();
      return;
    }
    // Node turns a fraction into a whole millisecond (and never waits less than 1 ms).
    timer = schedule(arm, Math.min(Math.ceil(left), MAX_TIMER_MS));
  };
  if (dueAt < Number.POSITIVE_INFINITY) timer = schedule(arm, Math.min(Math.ceil(dueAt - now()), MAX_TIMER_MS));
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
