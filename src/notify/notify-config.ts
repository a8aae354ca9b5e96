import { readDuration } from '../config/duration.ts';
import type { FlagSources, FlagValues } from '../config/read-flags.ts';
import { UsageError } from '../config/usage-error.ts';
import { MAX_TARGETS, readConfigFile, type TargetSpec } from './config-file.ts';
import { EVENT_TYPES, type EventType } from './events.ts';
import { describeFileProblem, FileValue, nonEmptyText } from './file-value.ts';
import { headerValueProblem, headerValueText } from './header-value.ts';
import type { ResolvedTarget } from './notifier.ts';
import { parseSecretFile, SecretFiles } from './signing.ts';
import {
  HOOK_DEFAULTS,
  PAGERDUTY_URL,
  redactUrl,
  REMOTE_DEFAULTS,
  unnamedCursorKey,
  type FormatName,
  type RetryPolicy,
  type Scope,
  type Target,
} from './targets.ts';

export interface NotifyConfig {
  targets: ResolvedTarget[];
  stateFile: string | undefined;
  drainTimeoutMs: number;
}

const DEFAULT_DRAIN_TIMEOUT_MS = 5_000;

/** The most headers one target sets (`headers` and `headerFiles` together). */
const MAX_HEADERS = 50;
/** The most signing secret files one target names. */
const MAX_SECRET_FILES = 10;

/** Header names whose values are credentials: they must come from `headerFiles`. */
const SECRET_HEADER = /^(authorization|proxy-authorization|cookie)$|token|secret|api-?key|password/i;
/** Headers leaderhook sets itself. */
const RESERVED_HEADER = /^(webhook-|ce-)|^(content-length|host)$/i;

/** The notifier's flags and `--config` file, validated; every problem is a UsageError naming the flag or file entry. */
export function loadNotifyConfig(values: FlagValues, sources: FlagSources): NotifyConfig {
  const source = (flag: string) => sources[flag] ?? `--${flag}`;
  const list = (flag: string): string[] => {
    const value = values[flag];
    return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  };
  const text = (flag: string): string | undefined => {
    const value = values[flag];
    return typeof value === 'string' ? value : undefined;
  };

  const drainText = text('drain-timeout');
  const drain = drainText === undefined ? { ms: DEFAULT_DRAIN_TIMEOUT_MS } : readDuration(drainText);
  if ('problem' in drain) throw new UsageError(source('drain-timeout'), drain.problem);
  const drainTimeoutMs = drain.ms;

  const stateFile = text('state-file');
  if (stateFile === '') throw new UsageError(source('state-file'), 'must not be empty');

  // A URL can carry a token (a Slack webhook's path, credentials): messages show only its scheme and host.
  const specs: Array<{ spec: TargetSpec; subject: string; defaultName: string; kind: 'hook' | 'webhook' | 'config' }> =
    [];
  const hookSecretFile = text('hook-secret-file');
  const hooks = list('hook');
  if (hookSecretFile !== undefined && hooks.length === 0)
    throw new UsageError(source('hook-secret-file'), 'signs the --hook targets, but none is given');
  hooks.forEach((url, index) =>
    specs.push({
      spec: { url, scope: 'self', ...(hookSecretFile ? { secretFiles: [hookSecretFile] } : {}) },
      subject: `${source('hook')} ${redactUrl(url)}`,
      defaultName: `hook-${index + 1}`,
      kind: 'hook',
    }),
  );
  const secretFile = text('webhook-secret-file');
  const webhooks = list('webhook');
  if (secretFile !== undefined && webhooks.length === 0)
    throw new UsageError(source('webhook-secret-file'), 'signs the --webhook targets, but none is given');
  webhooks.forEach((url, index) =>
    specs.push({
      spec: { url, scope: 'leader', ...(secretFile ? { secretFiles: [secretFile] } : {}) },
      subject: `${source('webhook')} ${redactUrl(url)}`,
      defaultName: `webhook-${index + 1}`,
      kind: 'webhook',
    }),
  );
  const configFile = text('config');
  if (configFile !== undefined) {
    let fileSpecs: TargetSpec[];
    try {
      fileSpecs = readConfigFile(configFile);
    } catch (error) {
      throw new UsageError(`${source('config')} ${configFile}`, (error as Error).message);
    }
    fileSpecs.forEach((spec, index) =>
      specs.push({
        spec,
        subject: `${source('config')} ${configFile}: targets[${index}]`,
        defaultName: `target-${index + 1}`,
        kind: 'config',
      }),
    );
  }

  if (specs.length > MAX_TARGETS) {
    const given = (['hook', 'webhook', 'config'] as const).filter((flag) => values[flag] !== undefined).map(source);
    throw new UsageError(
      given.join(', '),
      `${specs.length} targets in all; at most ${MAX_TARGETS} are allowed (hooks, webhooks and config targets together)`,
    );
  }

  const names = new Set<string>();
  const targets = specs.map(({ spec, subject, defaultName, kind }) => {
    const resolved = resolveTarget(spec, defaultName, kind, (where, message) => {
      // A flag's own value is named once; a config entry names the key.
      const at =
        kind === 'config'
          ? `${subject}.${where}`
          : where === 'secretFiles[0]'
            ? source(kind === 'hook' ? 'hook-secret-file' : 'webhook-secret-file')
            : subject;
      return new UsageError(at, message);
    });
    if (names.has(resolved.target.name))
      throw new UsageError(subject, `the target name "${resolved.target.name}" is used twice`);
    names.add(resolved.target.name);
    return resolved;
  });
  return { targets, stateFile, drainTimeoutMs };
}

