// leaderhook as a library: the election and its in-process features, composed once for apps and for the sidecar's CLI.
import { Registry } from 'prom-client';
import { Elector } from '../election/elector.ts';
import type { Candidacy, LeadershipChange, LeadershipSnapshot, StopReason } from '../election/leadership.ts';
import { KubeEventSink } from '../events/event-sink.ts';
import { EventRecorder } from '../events/recorder.ts';
import { defaultNamespace, loadKubeConfig, reusingConnections } from '../kube-api/kubeconfig.ts';
import { KubePodLabelApi } from '../leader-pod/pod-api.ts';
import { LeaderLabelReconciler } from '../leader-pod/reconciler.ts';
import { createLock } from '../lock/create-lock.ts';
import { lockReference } from '../lock/types.ts';
import { childLog, createLogger, type Log } from '../log/logger.ts';
import { ElectionMetrics } from '../metrics/election-metrics.ts';
import { instrumentLock } from '../metrics/instrumented-lock.ts';
import { systemClock } from '../runtime/clock.ts';
import { resolveOptions, type ElectionOptions } from './options.ts';

/** How many changes an async iterator holds for a consumer that does not pull; past that it fails. */
const MAX_BUFFERED_CHANGES = 10_000;

/**
 * Why a {@link Election.runWhileLeading} signal aborted: this replica stopped leading (`signal.reason`). `reason` is
 * `lost` (another replica holds the lock), `renew-deadline` (no successful renew within the renew deadline) or
 * `shutdown` (the election was stopped).
 */
export class NotLeadingError extends Error {
  readonly reason: StopReason;

  constructor(reason: StopReason) {
    super(`this replica no longer leads (${reason})`);
    this.name = 'NotLeadingError';
    this.reason = reason;
  }
}

/**
 * One replica's part in one leader election, with client-go's rules (see README, "Safety"): expiry judged on the
 * local monotonic clock, compare-and-swap writes, the renew deadline as a hard bound, release on stop.
 */
