/**
 * Kubernetes time fields, parsed and printed as a kube-apiserver v1.20 (Go 1.15) does.
 *
 * - `MicroTime` (Lease acquireTime/renewTime, Event eventTime) is parsed with Go's `time.Parse` and the layout
 *   `2006-01-02T15:04:05.000000Z07:00`: exactly six fractional digits, `Z` or a `±hh:mm` offset. It is printed
 *   in UTC with six digits.
 * - `Time` (creationTimestamp, Event first/lastTimestamp) uses `time.RFC3339` (`2006-01-02T15:04:05Z07:00`),
 *   which accepts any fractional digits after the seconds; it is printed in UTC with second precision.
 *
 * The parser below is a port of the parts of Go's `time.Parse` these two layouts use, so that the error text
 * (`parsing time "x" as "layout": cannot parse "y" as "z"`) is the one the real server puts in its 400s.
 */

export const RFC3339_MICRO = '2006-01-02T15:04:05.000000Z07:00';
export const RFC3339 = '2006-01-02T15:04:05Z07:00';

/** A parsed instant with microsecond precision (what the two layouts can carry that we keep). */
export interface ParsedTime {
  /** Milliseconds since the epoch, UTC. */
  epochMs: number;
  /** Microseconds within the millisecond (0-999). */
  micros: number;
}

export type ParseResult = { ok: true; time: ParsedTime } | { ok: false; error: string };

type Std = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'frac6' | 'tz';

/** The layouts as (literal prefix, standard chunk, chunk text) triples, as Go's nextStdChunk splits them. */
const CHUNKS: Record<string, ReadonlyArray<readonly [string, Std, string]>> = {
  [RFC3339_MICRO]: [
    ['', 'year', '2006'],
    ['-', 'month', '01'],
    ['-', 'day', '02'],
    ['T', 'hour', '15'],
    [':', 'minute', '04'],
    [':', 'second', '05'],
    ['', 'frac6', '.000000'],
    ['', 'tz', 'Z07:00'],
  ],
  [RFC3339]: [
    ['', 'year', '2006'],
    ['-', 'month', '01'],
    ['-', 'day', '02'],
    ['T', 'hour', '15'],
    [':', 'minute', '04'],
    [':', 'second', '05'],
    ['', 'tz', 'Z07:00'],
  ],
};

class Bad extends Error {}

const isDigit = (s: string, i: number): boolean => i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57;

/** Go's atoi: optional sign, then digits only; "" is 0. */
function atoi(s: string): number {
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  let x = 0;
  for (let i = 0; i < s.length; i++) {
    if (!isDigit(s, i)) throw new Bad();
    x = x * 10 + (s.charCodeAt(i) - 48);
  }
  return neg ? -x : x;
}

/** Go's getnum: one or two digits (exactly two when `fixed`). */
function getnum(s: string, fixed: boolean): [number, string] {
  if (!isDigit(s, 0)) throw new Bad();
  if (!isDigit(s, 1)) {
    if (fixed) throw new Bad();
    return [s.charCodeAt(0) - 48, s.slice(1)];
  }
  return [(s.charCodeAt(0) - 48) * 10 + (s.charCodeAt(1) - 48), s.slice(2)];
}

function daysIn(month: number, year: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 31;
}

const q = (s: string): string => `"${s}"`;

