// The library's election and its in-process features, composed once for createElection and for the sidecar's CLI.
import { Registry } from 'prom-client';
import { UsageError } from '../config/usage-error.ts';
import { Elector, type ElectorWording } from '../election/elector.ts';
import type { LeadershipChange, LeadershipSnapshot, StopReason } from '../election/leadership.ts';
import { KubeEventSink } from '../events/event-sink.ts';
import { EventRecorder } from '../events/recorder.ts';
import { checkCredentials, defaultNamespace, loadKubeConfig, reusingConnections } from '../kube-api/kubeconfig.ts';
import { KubePodLabelApi } from '../leader-pod/pod-api.ts';
import { LeaderLabelReconciler } from '../leader-pod/reconciler.ts';
import { createLock } from '../lock/create-lock.ts';
import { lockReference } from '../lock/types.ts';
import { childLog, createLogger, type Log } from '../log/logger.ts';
import { ElectionMetrics, IncompatibleMetricError } from '../metrics/election-metrics.ts';
import { instrumentLock } from '../metrics/instrumented-lock.ts';
import { systemClock } from '../runtime/clock.ts';
import { NotLeadingError, type Election } from './election.ts';
import { resolveOptions, type ElectionOptions } from './options.ts';

/** How many changes an async iterator holds for a consumer that does not pull; past that it fails. */
const MAX_BUFFERED_CHANGES = 10_000;

/** The advice in log lines of the election and its features, in the words of whoever runs it. */
export interface ElectionWording extends ElectorWording {
  /** Follows "pod … not found in namespace …": which settings name the pod the leader label goes on. */
  missingLeaderPod: string;
}

/** The election's advice in the library's words: its options, its leader work. */
export const LIBRARY_WORDING: ElectionWording = {
  identityClashFix: "Set createElection's identity option (or POD_NAME from the downward API) to the pod name",
  releaseWithoutAcknowledgement:
    'the leader work (runWhileLeading) had not returned after its signal aborted when the release had to go ahead',
  acknowledgementFailed: 'waiting for the leader work before the release failed',
  missingLeaderPod:
    'the leaderLabel option labels the pod named by the identity option (default $POD_NAME) in $POD_NAMESPACE; set ' +
    'both from the Downward API',
};

/** What the sidecar's CLI adds to an election; not part of the public API. */
export interface SidecarExtras {
  /** The election's advice in the sidecar's words (its flags, its local hooks). Default: {@link LIBRARY_WORDING}. */
  wording?: ElectionWording;
  /** Awaited on stop before the release, beside the library's own wait for leader work (same bound). */
  beforeRelease?: (signal: AbortSignal) => Promise<void>;
  /** Awaited on stop after the release, beside the leader label's and the events' settling. */
  afterRelease?: () => Promise<unknown>;
  /** The environment defaults come from (`POD_NAME`, `POD_NAMESPACE`, `NODE_NAME`, `KUBECONFIG`, `HOME`). */
  env?: NodeJS.ProcessEnv;
}

/** `createElection`, also returning the elector for the sidecar's own features (the notifier, HTTP). */
export function openElection(
  options: ElectionOptions,
  extras: SidecarExtras = {},
): { election: Election; elector: Elector } {
  const env = extras.env ?? process.env;
  const wording = extras.wording ?? LIBRARY_WORDING;
  const resolved = resolveOptions(options, env);
  const { election: name, identity, lock: kind, timings } = resolved;
  // A KubeConfig from the app is checked as a loaded one is: no credentials in the URL, its files bounded.
  if (resolved.kubeConfig) checkCredentials(resolved.kubeConfig, 'kubeConfig');
  const kubeConfig = reusingConnections(
    resolved.kubeConfig ?? loadKubeConfig(undefined, 'kubeConfig', env, 'the kubeConfig option'),
  );
  const namespace = resolved.namespace ?? defaultNamespace(kubeConfig);
  const log = resolved.log ?? createLogger('warn', { election: name, namespace, id: identity }, 2);
  // client-go bounds each API call so: a hung request must not eat the renew deadline.
  const requestTimeoutMs = Math.max(1000, timings.renewDeadlineMs / 2);

  const metrics = electionMetrics(name, resolved.metrics);
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
    ...(resolved.candidate ? { candidacy: resolved.candidate } : {}),
    wording,
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
    // Events wait until the lock is released: "stopped leading" is made at once but written after the release.
    beforeStop: () => events?.hold(),
    // The label comes off this Pod and "stopped leading" is recorded, each within the renew deadline.
    afterRelease: async () => {
      events?.resume();
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
        missingPodAdvice: wording.missingLeaderPod,
      })
    : undefined;
  return { election, elector };
}

/** The election's metrics in the app's registry, else in their own; a clash with the app's metrics is a UsageError. */
function electionMetrics(election: string, registry: Registry | undefined): ElectionMetrics {
  try {
    return new ElectionMetrics(election, registry ?? new Registry());
  } catch (error) {
    if (error instanceof IncompatibleMetricError) throw new UsageError('metrics', error.message);
    throw error;
  }
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
  readonly #beforeStop: () => void;
  readonly #afterRelease: () => Promise<void>;
  #started = false;
  #stopping: Promise<void> | undefined;
  /** Set once stop() has finished: the change stream has ended. */
  #stopped = false;
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
    this.#beforeStop = parts.beforeStop;
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
          this.#beforeStop();
          await this.#elector.stop({ release });
          await this.#afterRelease();
        }
      } finally {
        for (const waiter of this.#termWaiters) waiter(undefined);
        this.#termWaiters.clear();
        this.#stopped = true;
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
    // Changes emitted while stop() is in progress (`stopped`, the release's `leader-changed`) still belong here.
    let ended = this.#stopped;
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
      wake?.();
      return { done: true, value: undefined };
    };
    const pull = async (): Promise<IteratorResult<LeadershipChange, undefined>> => {
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
    };
    /** The pull in progress: calls of next() made before it settles are answered after it, in order. */
    let pulled: Promise<unknown> = Promise.resolve();
    const iterator: AsyncIterableIterator<LeadershipChange> = {
      next: () => {
        const result = pulled.then(pull);
        pulled = result.catch(() => {});
        return result;
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
      // The term may have ended while this call waited for its turn.
      if (term.controller.signal.aborted) continue;
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
  /** Called as stop() begins, before leadership ends and the lock is released. */
  beforeStop: () => void;
  afterRelease: () => Promise<void>;
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