export interface Election {
  /** This replica's identity, as written in the lock's `holderIdentity`. */
  readonly identity: string;
  /**
   * The election's state as this replica knows it now: `leader` (`''` when none), `isLeader`, `transitions`
   * (`leaseTransitions`), the record's times and more. A leader past its renew deadline (e.g. after a pause of the
   * process) stops leading before this answers.
   */
  readonly state: LeadershipSnapshot;
  /** Starts competing for the lock (client-go's `Run`). Once stopped, an election cannot start again. */
  start(): void;
  /**
   * Stops competing and, as the sidecar does on SIGTERM: a leader first stops leading (every listener hears
   * `stopped`, reason `shutdown`, and every {@link runWhileLeading} signal aborts), waits for that work to settle —
   * no longer than last renew + renew deadline − retry period — then hands the lock back as client-go's
   * `ReleaseOnCancel` does (empty holder), so another replica takes over at once. With `release: false` the lock is
   * left to expire after the lease duration. Resolves when done (with a hung API, within the lease duration); calling
   * it again returns the same promise.
   */
  stop(options?: { release?: boolean }): Promise<void>;
  /**
   * Every leadership change this replica observes, in order (`started`, `stopped` with its reason, `leader-changed`,
   * including to no leader); listeners run synchronously, so keep them quick. Returns the function that unsubscribes.
   */
  subscribe(listener: (change: LeadershipChange) => void): () => void;
  /**
   * The same changes as an async iterator, from the moment it is created until the election has stopped (then it
   * ends). It buffers up to 10 000 changes for a consumer that does not pull; past that, `next()` rejects.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<LeadershipChange>;
  /**
   * Runs `work` once for each term this replica leads, with a signal that aborts when the term ends: no later than the
   * last successful renew + renew deadline (from a timer on the monotonic clock; after a pause of the process, at the
   * first instant it runs, or at once when it reads {@link state} or {@link leadingUntil}), at once on a lost lock
   * or on {@link stop}. Other replicas wait at least a lease duration from that renew before they take over, so the
   * work has lease duration − renew deadline (5 s with the defaults) to stop: this is the guarantee client-go leaves
   * to `OnStartedLeading`'s caller. `signal.reason` is a {@link NotLeadingError}.
   *
   * A rejection after the signal aborted is taken as the work's way to stop; one before is the app's error, and the
   * returned promise rejects with it (the election goes on: call {@link stop} to hand over). Work that returns while
   * still leading runs again only in a later term. Resolves once the election has stopped (or `options.signal`
   * aborted) and the last run has settled.
   */
  runWhileLeading(work: (signal: AbortSignal) => Promise<void>, options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * While leading, the instant this replica stops leading unless it renews, on the monotonic clock of
   * `performance.now()` (milliseconds): its last successful renew + renew deadline; `undefined` while not leading.
   * Check it before an action that must not happen without leadership (`leadingUntil() - performance.now()` is the
   * time left).
   */
  leadingUntil(): number | undefined;
  /**
   * Why a liveness probe should fail, or `undefined`: a leader that has not renewed for longer than the renew deadline
   * plus 20 s, or an election step stuck for as long (client-go's HealthzAdaptor).
   */
  unhealthyReason(): string | undefined;
}

/** What the sidecar's CLI adds to an election; not part of the public API. */
export interface SidecarExtras {
  /** `--candidate-check`: whether this replica may acquire and keep the lock. */
  candidacy?: Candidacy;
  /** Awaited on stop before the release, beside the library's own wait for leader work (same bound). */
  beforeRelease?: (signal: AbortSignal) => Promise<void>;
  /** Awaited on stop after the release, beside the leader label's and the events' settling. */
  afterRelease?: () => Promise<unknown>;
  /** The environment defaults come from (`POD_NAME`, `POD_NAMESPACE`, `NODE_NAME`, `KUBECONFIG`, `HOME`). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Creates one replica's election, not yet started. Throws a {@link UsageError} naming the option for an invalid
 * option or unusable default credentials; never contacts the API server before {@link Election.start}.
 *
 * ```ts
 * const election = createElection({ election: 'nightly-report' });
 * election.start();
 * await election.runWhileLeading((signal) => report(signal));
 * ```
 */
export function createElection(options: ElectionOptions): Election {
  return openElection(options).election;
}

/** createElection, also returning the elector for the sidecar's own features (the notifier, HTTP). */
export function openElection(
  options: ElectionOptions,
  extras: SidecarExtras = {},
): { election: Election; elector: Elector } {
  const env = extras.env ?? process.env;
  const resolved = resolveOptions(options, env);
  const { election: name, identity, lock: kind, timings } = resolved;
  const kubeConfig = reusingConnections(
    resolved.kubeConfig ?? loadKubeConfig(undefined, 'kubeConfig', env, 'the kubeConfig option'),
  );
  const namespace = resolved.namespace ?? defaultNamespace(kubeConfig);
  const log = resolved.log ?? createLogger('warn', { election: name, namespace, id: identity }, 2);
  // client-go bounds each API call so: a hung request must not eat the renew deadline.
  const requestTimeoutMs = Math.max(1000, timings.renewDeadlineMs / 2);

  const metrics = new ElectionMetrics(name, resolved.metrics ?? new Registry());
  /** The lock object's uid once known, for the events' involvedObject. */
  let lockUid: string | undefined;
  const lock = instrumentLock(
    createLock(kubeConfig, { kind, namespace, name, requestTimeoutMs }),
    metrics,
    (written) => {
      lockUid = (written.object as { metadata?: { uid?: string } } | undefined)?.metadata?.uid ?? lockUid;
      if (written.record?.holderIdentity === identity && written.record.renewTime)
        metrics.renewed(written.record.renewTime);
    },
  );
  const leaderWork = new RunningWork();
  const elector = new Elector({
    lock,
    identity,
    log,
    ...timings,
    onSlowPath: () => metrics.slowPathTaken(),
    onIdentityClash: () => metrics.identityClash(),
    ...(extras.candidacy ? { candidacy: extras.candidacy } : {}),
    // Stop before release: leader work (and the sidecar's local hooks) stop before anyone else can start.
    beforeRelease: async (signal) => {
      await Promise.all([leaderWork.settled(), extras.beforeRelease?.(signal)]);
    },
  });
  // First listener: leader work hears that its term ended before any other part does.
  const election = new LibraryElection({
    elector,
    leaderWork,
    log,
    signal: resolved.signal,
    start: () => leaderLabel?.start(elector),
    // The label comes off this Pod and "stopped leading" is recorded, each within the renew deadline.
    afterRelease: async () => {
      await Promise.all([
        leaderLabel?.settle(timings.renewDeadlineMs),
        events?.shutdown(timings.renewDeadlineMs),
        extras.afterRelease?.(),
      ]);
      leaderLabel?.stop();
    },
  });
  elector.subscribe((change) => metrics.record(change));

  const events = resolved.events
    ? new EventRecorder({
        sink: new KubeEventSink(kubeConfig, requestTimeoutMs),
        involvedObject: () => lockReference(kind, namespace, name, lockUid),
        source: { component: 'leaderhook', ...(env.NODE_NAME ? { host: env.NODE_NAME } : {}) },
        log: childLog(log, { part: 'events' }),
      })
    : undefined;
  events?.recordLeadership(elector);
  const leaderLabel = resolved.leaderLabel
    ? new LeaderLabelReconciler({
        api: new KubePodLabelApi(kubeConfig, env.POD_NAMESPACE || namespace, requestTimeoutMs),
        label: resolved.leaderLabel,
        podName: identity,
        identity,
        log: childLog(log, { part: 'leader-label' }),
        retryBaseMs: timings.retryPeriodMs,
        retryCapMs: Math.max(timings.leaseDurationMs, 10_000),
        resyncMs: 30_000,
      })
    : undefined;
  return { election, elector };
}

/** One term of leadership: its signal aborts when the term ends. */
interface Term {
  readonly controller: AbortController;
  cancelTimer: () => void;
}

class LibraryElection implements Election {
  readonly #elector: Elector;
  readonly #log: Log;
  readonly #startFeatures: () => void;
  readonly #afterRelease: () => Promise<void>;
  #started = false;
  #stopping: Promise<void> | undefined;
  #term: Term | undefined;
  /** Callers of runWhileLeading waiting for the next term (resolved with it, or `undefined` once stopped). */
  readonly #termWaiters = new Set<(term: Term | undefined) => void>();
  readonly #leaderWork: RunningWork;
  readonly #ended: Promise<void>;
  #end: () => void = () => {};

