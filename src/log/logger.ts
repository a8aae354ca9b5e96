import { pino, type Logger, type LoggerOptions } from 'pino';

/** The levels `--log-level` accepts, most verbose first (pino's names). */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];

/** One level's method: `log.warn({ field: value }, 'message')` or `log.warn('message')`, as pino's. */
export interface LogMethod {
  (fields: object, message?: string): void;
  (message: string): void;
}

/**
 * What every part takes to log: pino's level methods (a pino logger is one). Errors are passed as the field `err`.
 * Parts never create loggers; the CLI passes `createLogger(…)` or a child of it, a library user their own logger.
 */
export interface Log {
  /** Detail for debugging: watch restarts, lost write races. */
  debug: LogMethod;
  /** Leadership changes, the release. */
  info: LogMethod;
  /** Faults the election recovers from (API errors, retried). */
  warn: LogMethod;
  /** What needs a fix: a missing RBAC right, an identity clash. */
  error: LogMethod;
}

/**
 * Structured JSON lines, on stdout unless `destination` (a file descriptor, e.g. 2 for stderr) says otherwise.
 * Nothing secret is ever passed to it; the redaction is a second fence.
 */
export function createLogger(level: LogLevel, base: Record<string, unknown> = {}, destination?: number): Logger {
  const options = {
    level,
    base,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: ['*.authorization', '*.Authorization', '*.token', '*.secret', '*.secrets', 'headers.*'],
      censor: '[redacted]',
    },
  } satisfies LoggerOptions;
  return destination === undefined ? pino(options) : pino(options, pino.destination({ dest: destination, sync: true }));
}

/** `log.child(fields)` when the logger has children (pino's do), else `log` itself. */
export function childLog(log: Log, fields: Record<string, unknown>): Log {
  const parent = log as Log & { child?: (bindings: Record<string, unknown>) => Log };
  return typeof parent.child === 'function' ? parent.child(fields) : log;
}
