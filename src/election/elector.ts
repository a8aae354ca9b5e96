import { KubeApiError, toKubeApiError } from '../kube-api/api-error.ts';
import { accessHint, type ApiAccess } from '../kube-api/hints.ts';
import { LOCK_RESOURCES, type LeaderElectionRecord, type Lock, type LockObservation } from '../lock/types.ts';
import type { Log } from '../log/logger.ts';
import { backoff, jittered } from '../runtime/backoff.ts';
import { systemClock, WakeableSleep, type Clock } from '../runtime/clock.ts';
import { OnceUntilSuccess } from '../runtime/once-until-success.ts';
import { Fanout } from './changes.ts';
import type { LeadershipChange, LeadershipSnapshot, StopReason } from './leadership.ts';
import { LockWatcher } from './lock-watcher.ts';
import { ObservedLock } from './observed-lock.ts';
import type { ElectionTimings } from './timing.ts';

export interface ElectorOptions extends ElectionTimings {
  lock: Lock;
  /** This replica's identity, written as `holderIdentity`. */
  identity: string;
  log: Log;
  clock?: Clock;
  random?: () => number;
  /** Called when a renew had to read the lock first (client-go's slow path, `leader_election_slowpath_total`). */
  onSlowPath?: () => void;
}

/**
 * How far past the renew deadline a leader, or a stuck election step, may go before `unhealthyReason` says so:
 * client-go's kube-controller-manager gives its HealthzAdaptor 20 seconds.
 */
const HEALTH_GRACE_MS = 20_000;

/**
 * The election, with client-go's tryAcquireOrRenew semantics:
 * - the observed record and the local monotonic time it was observed are kept; another machine's clock is never used;
 * - a lock is taken only when free, or when its record has not changed for a full lease duration as observed here;
 * - every write is a compare-and-swap on the object's resourceVersion;
 * - the leader renews every retry period and steps down when it cannot renew within the renew deadline, then competes
 *   again; a leader that was paused steps down before acting on its stale belief.
 * Unlike client-go, followers watch the lock instead of polling it, so a released lock is taken at once.
 */
export class Elector {
  readonly #lock: Lock;
  readonly #identity: string;
  readonly #timings: ElectionTimings;
  /** What a record of ours says: the lease duration in whole seconds, rounded up. */
  readonly #leaseDurationSeconds: number;
  readonly #log: Log;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #changes: Fanout<LeadershipChange>;
  readonly #watcher: LockWatcher;
  readonly #onSlowPath: (() => void) | undefined;
  /** What the election needs of the API, for the line that says what to grant when a call is refused. */
  readonly #access: ApiAccess;

  readonly #observed: ObservedLock;
  /** The cache may be behind the server: read before acting (start, after a conflict, while the watch is down). */
  #stale = true;
  #writing = false;
  readonly #deferredEvents: Array<() => boolean> = [];

  #leading = false;
  #lastRenew = 0;
  #reportedLeader = '';
  #failures = 0;
  #ownAnnotations: Record<string, string> = {};
  /** One actionable log line per RBAC gap or credentials problem, until a call succeeds again. */
  readonly #accessProblem = new OnceUntilSuccess();

  /** Monotonic start of the step in progress, to tell a wedged election loop from a waiting one. */
  #stepStartedAt: number | undefined;
  #running: Promise<void> | undefined;
  #stopping = false;
  readonly #sleeper: WakeableSleep;

