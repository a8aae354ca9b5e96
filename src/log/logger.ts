import { pino, type Logger } from 'pino';
import type { LogLevel } from '../config/config.ts';

export type { Logger };

/** Structured JSON lines on stdout. Nothing secret is ever passed to it; the redaction is a second fence. */
export function createLogger(level: LogLevel, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ['*.authorization', '*.Authorization', '*.token', '*.secret', '*.secrets', 'headers.*'], censor: '[redacted]' },
  });
}
