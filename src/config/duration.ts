import * as z from 'zod/mini';
import { rejectInput } from './zod-mini.ts';

// µ written as \u00b5: the source stays ASCII, and so does the bundle (one non-ASCII character makes V8 hold the whole
// bundle as two-byte text, twice its size in memory).
const UNITS = new Map<string, number>([
  ['ns', 1e-6],
  ['us', 1e-3],
  ['\u00b5s', 1e-3],
  ['ms', 1],
  ['s', 1000],
  ['m', 60_000],
  ['h', 3_600_000],
]);

/**
 * The longest duration any flag or `--config` entry may set: 2^31 − 1 ms (596h31m23.647s), the longest delay one
 * Node.js timer holds (a longer one fires after 1 ms). It is also below what a Lease's int32 `leaseDurationSeconds`
 * holds, so a lease duration within it can always be written.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * Parses a Go duration (`500ms`, `15s`, `1m30s`, `1.5h`) into milliseconds, as Go's time.ParseDuration reads it.
 * Returns `undefined` for anything else, including a bare number (Go requires a unit except for `0`).
 */
export function parseDuration(text: string): number | undefined {
  const value = text.trim();
  if (value === '0') return 0;
  if (!/^(\d+(\.\d+)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)((\d+(\.\d+)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h))*$/.test(value))
    return undefined;
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)/g)) {
    total += Number(amount) * (UNITS.get(unit as string) ?? Number.NaN);
  }
  return Number.isFinite(total) ? total : undefined;
}

/** Milliseconds as a Go duration, for messages and `--help`: `500ms`, `15s`, `1m30s`, `596h31m23.647s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  return `${hours ? `${hours}h` : ''}${minutes ? `${minutes}m` : ''}${seconds ? `${seconds}s` : ''}`;
}

/**
 * Checks a Go duration from outside: milliseconds, or the message that says what is wrong with it (not a duration,
 * or longer than `MAX_DURATION_MS`).
 */
export function readDuration(text: string): { ms: number } | { problem: string } {
  const ms = parseDuration(text);
  if (ms === undefined) return { problem: `"${text}" is not a duration (use Go form: 500ms, 15s, 1m)` };
  if (ms > MAX_DURATION_MS) {
    return {
      problem: `"${text}" is too long: at most ${formatDuration(MAX_DURATION_MS)} (2^31-1 ms, the longest delay a timer holds)`,
    };
  }
  return { ms };
}

/** A Go duration as a zod schema: the text in, milliseconds out, for flags and the `--config` file alike. */
export const durationSchema = z.pipe(
  z.string({ error: 'must be a duration such as 500ms, 10s or 1m' }),
  z.transform((text: string, context) => {
    const read = readDuration(text);
    return 'problem' in read ? rejectInput(context, read.problem) : read.ms;
  }),
);