  constructor(options: ElectorOptions) {
    this.#lock = options.lock;
    this.#identity = options.identity;
    this.#timings = {
      leaseDurationMs: options.leaseDurationMs,
      renewDeadlineMs: options.renewDeadlineMs,
      retryPeriodMs: options.retryPeriodMs,
    };
    this.#leaseDurationSeconds = Math.ceil(options.leaseDurationMs / 1000);
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
    this.#sleeper = new WakeableSleep(this.#clock);
    this.#observed = new ObservedLock(this.#clock, options.leaseDurationMs);
    this.#random = options.random ?? Math.random;
    this.#onSlowPath = options.onSlowPath;
    const { kind, namespace, name } = this.#lock;
    const { group } = LOCK_RESOURCES[kind];
    this.#access = { resource: kind, group, namespace, name, meanwhile: 'retrying with back-off' };
    this.#changes = new Fanout((error) => this.#log.error({ err: error }, 'a leadership listener failed'));
    this.#watcher = new LockWatcher({
      lock: this.#lock,
      clock: this.#clock,
      random: this.#random,
      log: this.#log,
      retryPeriodMs: this.#timings.retryPeriodMs,
      resourceVersion: () => this.#observed.resourceVersion,
      onObservation: (observation) => this.#onWatchEvent(() => this.#applyObservation(observation, 'watch')),
      onDeleted: (resourceVersion) => this.#onWatchEvent(() => this.#applyDeleted(resourceVersion)),
      onGap: () => {
        this.#stale = true;
        this.#wakeUp();
      },
    });
  }

  get identity(): string {
    return this.#identity;
  }

  get lock(): Lock {
    return this.#lock;
  }

  /** Every leadership change, in order. Listeners run synchronously: keep them quick. */
  subscribe(listener: (change: LeadershipChange) => void): () => void {
    return this.#changes.subscribe(listener);
  }

  /** The current state. A leader past its renew deadline (e.g. after a pause) steps down here before answering. */
  snapshot(): LeadershipSnapshot {
    this.#checkStillLeading();
    this.#reportLeader();
    const record = this.#observed.record;
    return {
      election: this.#lock.name,
      namespace: this.#lock.namespace,
      lock: this.#lock.kind,
      identity: this.#identity,
      leader: this.#reportedLeader,
      isLeader: this.#leading,
      transitions: record?.leaderTransitions ?? 0,
      acquireTime: record?.acquireTime ?? null,
      renewTime: record?.renewTime ?? null,
      observedAt: this.#observed.changedAt,
      ready: this.#observed.known,
    };
  }

  /**
   * Why the kubelet should restart this replica, or `undefined`: a leader that has not renewed for longer than the
   * renew deadline plus a grace period (client-go's HealthzAdaptor), or an election step stuck for as long.
   */
  unhealthyReason(): string | undefined {
    const now = this.#clock.now();
    const limit = this.#timings.renewDeadlineMs + HEALTH_GRACE_MS;
    if (this.#leading && now - this.#lastRenew > limit)
      return `leader has not renewed the lock for ${Math.round((now - this.#lastRenew) / 1000)}s`;
    if (this.#stepStartedAt !== undefined && now - this.#stepStartedAt > limit)
      return `election step stuck for ${Math.round((now - this.#stepStartedAt) / 1000)}s`;
    return undefined;
  }

  /** leaderhook's annotations as last read from the lock object (e.g. a predecessor's delivery cursors). */
  observedAnnotations(): Record<string, string> {
    return { ...(this.#observed.observation?.annotations ?? {}) };
  }

  /** Annotations this replica writes with its next renew; they ride on writes that happen anyway. */
  setOwnAnnotations(annotations: Record<string, string>): void {
    this.#ownAnnotations = { ...annotations };
  }

  start(): void {
    if (this.#running) return;
    this.#stopping = false;
    this.#running = this.#loop();
    this.#watcher.start();
  }

  /**
   * Stops competing. With `release` the leader hands the lock back as client-go's ReleaseOnCancel does (empty holder,
   * one-second lease), so another replica takes it at once.
   */
  async stop({ release }: { release: boolean }): Promise<void> {
    this.#stopping = true;
    this.#wakeUp();
    this.#watcher.stop();
    await this.#running;
    this.#running = undefined;
    if (!this.#leading) return;
    if (!(release && (await this.#release()))) this.#stepDown('shutdown');
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      let delay: number;
      this.#stepStartedAt = this.#clock.now();
      try {
        delay = await this.#step();
      } catch (error) {
        this.#log.error({ err: error }, 'election step failed unexpectedly');
        delay = this.#timings.retryPeriodMs;
      } finally {
        this.#stepStartedAt = undefined;
      }
      if (this.#stopping) break;
      await this.#sleeper.sleep(delay);
    }
  }

  /** One round of tryAcquireOrRenew; returns how long to wait before the next one (a watch event may cut it short). */
  async #step(): Promise<number> {
    const { retryPeriodMs } = this.#timings;
    this.#reportLeader();
    if (this.#leading) {
      if (!this.#checkStillLeading()) return 0;
      await this.#renew();
      if (!this.#checkStillLeading()) return 0;
      return retryPeriodMs;
    }
    if (this.#stale || !this.#watcher.healthy) {
      if (!(await this.#read())) return this.#failureDelay();
    }
    if (this.#observed.acquirableBy(this.#identity)) {
      await this.#acquire();
      if (this.#leading) return retryPeriodMs;
      if (this.#failures > 0) return this.#failureDelay();
    }
    return this.#followerDelay();
  }

  /** A follower sleeps until the observed record expires, or polls while it cannot watch. */
  #followerDelay(): number {
    const { retryPeriodMs } = this.#timings;
    const polling =
      this.#stale || !this.#watcher.healthy ? jittered(retryPeriodMs, this.#random) : Number.POSITIVE_INFINITY;
    const expiresIn = this.#observed.expiresAt(this.#identity) - this.#clock.now();
    // A little jitter keeps candidates from all writing at the same instant; compare-and-swap decides anyway.
    const untilExpiry = Number.isFinite(expiresIn)
      ? Math.max(0, expiresIn) + this.#random() * Math.min(100, retryPeriodMs / 10)
      : Number.POSITIVE_INFINITY;
    return Math.min(polling, untilExpiry);
  }

  #failureDelay(): number {
    const { retryPeriodMs, leaseDurationMs } = this.#timings;
    return backoff(this.#failures, retryPeriodMs, Math.max(leaseDurationMs, retryPeriodMs), this.#random);
  }

  async #read(): Promise<boolean> {
    try {
      const observation = await this.#call(() => this.#lock.get());
      if (observation === null) this.#applyDeleted('');
      else this.#applyObservation(observation, 'read');
      this.#stale = false;
      return true;
    } catch (error) {
      this.#onApiError('get', error);
      return false;
    }
  }

  async #acquire(): Promise<void> {
    const previous = this.#observed.observation;
    const old = previous?.record ?? null;
    const now = this.#clock.date();
    const own = old?.holderIdentity === this.#identity;
    const record: LeaderElectionRecord = {
      holderIdentity: this.#identity,
      leaseDurationSeconds: this.#leaseDurationSeconds,
      acquireTime: own && old.acquireTime ? old.acquireTime : now,
      renewTime: now,
      leaderTransitions: own ? old.leaderTransitions : old ? old.leaderTransitions + 1 : 0,
    };
    const sentAt = this.#clock.now();
    const verb = previous ? 'update' : 'create';
    try {
      const written = await this.#write(() =>
        previous
          ? this.#lock.update(previous, record, this.#ownAnnotations)
          : this.#lock.create(record, this.#ownAnnotations),
      );
      this.#applyObservation(written, 'write');
      this.#lastRenew = sentAt;
      this.#becomeLeader();
    } catch (error) {
      this.#onApiError(verb, error);
    }
  }

  async #renew(): Promise<void> {
    const previous = this.#observed.observation;
    const old = previous?.record;
    if (!previous || !old || old.holderIdentity !== this.#identity) {
      this.#stepDown('lost');
      return;
    }
    try {
      await this.#writeRenewal(previous, old);
    } catch (error) {
      this.#onApiError('update', error);
      if (!(error instanceof KubeApiError && error.kind === 'conflict') || this.#stopping) return;
      // Somebody else wrote: read what they wrote; if they took the lock we step down (in #applyObservation), else
      // renew on it at once — client-go's slow path: the cached object was stale but the lock is still ours.
      if (!(await this.#read()) || !this.#leading) return;
      const current = this.#observed.observation;
      const record = current?.record;
      if (!current || !record || record.holderIdentity !== this.#identity) return;
      this.#onSlowPath?.();
      try {
        await this.#writeRenewal(current, record);
      } catch (retryError) {
        this.#onApiError('update', retryError);
      }
    }
  }

  async #writeRenewal(previous: LockObservation, old: LeaderElectionRecord): Promise<void> {
    const record: LeaderElectionRecord = {
      ...old,
      leaseDurationSeconds: this.#leaseDurationSeconds,
      renewTime: this.#clock.date(),
    };
    const sentAt = this.#clock.now();
    this.#applyObservation(await this.#write(() => this.#lock.update(previous, record, this.#ownAnnotations)), 'write');
    this.#lastRenew = sentAt;
  }

  async #release(): Promise<boolean> {
    const deadline = this.#clock.now() + this.#timings.renewDeadlineMs;
    while (this.#clock.now() < deadline) {
      const previous = this.#observed.observation;
      const old = previous?.record;
      if (!previous || !old || old.holderIdentity !== this.#identity) return false;
      const now = this.#clock.date();
      const record: LeaderElectionRecord = {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
        leaderTransitions: old.leaderTransitions,
      };
      try {
        const released = await this.#write(() => this.#lock.update(previous, record, this.#ownAnnotations));
        this.#log.info({ lock: this.#describeLock() }, 'released the lock');
        this.#stepDown('released');
        this.#applyObservation(released, 'write');
        return true;
      } catch (error) {
        this.#onApiError('update', error);
        if (!(error instanceof KubeApiError && error.kind === 'conflict')) {
          await this.#sleeper.sleep(Math.min(this.#timings.retryPeriodMs, deadline - this.#clock.now()));
        }
        if (!(await this.#read())) continue;
      }
    }
    this.#log.warn(
      { lock: this.#describeLock() },
      'could not release the lock within the renew deadline; it expires after the lease duration',
    );
    return false;
  }

  /** The step-down rule for a leader that stopped renewing, also checked before answering as leader. */
  #checkStillLeading(): boolean {
    if (!this.#leading) return false;
    const since = this.#clock.now() - this.#lastRenew;
    if (since <= this.#timings.renewDeadlineMs) return true;
    this.#log.warn(
      { sinceLastRenewMs: Math.round(since), renewDeadlineMs: this.#timings.renewDeadlineMs },
      'failed to renew the lease within the renew deadline; stepping down',
    );
    this.#stepDown('renew-deadline');
    this.#stale = true;
    return false;
  }

  #becomeLeader(): void {
    if (this.#leading) return;
    this.#leading = true;
    this.#log.info({ identity: this.#identity, transitions: this.#transitions() }, 'became leader');
    this.#emit('started');
    this.#reportLeader();
  }

  #stepDown(reason: StopReason): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.#log.info({ identity: this.#identity, reason }, 'stopped leading');
    this.#emit('stopped', reason);
    this.#reportLeader();
  }

  #transitions(): number {
    return this.#observed.record?.leaderTransitions ?? 0;
  }

  /** The leader as known here: ourselves while leading, else the holder while its lease has not run out. */
  #currentLeader(): string {
    if (this.#leading) return this.#identity;
    const holder = this.#observed.record?.holderIdentity ?? '';
    if (holder === '' || holder === this.#identity) return '';
    return this.#clock.now() < this.#observed.expiresAt(this.#identity) ? holder : '';
  }

  #reportLeader(): void {
    const leader = this.#currentLeader();
    if (leader === this.#reportedLeader) return;
    const previous = this.#reportedLeader;
    this.#reportedLeader = leader;
    if (leader) this.#log.info({ leader, previousLeader: previous }, 'new leader');
    else this.#log.info({ previousLeader: previous }, 'no leader');
    this.#emit('leader-changed', undefined, previous);
  }

  #emit(type: LeadershipChange['type'], reason?: StopReason, previousLeader = this.#reportedLeader): void {
    this.#changes.emit({
      type,
      leader: type === 'started' ? this.#identity : this.#currentLeader(),
      previousLeader,
      isLeader: this.#leading,
      transitions: this.#transitions(),
      ...(reason ? { reason } : {}),
      at: this.#clock.date(),
    });
  }

  /** Returns false when the observation was already applied (e.g. the watch echo of our own write). */
  #applyObservation(observation: LockObservation, source: 'read' | 'write' | 'watch'): boolean {
    if (!this.#observed.apply(observation, source === 'watch')) return false;
    const holder = observation.record?.holderIdentity ?? '';
    if (this.#leading && holder !== this.#identity) this.#stepDown('lost');
    this.#reportLeader();
    return true;
  }

  #applyDeleted(resourceVersion: string): boolean {
    if (!this.#observed.applyDeleted(resourceVersion)) return false;
    if (this.#leading) this.#stepDown('lost');
    this.#reportLeader();
    return true;
  }

  /**
   * Watch events wait while a write is in flight, so the write's answer and the events apply in server order. A
   * follower acts on a new observation at once; the leader keeps its renew cadence (it has already stepped down in
   * `#applyObservation` if someone else took the lock).
   */
  #onWatchEvent(apply: () => boolean): void {
    if (this.#writing) {
      this.#deferredEvents.push(apply);
      return;
    }
    if (apply() && !this.#leading) this.#wakeUp();
  }

  async #write(write: () => Promise<LockObservation>): Promise<LockObservation> {
    this.#writing = true;
    try {
      return await this.#call(write);
    } finally {
      this.#writing = false;
      const deferred = this.#deferredEvents.splice(0);
      // Applied on the next tick, after the caller has applied the write's own answer.
      if (deferred.length) {
        queueMicrotask(() => {
          let changed = false;
          for (const apply of deferred) changed = apply() || changed;
          if (changed && !this.#leading) this.#wakeUp();
        });
      }
    }
  }

  async #call<T>(call: () => Promise<T>): Promise<T> {
    const result = await call();
    this.#failures = 0;
    this.#accessProblem.succeeded();
    return result;
  }

  #onApiError(verb: string, error: unknown): void {
    const failure = toKubeApiError(verb, error);
    const context = { lock: this.#describeLock(), verb, status: failure.status, reason: failure.reason };
    if (failure.kind === 'conflict') {
      // Normal contention: somebody else wrote first. Re-read before the next attempt.
      this.#stale = true;
      this.#log.debug(context, 'lost a write race');
      return;
    }
    this.#failures++;
    const hint = accessHint(failure, this.#access);
    if (hint) {
      if (this.#accessProblem.first(hint)) this.#log.error(context, hint);
      return;
    }
    this.#stale = true;
    const message = `${verb} ${this.#lock.kind} failed (${failure.kind}); retrying with back-off`;
    this.#log.warn({ ...context, err: failure.message }, message);
  }

  #describeLock(): string {
    return `${this.#lock.kind}/${this.#lock.namespace}/${this.#lock.name}`;
  }

  #wakeUp(): void {
    this.#sleeper.wake();
  }
}
