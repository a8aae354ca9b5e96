import { parseArgs } from 'node:util';
import { envName, FLAGS, type FlagSpec } from './flags.ts';
import { UsageError } from './usage-error.ts';

export type FlagValues = Partial<Record<string, string | boolean | string[]>>;

/** Where each value came from, so a message can name `--flag` or `LEADERHOOK_FLAG` as the user wrote it. */
export type FlagSources = Partial<Record<string, string>>;

const BOOLEAN_WORDS = new Map<string, boolean>([
  ['true', true],
  ['1', true],
  ['yes', true],
  ['false', false],
  ['0', false],
  ['no', false],
]);

/**
 * Reads flags from argv, then fills what is missing from `LEADERHOOK_*` variables. Go-style `--flag=true|false` is
 * accepted for booleans, as leader-elector's pflag did.
 */
export function readFlags(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { values: FlagValues; sources: FlagSources } {
  const byName = new Map<string, FlagSpec>(FLAGS.map((spec) => [spec.name, spec]));
  const args: string[] = [];
  for (const arg of argv) {
    const match = /^--([^=]+)=(.*)$/s.exec(arg);
    const spec = match ? byName.get(match[1] as string) : undefined;
    if (match && spec?.type === 'boolean') {
      const value = BOOLEAN_WORDS.get((match[2] as string).toLowerCase());
      if (value === undefined) throw new UsageError(`--${spec.name}`, `expected true or false, got "${match[2]}"`);
      args.push(value ? `--${spec.name}` : `--no-${spec.name}`);
    } else {
      args.push(arg);
    }
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: Object.fromEntries(
        FLAGS.map((spec) => [
          spec.name,
          {
            type: spec.type === 'boolean' ? 'boolean' : 'string',
            multiple: spec.type === 'list',
            ...('short' in spec ? { short: spec.short } : {}),
          },
        ]),
      ),
      strict: true,
      allowPositionals: false,
      allowNegative: true,
    });
  } catch (error) {
    throw describeParseError(error);
  }

  const values: FlagValues = {};
  const sources: FlagSources = {};
  for (const spec of FLAGS) {
    const value = parsed.values[spec.name];
    if (value !== undefined) {
      values[spec.name] = value as string | boolean | string[];
      sources[spec.name] = `--${spec.name}`;
      continue;
    }
    const variable = envName(spec.name);
    const text = env[variable];
    if (text === undefined || text === '') continue;
    sources[spec.name] = variable;
    if (spec.type === 'boolean') {
      const flag = BOOLEAN_WORDS.get(text.trim().toLowerCase());
      if (flag === undefined) throw new UsageError(variable, `expected true or false, got "${text}"`);
      values[spec.name] = flag;
    } else if (spec.type === 'list') {
      values[spec.name] = text.split(/\s+/).filter(Boolean);
    } else {
      values[spec.name] = text;
    }
  }
  return { values, sources };
}

function describeParseError(error: unknown): UsageError {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  const flag = /'(-{1,2}[^'\s]+)/.exec(message)?.[1] ?? 'arguments';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
    return new UsageError(flag.replace(/^--no-/, '--'), 'unknown flag (see --help)');
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    return new UsageError(
      flag.split(/[ ,]/)[0] ?? flag,
      message.includes('argument missing') ? 'missing value' : (message.split('\n')[0] ?? message),
    );
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
    return new UsageError(
      /'([^']+)'/.exec(message)?.[1] ?? 'arguments',
      'unexpected argument (flags take the form --name value)',
    );
  return new UsageError('arguments', message.split('\n')[0] ?? message);
}
