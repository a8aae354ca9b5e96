/** client-go's JitterFactor: a wait of `base` becomes a uniform draw from [base, base × 2.2]. */
export const JITTER_FACTOR = 1.2;

/**
 * client-go's `wait.Jitter(base, JitterFactor)`: `baseMs` plus a uniform share of `JITTER_FACTOR × baseMs`, in
 * milliseconds, so replicas that started together do not retry together. `random` returns [0, 1).
 */
export function jittered(baseMs: number, random: () => number): number {
  return baseMs + random() * JITTER_FACTOR * baseMs;
}

/**
 * Exponential back-off in milliseconds after `failures` consecutive failures: `baseMs` after the first, doubling
 * after each further one up to `capMs`, then spread by ±20 % (`random` returns [0, 1)) so retries do not align.
 */
export function backoff(failures: number, baseMs: number, capMs: number, random: () => number): number {
  const exponential = Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));
  return exponential * (0.8 + 0.4 * random());
}