function resolveTarget(
  spec: TargetSpec,
  defaultName: string,
  kind: 'hook' | 'webhook' | 'config',
  fail: (where: string, message: string) => UsageError,
): ResolvedTarget {
  const format = spec.format ?? 'json';
  const scope: Scope = spec.scope ?? 'leader';
  const defaults = scope === 'self' ? HOOK_DEFAULTS : REMOTE_DEFAULTS;

  if (spec.url !== undefined && spec.urlFile !== undefined) throw fail('url', 'give url or urlFile, not both');
  const urlFile = spec.urlFile === undefined ? undefined : openFile(spec.urlFile, urlFileText(format), fail, 'urlFile');
  let url = urlFile?.value() ?? spec.url;
  if (url === undefined) {
    if (format !== 'pagerduty') throw fail('url', 'is required (or urlFile, for a URL that carries a token)');
    url = PAGERDUTY_URL;
  }
  const problem = urlProblem(url, format);
  if (problem) throw fail('url', problem);
  if (spec.mode !== undefined && format !== 'cloudevents') throw fail('mode', 'applies to the cloudevents format only');
  if (format === 'pagerduty' && !spec.routingKeyFile)
    throw fail('routingKeyFile', 'is required for pagerduty (a file holding the integration key)');
  if (spec.routingKeyFile && format !== 'pagerduty')
    throw fail('routingKeyFile', 'applies to the pagerduty format only');
  if (spec.severity && format !== 'pagerduty' && format !== 'alertmanager')
    throw fail('severity', 'applies to the pagerduty and alertmanager formats only');

  const headerCount = Object.keys(spec.headers ?? {}).length + Object.keys(spec.headerFiles ?? {}).length;
  if (headerCount > MAX_HEADERS)
    throw fail(
      'headers',
      `${headerCount} headers; at most ${MAX_HEADERS} are allowed (headers and headerFiles together)`,
    );
  for (const [name, value] of Object.entries(spec.headers ?? {})) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw fail(`headers.${name}`, 'is not a valid header name');
    if (RESERVED_HEADER.test(name)) throw fail(`headers.${name}`, 'is set by leaderhook itself');
    if (SECRET_HEADER.test(name))
      throw fail(
        `headers.${name}`,
        'looks like a credential: never inline; put the value in a file and use headerFiles',
      );
    const problem = headerValueProblem(value);
    if (problem) throw fail(`headers.${name}`, problem);
  }
  const headerFiles = new Map<string, FileValue<string>>();
  for (const [name, file] of Object.entries(spec.headerFiles ?? {})) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw fail(`headerFiles.${name}`, 'is not a valid header name');
    if (RESERVED_HEADER.test(name)) throw fail(`headerFiles.${name}`, 'is set by leaderhook itself');
    headerFiles.set(name, openFile(file, headerValueText, fail, `headerFiles.${name}`));
  }
  if ((spec.secretFiles ?? []).length > MAX_SECRET_FILES)
    throw fail('secretFiles', `${spec.secretFiles?.length} files; at most ${MAX_SECRET_FILES} are allowed`);
  const secrets = new SecretFiles(
    (spec.secretFiles ?? []).map((file, index) => openFile(file, parseSecretFile, fail, `secretFiles[${index}]`)),
  );

  const retry: RetryPolicy = {
    attempts:
      spec.retry?.attempts === 'unlimited'
        ? Number.POSITIVE_INFINITY
        : (spec.retry?.attempts ?? defaults.retry.attempts),
    minDelayMs: spec.retry?.minDelay ?? defaults.retry.minDelayMs,
    maxDelayMs: spec.retry?.maxDelay ?? defaults.retry.maxDelayMs,
    maxElapsedMs: spec.retry?.maxElapsed ?? defaults.retry.maxElapsedMs,
  };
  if (retry.minDelayMs <= 0) throw fail('retry.minDelay', 'must be above 0');
  if (retry.maxDelayMs < retry.minDelayMs) throw fail('retry.maxDelay', 'must not be below retry.minDelay');
  const timeoutMs = spec.timeout ?? defaults.timeoutMs;
  if (timeoutMs <= 0) throw fail('timeout', 'must be above 0');

  const target: Target = {
    name: spec.name ?? defaultName,
    cursorKey: spec.name ?? unnamedCursorKey(spec.urlFile !== undefined ? { urlFile: spec.urlFile } : { url }),
    url,
    scope,
    events: new Set<EventType>(spec.events ?? EVENT_TYPES),
    format,
    mode: spec.mode ?? 'binary',
    headers: { ...spec.headers },
    headerFiles: { ...spec.headerFiles },
    secretFiles: spec.secretFiles ?? [],
    timeoutMs,
    retry,
    supersede: spec.supersede ?? scope === 'self',
    ...(spec.routingKeyFile ? { routingKeyFile: spec.routingKeyFile } : {}),
    ...(spec.severity ? { severity: spec.severity } : {}),
  };
  return {
    target,
    secrets,
    headerFiles,
    ...(urlFile ? { urlFile } : {}),
    ...(spec.routingKeyFile ? { routingKey: openFile(spec.routingKeyFile, nonEmptyText, fail, 'routingKeyFile') } : {}),
  };
}

