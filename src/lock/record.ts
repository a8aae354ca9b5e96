import { formatTime, parseTimestamp } from '../kube-api/wire-time.ts';
import type { LeaderElectionRecord } from './types.ts';

function toCount(value: unknown): number {
  const number = typeof value === 'string' ? Number(value.trim()) : value;
  return typeof number === 'number' && Number.isFinite(number) && number >= 0 ? Math.floor(number) : 0;
}

/** Marks a legacy record this client cannot read: someone may hold it, so it is treated as held until it expires. */
export const UNREADABLE_HOLDER = '(unreadable leader record)';

/**
 * Parses the legacy annotation `control-plane.alpha.kubernetes.io/leader` leniently: Go's client writes numbers and
 * RFC 3339 times, the Python client strings and space-separated times, others leave fields out.
 */
export function parseAnnotationRecord(text: string): LeaderElectionRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      holderIdentity: UNREADABLE_HOLDER,
      leaseDurationSeconds: 0,
      acquireTime: null,
      renewTime: null,
      leaderTransitions: 0,
    };
  }
  const fields = value as Record<string, unknown>;
  const holder = fields.holderIdentity;
  return {
    holderIdentity: typeof holder === 'string' ? holder : holder == null ? '' : JSON.stringify(holder),
    leaseDurationSeconds: toCount(fields.leaseDurationSeconds),
    acquireTime: parseTimestamp(fields.acquireTime),
    renewTime: parseTimestamp(fields.renewTime),
    leaderTransitions: toCount(fields.leaderTransitions),
  };
}

/** The annotation as Go's client-go writes it (RFC 3339, second precision), so every older client can read it. */
export function formatAnnotationRecord(record: LeaderElectionRecord): string {
  const time = (date: Date | null) => (date ? formatTime(date) : null);
  return JSON.stringify({
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: time(record.acquireTime),
    renewTime: time(record.renewTime),
    leaderTransitions: record.leaderTransitions,
  });
}
