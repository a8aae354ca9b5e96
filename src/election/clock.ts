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
