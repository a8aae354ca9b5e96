import { JITTER_FACTOR } from '../runtime/backoff.ts';

export interface ElectionTimings {
  /** How long a record must stay unchanged, as observed here, before another candidate may take the lock. */
  leaseDurationMs: number;
  /** How long the leader keeps trying to renew before it steps down. */
  renewDeadlineMs: number;
  /** How often the leader renews, and candidates retry when they cannot watch. */
  retryPeriodMs: number;
}

/** client-go's defaults (kube-controller-manager's): 15 s, 10 s, 2 s. */
export const DEFAULT_TIMINGS: ElectionTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

export type TimingName = 'lease duration' | 'renew deadline' | 'retry period';

/** client-go's validation of LeaderElectionConfig: the first problem, and the timings it concerns. */
export function validateTimings({
  leaseDurationMs,
  renewDeadlineMs,
  retryPeriodMs,
}: ElectionTimings): { message: string; concerns: TimingName[] } | undefined {
  if (!(retryPeriodMs > 0)) return { message: 'retry period must be greater than zero', concerns: ['retry period'] };
  if (!(renewDeadlineMs > 0))
    return { message: 'renew deadline must be greater than zero', concerns: ['renew deadline'] };
  if (leaseDurationMs < 1000)
    return {
      message: 'lease duration must be at least 1s (the lock stores whole seconds)',
      concerns: ['lease duration'],
    };
  if (!(leaseDurationMs > renewDeadlineMs))
    return {
      message: 'lease duration must be greater than the renew deadline',
      concerns: ['lease duration', 'renew deadline'],
    };
  if (!(renewDeadlineMs > JITTER_FACTOR * retryPeriodMs)) {
    return {
      message: `renew deadline must be greater than retry period × ${JITTER_FACTOR}`,
      concerns: ['renew deadline', 'retry period'],
    };
  }
  return undefined;
}
