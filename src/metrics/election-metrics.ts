import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { LeadershipChange } from '../election/leadership.ts';

/** prom-client's default gauges whose names end in `_total`, which Prometheus reserves for counters. */
const SUM_GAUGES_NAMED_AS_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** The sidecar's registry: the process's default metrics (Node.js, CPU, memory), to which the election's are added. */
export function createProcessRegistry(): Registry {
  const registry = new Registry();
  // The event-loop delay is sampled every 100 ms: prom-client's 10 ms wakes an idle replica 100 times a second (idle
  // CPU 0.8 -> 0.15 % of a core for a follower); each sample still measures the delay to the microsecond.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  // Gauges named like counters fail `promtool check metrics` (and confuse rate()); the per-type gauges without the
  // suffix (nodejs_active_handles{type}, …) carry the same counts.
  for (const name of SUM_GAUGES_NAMED_AS_COUNTERS) registry.removeSingleMetric(name);
  return registry;
}

/** A metric of the registry has one of the election's names but another type or other labels. */
export class IncompatibleMetricError extends Error {
  constructor(name: string, wanted: string, found: string) {
    super(
      `the registry already holds ${name} as ${found}, but leaderhook records it as ${wanted}: rename or remove that ` +
        'metric, or pass another Registry',
    );
    this.name = 'IncompatibleMetricError';
  }
}

const describeMetric = (type: string, labelNames: readonly string[]) => `a ${type} labelled {${labelNames.join(', ')}}`;

/** Each of the election's metrics: its type and labels, as registered here (and as one already there must be). */
const SHAPES = {
  leaderhook_is_leader: { type: 'gauge', labelNames: ['election'] },
  leaderhook_leadership_changes_total: { type: 'counter', labelNames: ['election', 'type'] },
  leaderhook_last_renew_timestamp_seconds: { type: 'gauge', labelNames: ['election'] },
  leaderhook_api_requests_total: { type: 'counter', labelNames: ['verb', 'code'] },
  leaderhook_api_request_duration_seconds: { type: 'histogram', labelNames: ['verb'] },
  leader_election_master_status: { type: 'gauge', labelNames: ['name'] },
  leader_election_slowpath_total: { type: 'counter', labelNames: ['name'] },
  leaderhook_identity_clashes_total: { type: 'counter', labelNames: ['election'] },
} as const;

/**
 * Every metric of `registry` with one of the election's names (another election's in the same process) has its
 * type and labels; else (the app's own) an {@link IncompatibleMetricError}, before any metric is registered.
 */
function checkShapes(registry: Registry): void {
  for (const [name, shape] of Object.entries(SHAPES)) {
    const existing = registry.getSingleMetric(name) as { type?: string; labelNames?: string[] } | undefined;
    if (!existing) continue;
    const found = existing.labelNames ?? [];
    const sameLabels = [...found].sort().join() === [...shape.labelNames].sort().join();
    if (existing.type !== shape.type || !sameLabels) {
      throw new IncompatibleMetricError(
        name,
        describeMetric(shape.type, shape.labelNames),
        describeMetric(existing.type ?? 'metric', found),
      );
    }
  }
}

/**
 * The metric of that name already in `registry` (another election's in the same process), else a new one: elections
 * sharing a registry share each metric, told apart by their `election` (or `name`) label.
 */
function shared<T extends Metric>(registry: Registry, name: keyof typeof SHAPES, make: (labelNames: string[]) => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make([...SHAPES[name].labelNames]);
}

/**
 * The election's Prometheus metrics, registered into `registry`: leaderhook's own, plus client-go's names so existing
 * dashboards work.
 */
export class ElectionMetrics {
  readonly registry: Registry;
  readonly #election: string;
  readonly isLeader: Gauge<'election'>;
  readonly transitions: Counter<'election' | 'type'>;
  readonly lastRenew: Gauge<'election'>;
  readonly apiRequests: Counter<'verb' | 'code'>;
  readonly apiLatency: Histogram<'verb'>;
  readonly masterStatus: Gauge<'name'>;
  readonly slowPath: Counter<'name'>;
  readonly identityClashes: Counter<'election'>;

  constructor(election: string, registry: Registry) {
    this.registry = registry;
    this.#election = election;
    checkShapes(registry);
    const registers = [registry];
    this.isLeader = shared(
      registry,
      'leaderhook_is_leader',
      (labelNames) =>
        new Gauge({
          name: 'leaderhook_is_leader',
          help: '1 while this replica leads, else 0',
          labelNames,
          registers,
        }),
    );
    this.transitions = shared(
      registry,
      'leaderhook_leadership_changes_total',
      (labelNames) =>
        new Counter({
          name: 'leaderhook_leadership_changes_total',
          help: 'Leadership changes seen by this replica, by type (started, stopped, leader-changed)',
          labelNames,
          registers,
        }),
    );
    this.lastRenew = shared(
      registry,
      'leaderhook_last_renew_timestamp_seconds',
      (labelNames) =>
        new Gauge({
          name: 'leaderhook_last_renew_timestamp_seconds',
          help: "Unix time of this replica's last successful acquire or renew of the lock",
          labelNames,
          registers,
        }),
    );
    this.apiRequests = shared(
      registry,
      'leaderhook_api_requests_total',
      (labelNames) =>
        new Counter({
          name: 'leaderhook_api_requests_total',
          help: 'Kubernetes API requests for the lock, by verb and HTTP status code ("error" when no answer came)',
          labelNames,
          registers,
        }),
    );
    this.apiLatency = shared(
      registry,
      'leaderhook_api_request_duration_seconds',
      (labelNames) =>
        new Histogram({
          name: 'leaderhook_api_request_duration_seconds',
          help: 'Kubernetes API request latency for the lock, by verb',
          labelNames,
          buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
          registers,
        }),
    );
    this.masterStatus = shared(
      registry,
      'leader_election_master_status',
      (labelNames) =>
        new Gauge({
          name: 'leader_election_master_status',
          help: 'client-go compatible: 1 if this replica leads, else 0',
          labelNames,
          registers,
        }),
    );
    this.slowPath = shared(
      registry,
      'leader_election_slowpath_total',
      (labelNames) =>
        new Counter({
          name: 'leader_election_slowpath_total',
          help: 'client-go compatible: renews that had to read the lock first because the cached object was stale',
          labelNames,
          registers,
        }),
    );
    this.identityClashes = shared(
      registry,
      'leaderhook_identity_clashes_total',
      (labelNames) =>
        new Counter({
          name: 'leaderhook_identity_clashes_total',
          help: "Lock records naming this replica's identity that another process wrote (two processes share one identity)",
          labelNames,
          registers,
        }),
    );
    this.identityClashes.inc({ election }, 0);
    this.isLeader.set({ election: election }, 0);
    this.masterStatus.set({ name: election }, 0);
    this.slowPath.inc({ name: election }, 0);
  }

  record(change: LeadershipChange): void {
    this.transitions.inc({ election: this.#election, type: change.type });
    this.isLeader.set({ election: this.#election }, change.isLeader ? 1 : 0);
    this.masterStatus.set({ name: this.#election }, change.isLeader ? 1 : 0);
  }

  renewed(at: Date): void {
    this.lastRenew.set({ election: this.#election }, at.getTime() / 1000);
  }

  identityClash(): void {
    this.identityClashes.inc({ election: this.#election });
  }

  slowPathTaken(): void {
    this.slowPath.inc({ name: this.#election });
  }
}