/** Go 1.15 `time.Parse(layout, value)` for RFC3339 and RFC3339Micro. */
export function goParseTime(layout: typeof RFC3339 | typeof RFC3339_MICRO, value: string): ParseResult {
  const whole = value;
  let year = 0,
    month = -1,
    day = -1,
    hour = 0,
    min = 0,
    sec = 0,
    nsec = 0;
  let offsetSec = 0;
  const chunks = CHUNKS[layout] ?? [];
  for (let c = 0; c < chunks.length; c++) {
    const [prefix, std, stdText] = chunks[c]!;
    if (prefix !== '') {
      if (value.length === 0 || value[0] !== prefix) {
        return {
          ok: false,
          error: `parsing time ${q(whole)} as ${q(layout)}: cannot parse ${q(value)} as ${q(prefix)}`,
        };
      }
      value = value.slice(prefix.length);
    }
    let rangeErr = '';
    try {
      switch (std) {
        case 'year': {
          if (value.length < 4 || !isDigit(value, 0)) throw new Bad();
          const p = value.slice(0, 4);
          value = value.slice(4);
          year = atoi(p);
          break;
        }
        case 'month':
          [month, value] = getnum(value, true);
          if (month <= 0 || month > 12) rangeErr = 'month';
          break;
        case 'day':
          [day, value] = getnum(value, true);
          if (day < 0) rangeErr = 'day';
          break;
        case 'hour':
          [hour, value] = getnum(value, false);
          if (hour < 0 || hour >= 24) rangeErr = 'hour';
          break;
        case 'minute':
          [min, value] = getnum(value, true);
          if (min < 0 || min >= 60) rangeErr = 'minute';
          break;
        case 'second': {
          [sec, value] = getnum(value, true);
          if (sec < 0 || sec >= 60) {
            rangeErr = 'second';
            break;
          }
          // A fractional second in the value but none in the layout: Go accepts any number of digits.
          const next = chunks[c + 1];
          if (value.length >= 2 && value[0] === '.' && isDigit(value, 1) && next?.[1] !== 'frac6') {
            let n = 2;
            while (n < value.length && isDigit(value, n)) n++;
            const r = parseNanoseconds(value, n);
            nsec = r.ns;
            rangeErr = r.rangeErr;
            value = value.slice(n);
          }
          break;
        }
        case 'frac6': {
          const ndigit = 7;
          if (value.length < ndigit) throw new Bad();
          const head = value;
          value = value.slice(ndigit);
          const r = parseNanoseconds(head, ndigit);
          nsec = r.ns;
          rangeErr = r.rangeErr;
          break;
        }
        case 'tz': {
          if (value.length >= 1 && value[0] === 'Z') {
            value = value.slice(1);
            offsetSec = 0;
            break;
          }
          if (value.length < 6) throw new Bad();
          if (value[3] !== ':') throw new Bad();
          const sign = value[0];
          const hh = value.slice(1, 3);
          const mm = value.slice(4, 6);
          value = value.slice(6);
          const off = (atoi(hh) * 60 + atoi(mm)) * 60;
          if (sign === '+') offsetSec = off;
          else if (sign === '-') offsetSec = -off;
          else throw new Bad();
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof Bad)) throw e;
      return {
        ok: false,
        error: `parsing time ${q(whole)} as ${q(layout)}: cannot parse ${q(value)} as ${q(stdText)}`,
      };
    }
    if (rangeErr !== '') return { ok: false, error: `parsing time ${q(whole)}: ${rangeErr} out of range` };
  }
  if (value.length !== 0) return { ok: false, error: `parsing time ${q(whole)}: extra text: ${value}` };
  if (day < 1 || day > daysIn(month, year)) return { ok: false, error: `parsing time ${q(whole)}: day out of range` };
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, min, sec, Math.floor(nsec / 1e6));
  return { ok: true, time: { epochMs: d.getTime() - offsetSec * 1000, micros: Math.floor(nsec / 1e3) % 1000 } };
}

/** Go's parseNanoseconds: `value` starts with the '.', `nbytes` includes it. */
function parseNanoseconds(value: string, nbytes: number): { ns: number; rangeErr: string } {
  if (value[0] !== '.') throw new Bad();
  let ns = atoi(value.slice(1, nbytes));
  if (ns < 0 || ns >= 1e9) return { ns: 0, rangeErr: 'fractional second' };
  for (let i = 0; i < 10 - nbytes; i++) ns *= 10;
  return { ns, rangeErr: '' };
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

function formatUtc(t: ParsedTime, fractional: boolean): string {
  const d = new Date(t.epochMs);
  const base =
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T` +
    `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
  return fractional ? `${base}.${pad(d.getUTCMilliseconds(), 3)}${pad(t.micros, 3)}Z` : `${base}Z`;
}

/** MicroTime as the server prints it: UTC, six fractional digits. */
export const formatMicroTime = (t: ParsedTime): string => formatUtc(t, true);
/** metav1.Time as the server prints it: UTC, whole seconds. */
export const formatTime = (t: ParsedTime): string => formatUtc(t, false);

/** The current instant as a `Time` (second precision), e.g. for creationTimestamp. */
export const nowTime = (): string => formatTime({ epochMs: Date.now(), micros: 0 });
