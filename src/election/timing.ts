/** client-go's JitterFactor: a wait of `base` becomes a uniform draw from [base, base × 2.2]. */
const JITTER_FACTOR = 1.2;

export interface ElectionTimings {
  /** How long a record must stay unchanged, as observed here, before another candidate may take the lock. */
  leaseDurationMs: number;
  /** How long the leader keeps trying to renew before it steps down. */
  renewDeadlineMs: number;
  /** How often the leader renews, and candidates retry when they cannot watch. */
  retryPeriodMs: number;
}

export function jittered(baseMs: number, random: () => number): number {
  return baseMs + random() * JITTER_FACTOR * baseMs;
}

/** Exponential back-off after `failures` consecutive failures, capped, with jitter. */
export function backoff(failures: number, baseMs: number, capMs: number, random: () => number): number {
  const exponential = Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));
  return exponential * (0.8 + 0.4 * random());
}

export type TimingName = 'lease duration' | 'renew deadline' | 'retry period';

/** client-go's validation of LeaderElectionConfig: the first problem, and the timings it concerns. */
export function validateTimings({ leaseDurationMs, renewDeadlineMs, retryPeriodMs }: ElectionTimings): { message: string; concerns: TimingName[] } | undefined {
  if (!(retryPeriodMs > 0)) return { message: 'retry period must be greater than zero', concerns: ['retry period'] };
  if (!(renewDeadlineMs > 0)) return { message: 'renew deadline must be greater than zero', concerns: ['renew deadline'] };
  if (leaseDurationMs < 1000) return { message: 'lease duration must be at least 1s (the lock stores whole seconds)', concerns: ['lease duration'] };
  if (!(leaseDurationMs > renewDeadlineMs)) return { message: 'lease duration must be greater than the renew deadline', concerns: ['lease duration', 'renew deadline'] };
  if (!(renewDeadlineMs > JITTER_FACTOR * retryPeriodMs)) {
    return { message: `renew deadline must be greater than retry period × ${JITTER_FACTOR}`, concerns: ['renew deadline', 'retry period'] };
  }
  return undefined;
}
