import type { LeaderElectionRecord } from './types.ts';

/** Kubernetes MicroTime: UTC with exactly six fractional digits; the API server rejects JavaScript's three. */
export function formatMicroTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Kubernetes Time (metav1.Time) on the wire: RFC 3339 in UTC with whole seconds, as Go's client writes it. */
export function formatTime(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * Reads a timestamp as other clients write it: RFC 3339 with any number of fractional digits, or the Python
 * client's `2026-11-23 21:53:27.180831` (no `T`, no zone: UTC). Anything else is `null`, never an exception.
 */
export function parseTimestamp(value: unknown): Date | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (typeof value !== 'string' || value === '') return null;
  const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/i.exec(value.trim());
  if (!match) return null;
  const [, day, time, fraction = '', zone = 'Z'] = match;
  const millis = (fraction + '000').slice(0, 3);
  const date = new Date(`${day}T${time}.${millis}${zone.toUpperCase()}`);
  return Number.isNaN(date.getTime()) ? null : date;
}

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
    return { holderIdentity: UNREADABLE_HOLDER, leaseDurationSeconds: 0, acquireTime: null, renewTime: null, leaderTransitions: 0 };
  }
  const fields = value as Record<string, unknown>;
  const holder = fields.holderIdentity;
  return {
    holderIdentity: typeof holder === 'string' ? holder : holder == null ? '' : String(holder),
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