/** Why `url` cannot be a target's URL for `format`, or `undefined`; the message never quotes the URL. */
function urlProblem(url: string, format: FormatName): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a URL (expected http://HOST[:PORT]/PATH)';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    return `must be an http:// or https:// URL, not ${parsed.protocol}`;
  if (parsed.username || parsed.password)
    return 'must not carry credentials: put an Authorization header value in a file and use headerFiles';
  if (format === 'alertmanager' && !parsed.pathname.endsWith('/api/v2/alerts'))
    return "an alertmanager target posts to Alertmanager's /api/v2/alerts (e.g. http://alertmanager:9093/api/v2/alerts)";
  return undefined;
}

/**
 * The parser of a `urlFile` for a target of `format`: the trimmed text, a URL the target can post to. Used at start and
 * on every re-read, so a rotation to something else keeps the last good URL; its errors never quote the file.
 */
export function urlFileText(format: FormatName): (text: string) => string {
  return (text) => {
    const url = nonEmptyText(text);
    const problem = urlProblem(url, format);
    if (problem) throw new Error(`the URL in the file ${problem}`);
    return url;
  };
}

function openFile<T>(
  file: string,
  parse: (text: string) => T,
  fail: (where: string, message: string) => UsageError,
  where: string,
): FileValue<T> {
  try {
    return new FileValue(file, parse);
  } catch (error) {
    throw fail(where, `${file}: ${describeFileProblem(error)}`);
  }
}
