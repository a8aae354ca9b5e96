import { hostname } from 'node:os';
import * as z from 'zod/mini';
import type { CandidateCheckOptions } from '../candidate/candidate-check.ts';
import { DEFAULT_TIMINGS, validateTimings, type ElectionTimings } from '../election/timing.ts';
import { parseLeaderLabel, type LeaderLabel } from '../leader-pod/label.ts';
import { LOCK_KINDS, type LockKind } from '../lock/types.ts';
import { LOG_LEVELS, type LogLevel } from '../log/logger.ts';
import { durationSchema as duration, formatDuration } from './duration.ts';
import type { FlagSources, FlagValues } from './read-flags.ts';
import type { ListenAddress } from '../http/server.ts';
import { WATCH_DEFAULTS } from '../http/watch-stream.ts';
import { identityProblem, isPodName, namespaceName, objectName, oneOf } from './names.ts';
import { UsageError } from './usage-error.ts';
import { rejectInput, safeParse } from './zod-mini.ts';

/** Everything the CLI needs, validated. The namespace is resolved later, once the kubeconfig is loaded. */
export interface Config {
  election: string;
  namespace: string | undefined;
  identity: string;
  http: ListenAddress;
  lock: LockKind;
  timings: ElectionTimings;
  /** `--kubeconfig` (or `LEADERHOOK_KUBECONFIG`, as `source` says, for messages). */
  kubeconfig: { path: string; source: string } | undefined;
  logLevel: LogLevel;
  /** `--leader-label`: the label the leader keeps on its own Pod. */
  leaderLabel: LeaderLabel | undefined;
  readyOnlyWhenLeader: boolean;
  /** Record Kubernetes Events on the lock object. */
  events: boolean;
  /** On SIGTERM, local hooks acknowledge leadership.stopped before the lock is released. */
  stopBeforeRelease: boolean;
  /** `--max-watch-clients`: how many `/watch` streams may be open at once. */
  maxWatchClients: number;
  /** `--candidate-check` and its settings; `undefined` without it. */
  candidateCheck: CandidateCheckSettings | undefined;
}

export type CandidateCheckSettings = Pick<
  CandidateCheckOptions,
  'url' | 'intervalMs' | 'timeoutMs' | 'failureThreshold'
>;

/** kubelet's probe defaults for the timeout and the failure threshold; a period short enough for a quick handover. */
const CANDIDATE_CHECK_DEFAULTS = { intervalMs: 2_000, timeoutMs: 1_000, failureThreshold: 3 };
/** Below this a check would keep the main container busy answering. */
const MIN_CANDIDATE_CHECK_INTERVAL_MS = 100;
const MAX_CANDIDATE_CHECK_FAILURES = 1_000;
const MAX_URL_LENGTH = 2_048;

/** The most `--max-watch-clients` may allow: each open stream holds about 30 KB. */
const MAX_WATCH_CLIENTS = 10_000;

