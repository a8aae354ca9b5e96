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
