import { pino, type Logger } from 'pino';

/** The levels `--log-level` accepts, most verbose first (pino's names). */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * What every part takes to log: pino's level methods, called as `log.warn({ field: value }, 'message')` or
 * `log.warn('message')`. Parts never create loggers; the CLI passes `createLogger(…)` or a child of it.
 */
export type Log = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

/** Structured JSON lines on stdout. Nothing secret is ever passed to it; the redaction is a second fence. */
export function createLogger(level: LogLevel, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: ['*.authorization', '*.Authorization', '*.token', '*.secret', '*.secrets', 'headers.*'],
      censor: '[redacted]',
    },
  });
}
