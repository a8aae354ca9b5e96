import { z } from 'zod';

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a Go duration (`500ms`, `15s`, `1m30s`, `1.5h`) into milliseconds, as Go's time.ParseDuration reads it.
 * Returns `undefined` for anything else, including a bare number (Go requires a unit except for `0`).
 */
export function parseDuration(text: string): number | undefined {
  const value = text.trim();
  if (value === '0') return 0;
  if (!/^(\d+(\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)((\d+(\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h))*$/.test(value))
    return undefined;
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(amount) * (UNITS[unit as string] ?? Number.NaN);
  }
  return Number.isFinite(total) ? total : undefined;
}

/** Milliseconds as a Go duration, for messages and `--help`. */
export function formatDuration(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A Go duration as a zod schema: the text in, milliseconds out, for flags and the `--config` file alike. */
export const durationSchema = z
  .string({ error: 'must be a duration such as 500ms, 10s or 1m' })
  .transform((text, context) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      context.addIssue({ code: 'custom', message: `"${text}" is not a duration (use Go form: 500ms, 15s, 1m)` });
      return z.NEVER;
    }
    return ms;
  });