const listenAddress = z.pipe(
  z.string(),
  z.transform((text: string, context): ListenAddress => {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s]*):(\d{1,5})$/.exec(text.trim());
    const port = match ? Number(match[2]) : Number.NaN;
    if (!match || port > 65535) return rejectInput(context, `"${text}" is not HOST:PORT (e.g. 0.0.0.0:4040 or :4040)`);
    return { host: (match[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
  }),
);

const candidateCheckUrl = z.pipe(
  z.string().check(z.maxLength(MAX_URL_LENGTH, `must be at most ${MAX_URL_LENGTH} characters`)),
  z.transform((text: string, context): URL => {
    const example = '(e.g. http://127.0.0.1:8080/ready)';
    const url = URL.parse(text.trim());
    const problem = !url
      ? `"${text}" is not a URL ${example}`
      : url.protocol !== 'http:' && url.protocol !== 'https:'
        ? `must be an http:// or https:// URL, not ${url.protocol} ${example}`
        : url.username || url.password
          ? 'must not carry credentials (user:password@): the check sends none'
          : undefined;
    if (problem || !url) return rejectInput(context, problem ?? 'invalid URL');
    return url;
  }),
);

/** A whole number of `what` from a flag's text (blanks around it allowed), then `range`'s checks. */
function wholeNumber(what: string, ...range: Array<z.core.$ZodCheck<number>>) {
  return z.pipe(
    z.pipe(
      z.string().check(z.regex(/^\s*\d+\s*$/, `must be a whole number of ${what}`)),
      z.transform((text: string) => Number(text)),
    ),
    z.number().check(...range),
  );
}

const leaderLabel = z.pipe(
  z.string(),
  z.transform((text: string, context): LeaderLabel => {
    const parsed = parseLeaderLabel(text);
    if (typeof parsed === 'string') return rejectInput(context, parsed);
    return parsed;
  }),
);

const schema = z.object({
  election: z.pipe(z.string({ error: 'is required (the name of the lock object)' }), objectName),
  'election-namespace': z.optional(namespaceName),
  id: z.optional(
    z.string().check(z.minLength(1, 'must not be empty'), z.maxLength(253, 'must be at most 253 characters')),
  ),
  http: z.optional(listenAddress),
  lock: z.optional(oneOf(LOCK_KINDS)),
  ttl: z.optional(duration),
  'lease-duration': z.optional(duration),
  'renew-deadline': z.optional(duration),
  'retry-period': z.optional(duration),
  kubeconfig: z.optional(z.string().check(z.minLength(1, 'must not be empty'))),
  'log-level': z.optional(oneOf(LOG_LEVELS)),
  'use-cluster-credentials': z.optional(z.boolean()),
  'leader-label': z.optional(leaderLabel),
  'ready-only-when-leader': z.optional(z.boolean()),
  events: z.optional(z.boolean()),
  'stop-before-release': z.optional(z.boolean()),
  'max-watch-clients': z.optional(
    wholeNumber('clients', z.maximum(MAX_WATCH_CLIENTS, `must be at most ${MAX_WATCH_CLIENTS}`)),
  ),
  'candidate-check': z.optional(candidateCheckUrl),
  'candidate-check-interval': z.optional(
    z.pipe(
      duration,
      z
        .number()
        .check(z.minimum(MIN_CANDIDATE_CHECK_INTERVAL_MS, `must be at least ${MIN_CANDIDATE_CHECK_INTERVAL_MS}ms`)),
    ),
  ),
  'candidate-check-timeout': z.optional(z.pipe(duration, z.number().check(z.minimum(1, 'must be at least 1ms')))),
  'candidate-check-failures': z.optional(
    wholeNumber(
      'checks',
      z.minimum(1, 'must be at least 1'),
      z.maximum(MAX_CANDIDATE_CHECK_FAILURES, `must be at most ${MAX_CANDIDATE_CHECK_FAILURES}`),
    ),
  ),
});

/**
 * Validates raw flag values into a Config; the first problem becomes a UsageError naming the flag as the user gave it.
 */
export function buildConfig(values: FlagValues, sources: FlagSources, env: NodeJS.ProcessEnv): Config {
  const result = safeParse(schema, values);
  if (!result.success) {
    const issue = result.error.issues[0];
    const flag = String(issue?.path[0] ?? 'arguments');
    throw new UsageError(sources[flag] ?? `--${flag}`, issue?.message ?? 'invalid value');
  }
  const flags = result.data;
  const identity = resolveIdentity(flags.id, env, sources);
  const identityRefused = identityProblem(identity.value);
  if (identityRefused) throw new UsageError(identity.source, identityRefused);
  if (flags['leader-label'] && !isPodName(identity.value)) {
    throw new UsageError(
      identity.source,
      `"${identity.value}" cannot be a Pod name, which --leader-label needs it to be (a lower-case DNS subdomain of ` +
        'at most 253 characters: a-z, 0-9, "-", ".")',
    );
  }
  return {
    election: flags.election,
    namespace: flags['election-namespace'],
    identity: identity.value,
    http: flags.http ?? { host: '0.0.0.0', port: 4040 },
    lock: flags.lock ?? 'leases',
    timings: resolveTimings(flags, sources),
    kubeconfig: flags.kubeconfig ? { path: flags.kubeconfig, source: sources.kubeconfig ?? '--kubeconfig' } : undefined,
    logLevel: flags['log-level'] ?? 'info',
    leaderLabel: flags['leader-label'],
    readyOnlyWhenLeader: flags['ready-only-when-leader'] ?? false,
    events: flags.events ?? true,
    stopBeforeRelease: flags['stop-before-release'] ?? true,
    maxWatchClients: flags['max-watch-clients'] ?? WATCH_DEFAULTS.maxClients,
    candidateCheck: resolveCandidateCheck(flags, sources),
  };
}

function resolveCandidateCheck(
  flags: {
    'candidate-check'?: URL;
    'candidate-check-interval'?: number;
    'candidate-check-timeout'?: number;
    'candidate-check-failures'?: number;
  },
  sources: FlagSources,
): CandidateCheckSettings | undefined {
  const source = (flag: string) => sources[flag] ?? `--${flag}`;
  const url = flags['candidate-check'];
  if (!url) {
    const orphan = (['candidate-check-interval', 'candidate-check-timeout', 'candidate-check-failures'] as const).find(
      (name) => flags[name] !== undefined,
    );
    if (orphan)
      throw new UsageError(source(orphan), `sets the candidate check, but ${source('candidate-check')} is not given`);
    return undefined;
  }
  const intervalMs = flags['candidate-check-interval'] ?? CANDIDATE_CHECK_DEFAULTS.intervalMs;
  const timeoutMs = flags['candidate-check-timeout'] ?? Math.min(CANDIDATE_CHECK_DEFAULTS.timeoutMs, intervalMs);
  if (timeoutMs > intervalMs) {
    throw new UsageError(
      source('candidate-check-timeout'),
      `must be at most the interval (${formatDuration(timeoutMs)} > ${source('candidate-check-interval')} ${formatDuration(intervalMs)}), so checks never overlap`,
    );
  }
  return {
    url,
    intervalMs,
    timeoutMs,
    failureThreshold: flags['candidate-check-failures'] ?? CANDIDATE_CHECK_DEFAULTS.failureThreshold,
  };
}

/** This replica's identity and where it came from, for a message: `--id`, else `$POD_NAME`, else the hostname. */
function resolveIdentity(
  id: string | undefined,
  env: NodeJS.ProcessEnv,
  sources: FlagSources,
): { value: string; source: string } {
  if (id !== undefined) return { value: id, source: sources.id ?? '--id' };
  if (env.POD_NAME) return { value: env.POD_NAME, source: 'POD_NAME' };
  return { value: hostname(), source: '--id (default: the hostname)' };
}

function resolveTimings(
  flags: { ttl?: number; 'lease-duration'?: number; 'renew-deadline'?: number; 'retry-period'?: number },
  sources: FlagSources,
): ElectionTimings {
  const explicit = (['lease-duration', 'renew-deadline', 'retry-period'] as const).find(
    (name) => flags[name] !== undefined,
  );
  if (flags.ttl !== undefined && explicit) {
    throw new UsageError(
      sources.ttl ?? '--ttl',
      `cannot be combined with ${sources[explicit] ?? `--${explicit}`}: --ttl sets all three timings`,
    );
  }
  const timings: ElectionTimings =
    flags.ttl !== undefined
      ? { leaseDurationMs: flags.ttl, renewDeadlineMs: flags.ttl / 2, retryPeriodMs: flags.ttl / 4 }
      : {
          leaseDurationMs: flags['lease-duration'] ?? DEFAULT_TIMINGS.leaseDurationMs,
          renewDeadlineMs: flags['renew-deadline'] ?? DEFAULT_TIMINGS.renewDeadlineMs,
          retryPeriodMs: flags['retry-period'] ?? DEFAULT_TIMINGS.retryPeriodMs,
        };
  const problem = validateTimings(timings);
  if (problem) {
    const subject =
      flags.ttl !== undefined
        ? (sources.ttl ?? '--ttl')
        : problem.concerns.map((name) => sources[name.replace(' ', '-')] ?? `--${name.replace(' ', '-')}`).join(', ');
    const shown = `lease duration ${formatDuration(timings.leaseDurationMs)}, renew deadline ${formatDuration(timings.renewDeadlineMs)}, retry period ${formatDuration(timings.retryPeriodMs)}`;
    throw new UsageError(subject, `${problem.message} (${shown})`);
  }
  return timings;
}
