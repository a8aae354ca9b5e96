import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import * as z from 'zod/mini';
import { defaultIdentity, identityProblem, isPodName, namespaceName, objectName, oneOf } from '../config/names.ts';
import { MAX_DURATION_MS } from '../config/duration.ts';
import { UsageError } from '../config/usage-error.ts';
import { rejectInput, safeParse } from '../config/zod-mini.ts';
import type { Candidacy } from '../election/leadership.ts';
import { DEFAULT_TIMINGS, validateTimings, type ElectionTimings, type TimingName } from '../election/timing.ts';
import { parseLeaderLabel, type LeaderLabel } from '../leader-pod/label.ts';
import { LOCK_KINDS, type LockKind } from '../lock/types.ts';
import type { Log } from '../log/logger.ts';

/**
 * What {@link createElection} takes. Only `election` is required; every other option has the sidecar's default, and
 * is checked as the sidecar checks its flags (an invalid one throws a {@link UsageError} naming it). Durations are
 * milliseconds.
 */
export interface ElectionOptions {
  /**
   * The lock object's name, the same for every replica of one election: a lower-case DNS subdomain of at most 253
   * characters (leader-elector's `--election`, client-go's lock `Name`).
   */
  election: string;
  /**
   * The lock object's namespace. Default: the pod's own (read from its ServiceAccount), else the kubeconfig context's,
   * else `default`.
   */
  namespace?: string;
  /**
   * This replica's identity, written as the lock's `holderIdentity` (client-go's `Identity`); at most 253 characters,
   * none of them a control character (line breaks, tabs, ...), as the CLI's `--id`.
   * It must be unique per replica: a record naming it that this process did not write is an identity clash (logged,
   * counted, never led through). Default: `$POD_NAME`, else the hostname, which pods sharing a node's network
   * (hostNetwork) also share.
   */
  identity?: string;
  /**
   * The lock kind: `leases` (default, client-go's LeaseLock), or the legacy annotation locks `configmaps` and
   * `endpoints` of leader-elector 0.4 and client-go before 1.24.
   */
  lock?: LockKind;
  /**
   * How long a record must stay unchanged, as observed on this replica's monotonic clock, before another replica may
   * take the lock (client-go's `LeaseDuration`). Default 15 000; at least 1000 (the lock stores whole seconds) and
   * greater than `renewDeadlineMs`.
   */
  leaseDurationMs?: number;
  /**
   * How long the leader keeps trying to renew before it stops leading (client-go's `RenewDeadline`): leadership ends
   * no later than the last successful renew + this. Default 10 000; greater than `retryPeriodMs` × 1.2.
   */
  renewDeadlineMs?: number;
  /**
   * How often the leader renews, and candidates retry when they cannot watch (client-go's `RetryPeriod`). Default
   * 2000.
   */
  retryPeriodMs?: number;
  /**
   * Credentials, as `@kubernetes/client-node`'s KubeConfig: its clusters, users, contexts and current context are
   * used, with one connection pool per TLS configuration. Default: where client-node's `loadFromDefault` looks
   * (`$KUBECONFIG`, `~/.kube/config`, the pod's ServiceAccount), each file read only as a regular file of at most
   * 1 MiB.
   */
  kubeConfig?: KubeConfig;
  /** Where the election logs (a pino logger is one). Default: warnings and errors as JSON lines on stderr. */
  log?: Log;
  /** Aborting it stops the election as {@link Election.stop} does (the lock is released). */
  signal?: AbortSignal;
  /**
   * A prom-client Registry (the app's) to register the election's metrics into: `leaderhook_is_leader`,
   * `leaderhook_leadership_changes_total`, `leaderhook_last_renew_timestamp_seconds`, `leaderhook_api_requests_total`,
   * `leaderhook_api_request_duration_seconds`, `leaderhook_identity_clashes_total` and client-go's
   * `leader_election_master_status` and `leader_election_slowpath_total`. Elections sharing a registry share each
   * metric, told apart by its election label (`election`, or client-go's `name`): two elections of one name in
   * different namespaces share their series too — give them separate registries, or tell them apart by the
   * scrape's own labels. A metric of the registry with one of these names but another type or other labels is a
   * {@link UsageError} naming `metrics`. Default: none registered.
   */
  metrics?: Registry;
  /**
   * Record client-go's Kubernetes Events on the lock object (`<identity> became leader`, `<identity> stopped
   * leading`, reason `LeaderElection`); needs `create` and `patch` on events. Default: false.
   */
  events?: boolean;
  /**
   * A label the leader keeps on its own Pod and removes from former leaders' (`{ key, value }` or `"key=value"`), to
   * route a Service to the leader. The identity must be the Pod's name, in `$POD_NAMESPACE` (default: the lock's
   * namespace); needs `get` and `patch` on pods. Default: none.
   */
  leaderLabel?: LeaderLabel | string;
  /**
   * Whether this replica stands for election, decided by the app (e.g. from its own health): the election asks
   * `mayAcquire()` before every attempt to take the lock, `mayLead()` while leading, and both again whenever the
   * `subscribe` listener runs. A leader whose `mayLead()` turns false stops leading at once (reason
   * `candidate-unhealthy`: its {@link Election.runWhileLeading} signal aborts), waits for its leader work to settle,
   * releases the lock and stays a follower until `mayAcquire()` is true again. The sidecar's `--candidate-check` is
   * one. Default: this replica always stands.
   */
  candidate?: Candidacy;
}

