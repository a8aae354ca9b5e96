/** client-go's JitterFactor: a wait of `base` becomes a uniform draw from [base, base × 2.2]. */
export const JITTER_FACTOR = 1.2;

export function jittered(baseMs: number, random: () => number): number {
  return baseMs + random() * JITTER_FACTOR * baseMs;
}

/** Exponential back-off after `failures` consecutive failures, capped, with jitter. */
export function backoff(failures: number, baseMs: number, capMs: number, random: () => number): number {
  const exponential = Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));
  return exponential * (0.8 + 0.4 * random());
}