  constructor(parts: ElectionParts) {
    this.#elector = parts.elector;
    this.#leaderWork = parts.leaderWork;
    this.#log = parts.log;
    this.#startFeatures = parts.start;
    this.#afterRelease = parts.afterRelease;
    this.#ended = new Promise((resolve) => (this.#end = resolve));
    this.#elector.subscribe((change) => this.#onChange(change));
    parts.signal?.addEventListener('abort', () => void this.stop(), { once: true });
    if (parts.signal?.aborted) void this.stop();
  }

  get identity(): string {
    return this.#elector.identity;
  }

  get state(): LeadershipSnapshot {
    return this.#elector.snapshot();
  }

  start(): void {
    if (this.#stopping || this.#started) return;
    this.#started = true;
    this.#elector.start();
    this.#startFeatures();
  }

  stop({ release = true }: { release?: boolean } = {}): Promise<void> {
    this.#stopping ??= (async () => {
      try {
        if (this.#started) {
          await this.#elector.stop({ release });
          await this.#afterRelease();
        }
      } finally {
        for (const waiter of this.#termWaiters) waiter(undefined);
        this.#termWaiters.clear();
        this.#end();
      }
    })();
    return this.#stopping;
  }

  subscribe(listener: (change: LeadershipChange) => void): () => void {
    return this.#elector.subscribe(listener);
  }

  leadingUntil(): number | undefined {
    return this.#elector.leadingUntil();
  }

