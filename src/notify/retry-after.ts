/**
 * `Retry-After` as milliseconds: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); `undefined` when absent or
 * unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - Date.now());
}
