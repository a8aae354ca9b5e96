import { parse } from 'yaml';
import * as z from 'zod/mini';
import { durationSchema as duration } from '../config/duration.ts';
import { safeParse } from '../config/zod-mini.ts';
import { readBoundedFile } from '../files/read-bounded.ts';
import { EVENT_TYPES } from './events.ts';
import { CLOUDEVENTS_MODES, FORMAT_NAMES, SCOPES, SEVERITIES } from './targets.ts';

const path = z.string({ error: 'must be a file path' }).check(z.minLength(1, 'must be a file path'));

function enumOf<const T extends readonly [string, ...string[]]>(values: T, what: string) {
  return z.enum(values, {
    error: (issue) => `${what} must be ${values.join(', ')}, not ${JSON.stringify(issue.input)}`,
  });
}

const retrySchema = z.strictObject({
  attempts: z.optional(
    z.union([z.number().check(z.int(), z.minimum(1)), z.literal('unlimited')], {
      error: 'must be a whole number of attempts (at least 1) or "unlimited"',
    }),
  ),
  minDelay: z.optional(duration),
  maxDelay: z.optional(duration),
  maxElapsed: z.optional(duration),
});

const targetSchema = z.strictObject({
  name: z.optional(
    z
      .string()
      .check(
        z.regex(
          /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,48}[A-Za-z0-9])?$/,
          'must be 1–50 letters, digits, "-", "_" or ".", starting and ending with a letter or digit',
        ),
      ),
  ),
  url: z.optional(z.string()),
  urlFile: z.optional(path),
  scope: z.optional(enumOf(SCOPES, 'scope')),
  events: z.optional(
    z.array(enumOf(EVENT_TYPES, 'an event type')).check(z.minLength(1, 'must list at least one event type')),
  ),
  format: z.optional(enumOf(FORMAT_NAMES, 'format')),
  mode: z.optional(enumOf(CLOUDEVENTS_MODES, 'mode')),
  headers: z.optional(z.record(z.string(), z.string({ error: 'header values must be strings' }))),
  headerFiles: z.optional(z.record(z.string(), path)),
  secretFiles: z.optional(z.array(path)),
  timeout: z.optional(duration),
  retry: z.optional(retrySchema),
  supersede: z.optional(z.boolean()),
  routingKeyFile: z.optional(path),
  severity: z.optional(enumOf(SEVERITIES, 'severity')),
});

export type TargetSpec = z.infer<typeof targetSchema>;

const fileSchema = z.strictObject({
  targets: z.array(targetSchema, { error: 'must be a list of targets' }),
});

/** Keys that would put a secret inline, with where it belongs instead. */
const INLINE_SECRETS = new Map([
  ['secret', 'secretFiles'],
  ['secrets', 'secretFiles'],
  ['routingKey', 'routingKeyFile'],
  ['routing_key', 'routingKeyFile'],
  ['token', 'headerFiles'],
  ['password', 'headerFiles'],
]);

/** The most targets one replica sends to: `--hook`, `--webhook` and `--config` targets together. */
export const MAX_TARGETS = 100;

/** The largest `--config` file read: 1 MiB, the most a ConfigMap (or Secret) can hold. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/**
 * Reads and validates `--config` (YAML, or JSON, which is YAML too): a regular file of at most
 * `MAX_CONFIG_FILE_BYTES` with at most `MAX_TARGETS` targets. Throws an Error whose message names the offending entry,
 * e.g. `targets[1].scope: scope must be self, leader, all, not "leaders"`.
 */
export function readConfigFile(file: string): TargetSpec[] {
  let text: string;
  try {
    text = readBoundedFile(file, MAX_CONFIG_FILE_BYTES);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code ? `cannot read the file (${code})` : (error as Error).message, { cause: error });
  }
  let raw: unknown;
  try {
    raw = parse(text, { prettyErrors: true });
  } catch (error) {
    throw new Error(`not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
  if (raw === null || raw === undefined) throw new Error('the file is empty (expected "targets:")');
  if (typeof raw === 'object' && Array.isArray((raw as { targets?: unknown }).targets)) {
    const targets = (raw as { targets: unknown[] }).targets;
    if (targets.length > MAX_TARGETS)
      throw new Error(`targets: ${targets.length} targets; at most ${MAX_TARGETS} are allowed`);
    for (const [index, entry] of targets.entries()) {
      if (typeof entry !== 'object' || entry === null) continue;
      for (const key of Object.keys(entry)) {
        const instead = INLINE_SECRETS.get(key);
        if (instead)
          throw new Error(
            `targets[${index}].${key}: secrets are never written inline; put it in a file (e.g. a mounted Secret) and use ${instead}`,
          );
      }
    }
  }
  const result = safeParse(fileSchema, raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = (issue?.path ?? [])
      .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i ? '.' : ''}${String(part)}`))
      .join('');
    let message = issue?.message ?? 'invalid';
    if (issue?.code === 'unrecognized_keys')
      message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}`;
    throw new Error(where ? `${where}: ${message}` : message);
  }
  return result.data.targets;
}