  unhealthyReason(): string | undefined {
    return this.#elector.unhealthyReason();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<LeadershipChange> {
    const buffered: LeadershipChange[] = [];
    let overflowed = false;
    let ended = this.#stopping !== undefined;
    let wake: (() => void) | undefined;
    const unsubscribe = this.#elector.subscribe((change) => {
      if (buffered.length >= MAX_BUFFERED_CHANGES) {
        overflowed = true;
        unsubscribe();
      } else {
        buffered.push(change);
      }
      wake?.();
    });
    void this.#ended.then(() => {
      ended = true;
      wake?.();
    });
    const finish = (): IteratorReturnResult<undefined> => {
      unsubscribe();
      buffered.length = 0;
      ended = true;
      return { done: true, value: undefined };
    };
    const iterator: AsyncIterableIterator<LeadershipChange> = {
      next: async () => {
        for (;;) {
          const change = buffered.shift();
          if (change) return { done: false, value: change };
          if (overflowed) {
            finish();
            throw new Error(`the consumer fell ${MAX_BUFFERED_CHANGES} leadership changes behind`);
          }
          if (ended) return finish();
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      },
      return: () => Promise.resolve(finish()),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  async runWhileLeading(
    work: (signal: AbortSignal) => Promise<void>,
    { signal }: { signal?: AbortSignal } = {},
  ): Promise<void> {
    if (typeof work !== 'function') throw new TypeError('runWhileLeading: work must be a function');
    for (;;) {
      const term = await this.#nextTerm(signal);
      if (!term) return;
      const runSignal = signal ? AbortSignal.any([term.controller.signal, signal]) : term.controller.signal;
      const run = this.#leaderWork.track(work, runSignal);
      try {
        await run;
      } catch (error) {
        if (!runSignal.aborted) throw error;
        this.#log.debug({ err: error }, 'leader work ended after its signal aborted');
      }
      // Work that finished early waits for the end of its term; the next run belongs to a new term.
      if (!runSignal.aborted) await aborted(runSignal);
    }
  }

  /** The current term, else the next one; `undefined` once stopped or when `signal` aborts first. */
  #nextTerm(signal: AbortSignal | undefined): Promise<Term | undefined> {
    if (this.#stopping || signal?.aborted) return Promise.resolve(undefined);
    if (this.#term && this.#elector.leadingUntil() !== undefined) return Promise.resolve(this.#term);
    return new Promise((resolve) => {
      const onAbort = () => done(undefined);
      const done = (term: Term | undefined) => {
        this.#termWaiters.delete(done);
        signal?.removeEventListener('abort', onAbort);
        resolve(term);
      };
      this.#termWaiters.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #onChange(change: LeadershipChange): void {
    if (change.type === 'started') {
      this.#endTerm('lost');
      const term: Term = { controller: new AbortController(), cancelTimer: () => {} };
      this.#term = term;
      this.#armDeadline(term);
      for (const waiter of [...this.#termWaiters]) waiter(term);
    } else if (change.type === 'stopped') {
      this.#endTerm(change.reason ?? 'lost');
    }
  }

  /**
   * A second guard beside the elector's own step-down: a timer at `leadingUntil()`, re-armed at each renew's new
   * bound, that ends the term once the elector no longer leads.
   */
  #armDeadline(term: Term): void {
    const until = this.#elector.leadingUntil();
    if (until === undefined) {
      if (this.#term === term) this.#endTerm('renew-deadline');
      return;
    }
    term.cancelTimer = systemClock.setTimer(until - systemClock.now(), () => this.#armDeadline(term));
  }

  #endTerm(reason: StopReason): void {
    const term = this.#term;
    if (!term) return;
    this.#term = undefined;
    term.cancelTimer();
    term.controller.abort(new NotLeadingError(reason));
  }
}

/** The runs of leader work in progress, so the release can wait for them (stop before release). */
class RunningWork {
  readonly #runs = new Set<Promise<unknown>>();

  /** Calls `work(signal)`; returns its outcome (a synchronous throw becomes a rejection). */
  track(work: (signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void> {
    const run = (async () => work(signal))();
    const settled: Promise<unknown> = run.then(
      () => this.#runs.delete(settled),
      () => this.#runs.delete(settled),
    );
    this.#runs.add(settled);
    return run;
  }

  /** Resolves once every run in progress has settled; never rejects. */
  async settled(): Promise<void> {
    await Promise.all(this.#runs);
  }
}

interface ElectionParts {
  elector: Elector;
  leaderWork: RunningWork;
  log: Log;
  signal: AbortSignal | undefined;
  /** Starts the features that follow the election once it runs. */
  start: () => void;
  afterRelease: () => Promise<void>;
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