/** The options checked, with every default applied but the namespace (which needs the kubeconfig). */
export interface ResolvedOptions {
  election: string;
  namespace: string | undefined;
  identity: string;
  lock: LockKind;
  timings: ElectionTimings;
  kubeConfig: KubeConfig | undefined;
  log: Log | undefined;
  signal: AbortSignal | undefined;
  metrics: Registry | undefined;
  events: boolean;
  leaderLabel: LeaderLabel | undefined;
  candidate: Candidacy | undefined;
}

const durationMs = z
  .number({ error: 'must be a number of milliseconds' })
  .check(z.maximum(MAX_DURATION_MS, `must be at most ${MAX_DURATION_MS} ms (2^31-1, the longest delay a timer holds)`));

const hasMethods = (value: unknown, names: string[]): boolean =>
  typeof value === 'object' &&
  value !== null &&
  names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');

const leaderLabel = z.pipe(
  z.union([z.string(), z.object({ key: z.string(), value: z.string() })]),
  z.transform((label: string | { key: string; value: string }, context): LeaderLabel => {
    const parsed = parseLeaderLabel(typeof label === 'string' ? label : `${label.key}=${label.value}`);
    if (typeof parsed === 'string') return rejectInput(context, parsed);
    return parsed;
  }),
);

const schema = z.strictObject({
  election: z.pipe(z.string({ error: 'is required: the name of the lock object' }), objectName),
  namespace: z.optional(namespaceName),
  identity: z.optional(
    z.string().check(z.minLength(1, 'must not be empty'), z.maxLength(253, 'must be at most 253 characters')),
  ),
  lock: z.optional(oneOf(LOCK_KINDS)),
  leaseDurationMs: z.optional(durationMs),
  renewDeadlineMs: z.optional(durationMs),
  retryPeriodMs: z.optional(durationMs),
  kubeConfig: z.optional(
    z.custom<KubeConfig>(
      (value) => hasMethods(value, ['getCurrentCluster', 'makeApiClient']),
      'must be a KubeConfig of @kubernetes/client-node',
    ),
  ),
  log: z.optional(
    z.custom<Log>(
      (value) => hasMethods(value, ['debug', 'info', 'warn', 'error']),
      'must have debug, info, warn and error methods (a pino logger has)',
    ),
  ),
  signal: z.optional(z.instanceof(AbortSignal, { error: 'must be an AbortSignal' })),
  metrics: z.optional(
    z.custom<Registry>(
      (value) => hasMethods(value, ['registerMetric', 'getSingleMetric']),
      'must be a prom-client Registry',
    ),
  ),
  events: z.optional(z.boolean({ error: 'must be true or false' })),
  leaderLabel: z.optional(leaderLabel),
  candidate: z.optional(
    z.custom<Candidacy>(
      (value) => hasMethods(value, ['mayAcquire', 'mayLead', 'subscribe']),
      'must have mayAcquire, mayLead and subscribe methods (a Candidacy)',
    ),
  ),
});

const TIMING_OPTIONS: Record<TimingName, keyof ElectionTimings> = {
  'lease duration': 'leaseDurationMs',
  'renew deadline': 'renewDeadlineMs',
  'retry period': 'retryPeriodMs',
};

/**
 * Checks `createElection`'s options as the CLI checks its flags and applies the same defaults; the first problem is
 * a UsageError whose `subject` is the option's name. `env` gives the default identity (`POD_NAME`).
 */
export function resolveOptions(options: ElectionOptions, env: NodeJS.ProcessEnv): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new UsageError('options', 'must be an object');
  const result = safeParse(schema, options);
  if (!result.success) {
    const issue = result.error.issues[0];
    if (issue?.code === 'unrecognized_keys')
      throw new UsageError(issue.keys.join(', '), 'is not an option of createElection');
    throw new UsageError(String(issue?.path[0] ?? 'options'), issue?.message ?? 'invalid value');
  }
  const given = result.data;
  const identity = given.identity ?? defaultIdentity(env);
  const identitySubject =
    given.identity === undefined ? 'identity (default: $POD_NAME, else the hostname)' : 'identity';
  const identityRefused = identityProblem(identity);
  if (identityRefused) throw new UsageError(identitySubject, identityRefused);
  if (given.leaderLabel && !isPodName(identity)) {
    throw new UsageError(
      identitySubject,
      `"${identity}" cannot be a Pod name, which leaderLabel needs it to be (a lower-case DNS subdomain of at most ` +
        '253 characters: a-z, 0-9, "-", ".")',
    );
  }
  const timings: ElectionTimings = {
    leaseDurationMs: given.leaseDurationMs ?? DEFAULT_TIMINGS.leaseDurationMs,
    renewDeadlineMs: given.renewDeadlineMs ?? DEFAULT_TIMINGS.renewDeadlineMs,
    retryPeriodMs: given.retryPeriodMs ?? DEFAULT_TIMINGS.retryPeriodMs,
  };
  const problem = validateTimings(timings);
  if (problem) {
    const shown = Object.entries(timings)
      .map(([name, ms]) => `${name} ${ms}`)
      .join(', ');
    throw new UsageError(
      problem.concerns.map((name) => TIMING_OPTIONS[name]).join(', '),
      `${problem.message} (${shown})`,
    );
  }
  return {
    election: given.election,
    namespace: given.namespace,
    identity,
    lock: given.lock ?? 'leases',
    timings,
    kubeConfig: given.kubeConfig,
    log: given.log,
    signal: given.signal,
    metrics: given.metrics,
    events: given.events ?? false,
    leaderLabel: given.leaderLabel,
    candidate: given.candidate,
  };
}
