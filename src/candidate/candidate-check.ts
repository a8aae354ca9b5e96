import { Counter, Gauge, type Registry } from 'prom-client';
import type { Candidacy } from '../election/leadership.ts';
import type { Log } from '../log/logger.ts';
import { probe, PROBE_RESULTS, type ProbeOutcome } from './http-probe.ts';

export interface CandidateCheckOptions {
  /** The main container's health endpoint, e.g. `http://127.0.0.1:8080/ready`. */
  url: URL;
  /** From the start of one check to the start of the next. */
  intervalMs: number;
  /** Bounds one check; at most `intervalMs`, so checks never overlap. */
  timeoutMs: number;
  /** How many failed checks in a row make a leader step down (kubelet's `failureThreshold`). */
  failureThreshold: number;
  log: Log;
  registry: Registry;
}

/** The check's state, as `GET /leader` shows it in `candidate`. */
export interface CandidateState {
  /** The last check passed: this replica campaigns. `false` until the first check has passed. */
  healthy: boolean;
  /** Failed checks since the last one that passed; a leader steps down when it reaches `failureThreshold`. */
  consecutiveFailures: number;
  failureThreshold: number;
  /** When the last check ended (RFC 3339); `null` before the first. */
  checkedAt: string | null;
  /** What the last check found: `HTTP 200`, `HTTP 503`, `no response within 1000 ms`, `connection refused`, … */
  lastResult: string | null;
}

/**
 * Leadership gated on the main container's health (`--candidate-check`): an HTTP check every `intervalMs` (see
 * `probe` for the kubelet httpGet semantics), read by the elector as its `Candidacy`:
 * - a replica campaigns only while its last check passed (kubelet's readiness with `successThreshold: 1`: not ready
 *   until the first success, ready again at the next one);
 * - a leader steps down after `failureThreshold` failed checks in a row (kubelet's `failureThreshold`), so one slow
 *   answer does not cost a handover.
 * Logs one line when the state changes (healthy ↔ unhealthy), never one per failed check.
 */
export class CandidateCheck implements Candidacy {
  readonly #options: CandidateCheckOptions;
  readonly #listeners = new Set<() => void>();
  readonly #healthyGauge: Gauge;
  readonly #failuresGauge: Gauge;
  readonly #checks: Counter<'result'>;
  #healthy = false;
  #consecutiveFailures = 0;
  #checkedAt: string | null = null;
  #lastResult: string | null = null;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: AbortController | undefined;
  #stopped = true;

  constructor(options: CandidateCheckOptions) {
    this.#options = options;
    const registers = [options.registry];
    this.#healthyGauge = new Gauge({
      name: 'leaderhook_candidate_healthy',
      help: '1 while the last --candidate-check of the main container passed (this replica campaigns), else 0',
      registers,
    });
    this.#failuresGauge = new Gauge({
      name: 'leaderhook_candidate_consecutive_failures',
      help: 'Failed --candidate-check checks in a row; the leader steps down at --candidate-check-failures',
      registers,
    });
    this.#checks = new Counter({
      name: 'leaderhook_candidate_checks_total',
      help: '--candidate-check checks, by result (success, http-status, timeout, connection-refused, error)',
      labelNames: ['result'],
      registers,
    });
    for (const result of PROBE_RESULTS) this.#checks.inc({ result }, 0);
    this.#healthyGauge.set(0);
    this.#failuresGauge.set(0);
  }

  /** Checks at once, then every interval. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    void this.#run();
  }

  /** No further checks; the one in flight is aborted and ignored. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#inFlight?.abort();
  }

  state(): CandidateState {
    return {
      healthy: this.#healthy,
      consecutiveFailures: this.#consecutiveFailures,
      failureThreshold: this.#options.failureThreshold,
      checkedAt: this.#checkedAt,
      lastResult: this.#lastResult,
    };
  }

  mayAcquire(): boolean {
    return this.#healthy;
  }

  mayLead(): boolean {
    return this.#consecutiveFailures < this.#options.failureThreshold;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #run(): Promise<void> {
    const startedAt = performance.now();
    const controller = new AbortController();
    this.#inFlight = controller;
    const outcome = await probe(this.#options.url, this.#options.timeoutMs, controller.signal);
    this.#inFlight = undefined;
    if (this.#stopped) return;
    this.#record(outcome);
    const waitMs = Math.max(0, startedAt + this.#options.intervalMs - performance.now());
    this.#timer = setTimeout(() => void this.#run(), waitMs);
    // The HTTP server keeps the process alive; a check alone must not.
    this.#timer.unref();
  }

  #record(outcome: ProbeOutcome): void {
    const before = { acquire: this.mayAcquire(), lead: this.mayLead(), checked: this.#checkedAt !== null };
    this.#checks.inc({ result: outcome.result });
    this.#checkedAt = new Date().toISOString();
    this.#lastResult = outcome.message;
    this.#healthy = outcome.healthy;
    this.#consecutiveFailures = outcome.healthy ? 0 : this.#consecutiveFailures + 1;
    this.#healthyGauge.set(outcome.healthy ? 1 : 0);
    this.#failuresGauge.set(this.#consecutiveFailures);

    if (!before.checked || before.acquire !== outcome.healthy) {
      const fields = { url: describeUrl(this.#options.url), result: outcome.message };
      if (outcome.healthy) this.#options.log.info(fields, 'candidate check passed: campaigning for leadership');
      else {
        this.#options.log.warn(
          { ...fields, failureThreshold: this.#options.failureThreshold },
          'candidate check failed: not campaigning; a leader steps down after --candidate-check-failures in a row',
        );
      }
    }
    if (before.acquire === this.mayAcquire() && before.lead === this.mayLead()) return;
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch (error) {
        this.#options.log.error({ err: error }, 'a candidacy listener failed');
      }
    }
  }
}

/** The URL without its query, which is the only part that could carry something secret (credentials are refused). */
function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
