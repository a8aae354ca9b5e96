import { KubeApiError, toKubeApiError } from '../kube-api/api-error.ts';
import { accessHint, type ApiAccess } from '../kube-api/hints.ts';
import {
  LOCK_RESOURCES,
  type LeaderElectionRecord,
  type Lock,
  type LockAnnotations,
  type LockObservation,
} from '../lock/types.ts';
import type { Log } from '../log/logger.ts';
import { backoff, jittered } from '../runtime/backoff.ts';
import { systemClock, WakeableSleep, type Clock } from '../runtime/clock.ts';
import { OnceUntilSuccess } from '../runtime/once-until-success.ts';
import { Fanout } from './changes.ts';
import type { Candidacy, LeadershipChange, LeadershipSnapshot, StopReason } from './leadership.ts';
import { LockWatcher } from './lock-watcher.ts';
import { ObservedLock, type ReadStamp } from './observed-lock.ts';
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
  /** Called each time a record naming this identity appears that this process did not write (see `Elector`). */
  onIdentityClash?: () => void;
  /**
   * Stop before release: `stop({ release: true })` calls it after every listener has heard `stopped` (reason
   * `shutdown`) and before the lock is released, so leader work (the library's, or the sidecar's local hooks) can stop
   * before anyone else can start. Not awaited past last renew + renew deadline − retry period (its
   * `signal` aborts then), which leaves a retry period for the release.
   */
  beforeRelease?: (signal: AbortSignal) => Promise<void>;
  /** Whether this replica may acquire and keep the lock; it always may without one. */
  candidacy?: Candidacy;
  /** The advice in log lines, in the words of whoever runs the election; default: {@link NEUTRAL_WORDING}. */
  wording?: ElectorWording;
}

/**
 * The log lines whose advice depends on how the election is run (the sidecar's flags and hooks, the library's options
 * and leader work): the composition that builds the Elector words them.
 */
export interface ElectorWording {
  /** Ends the identity-clash error: how to give each replica its own identity. */
  identityClashFix: string;
  /** Warned when `beforeRelease` had not settled by its bound, so the release goes ahead without it. */
  releaseWithoutAcknowledgement: string;
  /** Warned, with the error, when `beforeRelease` rejected. */
  acknowledgementFailed: string;
}

export const NEUTRAL_WORDING: ElectorWording = {
  identityClashFix: 'Give each replica its own identity (the pod name)',
  releaseWithoutAcknowledgement: 'what the release waits for had not settled when the release had to go ahead',
  acknowledgementFailed: 'waiting before the release failed',
};

/** `leaseTransitions` is an int32 in the API: the count saturates there instead of asking for a 400 forever. */
export const MAX_LEASE_TRANSITIONS = 2 ** 31 - 1;

/** How many of its own records a process remembers, to tell them from records written under its identity by others. */
const REMEMBERED_OWN_RECORDS = 64;

/**
 * How far past the renew deadline a leader, or a stuck election step, may go before `unhealthyReason` says so:
 * client-go's kube-controller-manager gives its HealthzAdaptor 20 seconds.
 */
const HEALTH_GRACE_MS = 20_000;

/**
 * The election, with client-go's tryAcquireOrRenew semantics:
 * - the observed record and the local monotonic time it was observed are kept; another machine's clock is never used;
 * - a lock is taken only when free, or when its record has not changed for a full lease duration as observed here and
 *   a read sent after that found it unchanged (client-go reads in every attempt): "no leader" is never a guess;
 * - every write is a compare-and-swap on the object's resourceVersion;
 * - the leader renews every retry period; it stops leading at its last successful renew + renew deadline at the
 *   latest, from a timer on the monotonic clock, whatever is in flight (at the first instant it runs again after a
 *   pause), then competes again; until a read shows its record free, gone, taken or expired, the leader it reports
 *   is still itself (the record's holder as last observed) with `isLeader` false — no "no leader" on a guess; it
 *   takes back its own record in the same term while that record's lease has not run out, else as a new term;
 * - on stop it stops leading first, then (after `beforeRelease`) hands the lock back as a former leader; so does a
 *   leader whose `candidacy` no longer allows it to lead, which stays in the election as a follower.
 * Unlike client-go:
 * - followers watch the lock instead of polling it, so a released lock is taken at once; a watch that missed an update
 *   (found by the read at expiry) is opened again;
 * - a record naming this identity counts as this process's own only if this process wrote it. Another process with the
 *   same identity (hostNetwork pods sharing a hostname) is an identity clash: logged, counted, and never led through;
 *   a record left by an earlier run of this replica is taken over like any other holder's, after it expires, as a new
 *   term (leaseTransitions + 1), so event ids of the two runs never collide;
 * - leaseTransitions saturates at the int32 limit.
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
  readonly #onIdentityClash: (() => void) | undefined;
  readonly #beforeRelease: ((signal: AbortSignal) => Promise<void>) | undefined;
  readonly #candidacy: Candidacy | undefined;
  readonly #wording: ElectorWording;
  #unsubscribeCandidacy: () => void = () => {};
  /** A leader that resigned (see `Candidacy.mayLead`): its last renew + renew deadline, until it has handed back. */
  #handBackBy: number | undefined;
  /** What the election needs of the API, for the line that says what to grant when a call is refused. */
  readonly #access: ApiAccess;

  readonly #observed: ObservedLock;
  /** The cache may be behind the server: read before acting (start, after a conflict, while the watch is down). */
  #stale = true;
  #writing = false;
  readonly #deferredEvents: Array<() => boolean> = [];

  #leading = false;
  /** Monotonic send time of the newest write of ours that the API confirmed. */
  #lastRenew = Number.NEGATIVE_INFINITY;
  #cancelDeadline: () => void = () => {};
  /** The records this process sent, newest last (a write refused with a conflict is forgotten). */
  readonly #ownRecords: LeaderElectionRecord[] = [];
  /** The last record naming this identity that this process did not write. */
  #foreignSelfKey: string | undefined;
  /** Until then (monotonic), another process is known to use this identity: do not lead. */
  #clashUntil = Number.NEGATIVE_INFINITY;
  #reportedLeader = '';
  /** The holder whose lock a takeover was last rehearsed on. */
  #rehearsedFor: string | undefined;
  #failures = 0;
  /** The annotations a write carries, computed from the object it replaces (`null`: a create) and the record sent. */
  #annotationsFor: LockAnnotations = () => ({});
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
    this.#onIdentityClash = options.onIdentityClash;
    this.#beforeRelease = options.beforeRelease;
    this.#candidacy = options.candidacy;
    this.#wording = options.wording ?? NEUTRAL_WORDING;
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
      onObservation: (observation) => this.#onWatchEvent(() => this.#applyObservation(observation, 'watch').applied),
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
      lockUid: this.#observed.observation?.uid ?? '',
      acquireTime: record?.acquireTime ?? null,
      renewTime: record?.renewTime ?? null,
      observedAt: this.#observed.changedAt,
      ready: this.#observed.known,
    };
  }

  /**
   * The monotonic instant (`performance.now()` milliseconds with the system clock) by which this replica stops
   * leading unless it renews: its last successful renew + renew deadline; `undefined` while it does not lead.
   * `stopped` is emitted at that instant at the latest, from a timer (after a pause, at the first instant it runs).
   */
  leadingUntil(): number | undefined {
    return this.#checkStillLeading() ? this.#lastRenew + this.#timings.renewDeadlineMs : undefined;
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

  /**
   * Where the annotations of every lock write come from (they ride on writes that happen anyway): called at the
   * moment of each write with the object it replaces (`null` for a create) and the record it sends, so they are
   * never older than the object the compare-and-swap is made on.
   */
  setOwnAnnotations(annotationsFor: LockAnnotations): void {
    this.#annotationsFor = annotationsFor;
  }

  start(): void {
    if (this.#running) return;
    this.#stopping = false;
    this.#running = this.#loop();
    this.#watcher.start();
    this.#unsubscribeCandidacy = this.#candidacy?.subscribe(() => this.#onCandidacyChange()) ?? (() => {});
  }

  /**
   * Stops competing. A leader first stops leading (every listener hears `stopped`, reason `shutdown`), so nobody can
   * start leading while it still says it leads. With `release` it then waits for `beforeRelease` (bounded by last
   * renew + renew deadline − retry period) and hands the lock back as client-go's ReleaseOnCancel does (empty holder,
   * one-second lease) so another replica takes it at once, retrying as a former leader until its lease would have run
   * out anyway.
   */
  async stop({ release }: { release: boolean }): Promise<void> {
    this.#stopping = true;
    this.#unsubscribeCandidacy();
    this.#wakeUp();
    const closeWatch = this.#watcher.stop();
    const ledUntil = this.leadingUntil();
    this.#stepDown('shutdown');
    const acknowledged =
      release && ledUntil !== undefined ? this.#acknowledge(ledUntil - this.#timings.retryPeriodMs) : undefined;
    // A request in flight ends within the lock's request timeout.
    await Promise.all([this.#running, acknowledged]);
    this.#running = undefined;
    try {
      if (release && this.#ours()) await this.#release();
    } finally {
      closeWatch();
    }
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
    if (this.#handBackBy !== undefined) {
      await this.#handBack(this.#handBackBy);
      if (this.#stopping) return 0;
    }
    if (this.#leading) {
      if (!this.#checkStillLeading()) return 0;
      if (!(this.#candidacy?.mayLead() ?? true)) {
        this.#resign();
        return 0;
      }
      await this.#renew();
      return this.#checkStillLeading() ? retryPeriodMs : 0;
    }
    this.#reportLeader();
    // The holder's lease ran out as observed here: read before believing it (the watch may have gone silent). Our
    // own record, once we no longer lead on it, too: "no leader" only after a read.
    const confirming = this.#observed.needsConfirmation(false);
    if (this.#stale || !this.#watcher.healthy || confirming) {
      const { ok, changed } = await this.#read();
      if (!ok) return this.#failureDelay();
      if (confirming && changed && this.#watcher.healthy) {
        this.#log.debug({ lock: this.#describeLock() }, 'the watch missed an update of the lock; watching again');
        this.#watcher.restart();
      }
    }
    if (this.#clashing()) return this.#followerDelay();
    if (this.#observed.acquirable(this.#ours()) && this.#mayAcquire()) {
      await this.#acquire();
      // A candidacy lost while the write was in flight is acted on at once, in the next step.
      if (this.#leading) return (this.#candidacy?.mayLead() ?? true) ? retryPeriodMs : 0;
      if (this.#failures > 0) return this.#failureDelay();
    }
    this.#rehearseTakeover();
    return this.#followerDelay();
  }

  /**
   * Once per holder this replica follows, the takeover write is built and dropped unsent (`Lock.rehearseUpdate`): a
   * follower's first write is otherwise code it never ran, compiled on first use while the lock waits for it.
   */
  #rehearseTakeover(): void {
    const previous = this.#observed.observation;
    const holder = previous?.record?.holderIdentity;
    if (!previous?.record || !holder || this.#ours() || holder === this.#rehearsedFor) return;
    this.#rehearsedFor = holder;
    const record = this.#acquireRecord(previous.record);
    void this.#lock.rehearseUpdate?.(previous, record, this.#annotationsFor(previous, record));
  }

  /** A follower sleeps until the observed record expires, or polls while it cannot watch. */
  #followerDelay(): number {
    const { retryPeriodMs } = this.#timings;
    const polling =
      this.#stale || !this.#watcher.healthy ? jittered(retryPeriodMs, this.#random) : Number.POSITIVE_INFINITY;
    // Nothing is left to learn at an expiry already confirmed: a replica that may not acquire waits for news.
    if (!this.#mayAcquire() && this.#observed.acquirable(this.#ours())) return polling;
    // A record of ours that this replica does not lead on (its write was answered past the renew deadline) is judged
    // as any holder's: nobody renews it, so it runs out, is read, and is taken like any other.
    const now = this.#clock.now();
    const expiresIn =
      Math.max(this.#clashing() ? this.#clashUntil : Number.NEGATIVE_INFINITY, this.#observed.expiresAt(false)) - now;
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

  /** Reads the lock; `changed`: the record differs from the one known before. `signal` gives the read up, quietly. */
  async #read(signal?: AbortSignal): Promise<{ ok: boolean; changed: boolean }> {
    const stamp = this.#observed.stamp();
    try {
      const observation = await this.#call(() => this.#lock.get(signal));
      const existed = this.#observed.observation !== null;
      const changed =
        observation === null
          ? this.#applyDeleted('', stamp) && existed
          : this.#applyObservation(observation, 'read', stamp).changed;
      this.#stale = false;
      return { ok: true, changed };
    } catch (error) {
      if (!signal?.aborted) this.#onApiError('get', error);
      return { ok: false, changed: false };
    }
  }

  /** The record an acquire writes over `old`: a new term unless it continues this process's own (see below). */
  #acquireRecord(old: LeaderElectionRecord | null): LeaderElectionRecord {
    const now = this.#clock.date();
    // Our own record continues our term only while its lease has not run out as observed here (from when this
    // record was first seen, as any holder's): after that another replica may have reported the election without a
    // leader, so taking it back starts a new term, and a term's leader changes to its holder once and to "no leader"
    // at most once.
    const continued = this.#ours() && this.#clock.now() < this.#observed.expiresAt(false);
    return {
      holderIdentity: this.#identity,
      leaseDurationSeconds: this.#leaseDurationSeconds,
      acquireTime: continued && old?.acquireTime ? old.acquireTime : now,
      renewTime: now,
      leaderTransitions:
        continued && old ? old.leaderTransitions : old ? Math.min(old.leaderTransitions + 1, MAX_LEASE_TRANSITIONS) : 0,
    };
  }

  async #acquire(): Promise<void> {
    const previous = this.#observed.observation;
    const record = this.#acquireRecord(previous?.record ?? null);
    const sentAt = this.#clock.now();
    this.#rememberOwn(record);
    const verb = previous ? 'update' : 'create';
    try {
      await this.#write(
        () =>
          previous
            ? this.#lock.update(previous, record, this.#annotationsFor(previous, record))
            : this.#lock.create(record, this.#annotationsFor(null, record)),
        (written) => {
          // Reported once it leads (or after it declines to), so `started` comes before the leader change to itself.
          this.#applyObservation(written, 'write', undefined, false);
          this.#renewed(sentAt);
          this.#becomeLeader();
          this.#reportLeader();
        },
      );
    } catch (error) {
      this.#forgetOwn(record, error);
      this.#onApiError(verb, error);
    }
  }

  async #renew(): Promise<void> {
    const previous = this.#observed.observation;
    const old = previous?.record;
    if (!previous || !old || !this.#ours()) {
      this.#stepDown('lost');
      return;
    }
    try {
      await this.#writeRenewal(previous, old);
    } catch (error) {
      this.#onApiError('update', error);
      if (!(error instanceof KubeApiError && error.kind === 'conflict') || this.#stopping || !this.#leading) return;
      // Somebody else wrote: read what they wrote; if they took the lock we step down (in #applyObservation), else
      // renew on it at once — client-go's slow path: the cached object was stale but the lock is still ours.
      if (!(await this.#read()).ok || !this.#leading) return;
      const current = this.#observed.observation;
      const record = current?.record;
      if (!current || !record || !this.#ours()) return;
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
    this.#rememberOwn(record);
    try {
      await this.#write(
        () => this.#lock.update(previous, record, this.#annotationsFor(previous, record)),
        (written) => {
          this.#applyObservation(written, 'write');
          this.#renewed(sentAt);
        },
      );
    } catch (error) {
      this.#forgetOwn(record, error);
      throw error;
    }
  }

  /** A write of ours sent at `sentAt` succeeded: the renew deadline runs from there. */
  #renewed(sentAt: number): void {
    if (sentAt > this.#lastRenew) this.#lastRenew = sentAt;
    if (!this.#leading) return;
    this.#cancelDeadline();
    this.#cancelDeadline = this.#clock.setTimer(
      this.#lastRenew + this.#timings.renewDeadlineMs - this.#clock.now(),
      () => this.#checkStillLeading(),
    );
  }

  /** Waits for `beforeRelease` until `until` (monotonic) at the latest. */
  async #acknowledge(until: number): Promise<void> {
    const beforeRelease = this.#beforeRelease;
    const leftMs = until - this.#clock.now();
    if (!beforeRelease || leftMs <= 0) return;
    const controller = new AbortController();
    const cancel = this.#clock.setTimer(leftMs, () => controller.abort(new Error('the release cannot wait longer')));
    const aborted = new Promise<void>((resolve) =>
      controller.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    try {
      await Promise.race([
        beforeRelease(controller.signal).catch((error: unknown) =>
          this.#log.warn({ err: error }, this.#wording.acknowledgementFailed),
        ),
        aborted,
      ]);
    } finally {
      cancel();
    }
    if (controller.signal.aborted) {
      this.#log.warn({ waitedMs: Math.round(leftMs) }, this.#wording.releaseWithoutAcknowledgement);
    }
  }

  /**
   * Hands the lock back (client-go's ReleaseOnCancel record), as a former leader: retries until our lease would have
   * run out for everyone anyway (last renew + lease duration), and is given up then even with a request in flight (its
   * answer no longer matters: compare-and-swap never hands back a lock someone took).
   */
  async #release(): Promise<void> {
    const deadline = this.#lastRenew + this.#timings.leaseDurationMs;
    // Giving up ends the request in flight and the attempts: nothing is sent or logged after stop() resolves.
    const giveUp = new AbortController();
    const outOfTime = new Promise<false>((resolve) =>
      giveUp.signal.addEventListener('abort', () => resolve(false), { once: true }),
    );
    const cancelTimer = this.#clock.setTimer(Math.max(0, deadline - this.#clock.now()), () => giveUp.abort());
    const done = await Promise.race([this.#releaseAttempts(deadline, giveUp.signal), outOfTime]);
    cancelTimer();
    if (!done)
      this.#log.warn({ lock: this.#describeLock() }, 'could not release the lock; it expires after the lease duration');
  }

  /** Release writes until one lands, the lock is no longer ours, or `deadline` passes or `giveUp` aborts (`false`). */
  async #releaseAttempts(deadline: number, giveUp: AbortSignal): Promise<boolean> {
    for (let attempt = 0; attempt === 0 || this.#clock.now() < deadline; attempt++) {
      const previous = this.#observed.observation;
      const old = previous?.record;
      if (!previous || !old || !this.#ours()) return true;
      const now = this.#clock.date();
      const record: LeaderElectionRecord = {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
        leaderTransitions: old.leaderTransitions,
      };
      try {
        await this.#write(
          () => this.#lock.update(previous, record, this.#annotationsFor(previous, record), giveUp),
          (released) => {
            this.#log.info({ lock: this.#describeLock() }, 'released the lock');
            this.#applyObservation(released, 'write');
          },
        );
        return true;
      } catch (error) {
        if (giveUp.aborted) break;
        this.#onApiError('update', error);
        if (this.#clock.now() >= deadline) break;
        if (!(error instanceof KubeApiError && error.kind === 'conflict')) {
          // Not the loop's sleeper: an attempt given up at the deadline must not take over the loop's sleep.
          const pauseMs = Math.max(0, Math.min(this.#timings.retryPeriodMs, deadline - this.#clock.now()));
          await new Promise<void>((resolve) => this.#clock.setTimer(pauseMs, resolve));
        }
        if (giveUp.aborted) break;
        await this.#read(giveUp);
      }
    }
    return false;
  }

  /** Both answers: one that would resign at once must not take the lock (it would take and release it in a loop). */
  #mayAcquire(): boolean {
    return this.#candidacy ? this.#candidacy.mayAcquire() && this.#candidacy.mayLead() : true;
  }

  #onCandidacyChange(): void {
    if (this.#stopping) return;
    if (this.#leading && !(this.#candidacy?.mayLead() ?? true)) this.#resign();
    else if (!this.#leading) this.#wakeUp();
  }

  /** Stops leading now; the election loop hands the lock back (see `#handBack`) before it competes again. */
  #resign(): void {
    const ledUntil = this.leadingUntil();
    if (ledUntil === undefined) return;
    this.#stepDown('candidate-unhealthy');
    this.#handBackBy = ledUntil;
    this.#wakeUp();
  }

  /**
   * A resigned leader's release, in the order of `stop({ release: true })`: `beforeRelease` (bounded by last renew +
   * renew deadline − retry period), then the release as a former leader. Stopping takes over the release.
   */
  async #handBack(ledUntil: number): Promise<void> {
    await this.#acknowledge(ledUntil - this.#timings.retryPeriodMs);
    this.#handBackBy = undefined;
    if (!this.#stopping && this.#ours()) await this.#release();
  }

  /** The step-down rule for a leader that stopped renewing, also checked before answering as leader. */
  #checkStillLeading(): boolean {
    if (!this.#leading) return false;
    const since = this.#clock.now() - this.#lastRenew;
    if (since < this.#timings.renewDeadlineMs) return true;
    this.#log.warn(
      { sinceLastRenewMs: Math.round(since), renewDeadlineMs: this.#timings.renewDeadlineMs },
      'failed to renew the lease within the renew deadline; stepping down',
    );
    this.#stepDown('renew-deadline');
    this.#stale = true;
    return false;
  }

  #becomeLeader(): void {
    // A write that took longer than the renew deadline is no base to lead on; nor is a stopping or clashing process.
    if (
      this.#leading ||
      this.#stopping ||
      this.#clashing() ||
      this.#clock.now() - this.#lastRenew >= this.#timings.renewDeadlineMs
    )
      return;
    this.#leading = true;
    this.#renewed(this.#lastRenew);
    this.#log.info({ identity: this.#identity, transitions: this.#transitions() }, 'became leader');
    this.#emit('started');
    this.#reportLeader();
  }

  #stepDown(reason: StopReason): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.#cancelDeadline();
    this.#log.info({ identity: this.#identity, reason }, 'stopped leading');
    this.#emit('stopped', reason);
    this.#reportLeader();
  }

  #transitions(): number {
    return this.#observed.record?.leaderTransitions ?? 0;
  }

  /**
   * The leader as known here: ourselves while leading, else the record's holder until the record is seen free or
   * gone, or its lease has run out as observed here and a read has confirmed it. A record of ours that we no longer
   * lead on (a step-down at the renew deadline) follows the same rule: as client-go's observed record after
   * OnStoppedLeading, it names the last holder (us, with `isLeader: false`) until a read shows otherwise, so a
   * step-down is never reported as "no leader" on a guess.
   */
  #currentLeader(): string {
    if (this.#leading) return this.#identity;
    const holder = this.#observed.record?.holderIdentity ?? '';
    return holder === '' || this.#observed.expired(false) ? '' : holder;
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
      lockUid: this.#observed.observation?.uid ?? '',
      ...(reason ? { reason } : {}),
      at: this.#clock.date(),
    });
  }

  /**
   * `applied` is false for an observation already applied (e.g. the watch echo of our own write) or older than what
   * is known (a read answered after a newer watch event).
   */
  #applyObservation(
    observation: LockObservation,
    source: 'read' | 'write' | 'watch',
    read?: ReadStamp,
    report = true,
  ): { applied: boolean; changed: boolean } {
    const result = this.#observed.apply(observation, source, read);
    if (!result.applied) return result;
    const record = observation.record;
    if (record?.holderIdentity === this.#identity && !this.#ours()) this.#foreignSelf(record);
    if (this.#leading && !this.#ours()) this.#stepDown('lost');
    if (report) this.#reportLeader();
    return result;
  }

  /** The lock's record names this identity and this process wrote it. */
  #ours(): boolean {
    const record = this.#observed.record;
    return (
      record !== null &&
      record.holderIdentity === this.#identity &&
      this.#ownRecords.some((own) => sameRecord(own, record))
    );
  }

  #rememberOwn(record: LeaderElectionRecord): void {
    this.#ownRecords.push(record);
    if (this.#ownRecords.length > REMEMBERED_OWN_RECORDS) this.#ownRecords.shift();
  }

  /** A write refused with a conflict was not applied: its record is not ours (another process may write the same). */
  #forgetOwn(record: LeaderElectionRecord, error: unknown): void {
    if (!(error instanceof KubeApiError && error.kind === 'conflict')) return;
    const index = this.#ownRecords.lastIndexOf(record);
    if (index >= 0) this.#ownRecords.splice(index, 1);
  }

  #clashing(): boolean {
    return this.#clock.now() < this.#clashUntil;
  }

  /**
   * A record naming this identity that this process did not write. The first one, before this process wrote any,
   * may be an earlier run's (a restart): taken over once it expires. Any further one means another live process
   * writes under this identity.
   */
  #foreignSelf(record: LeaderElectionRecord): void {
    const key = JSON.stringify([record.leaderTransitions, record.acquireTime?.getTime(), record.renewTime?.getTime()]);
    if (key === this.#foreignSelfKey) return;
    const inherited = this.#foreignSelfKey === undefined && this.#ownRecords.length === 0;
    this.#foreignSelfKey = key;
    if (inherited) {
      this.#log.warn(
        { identity: this.#identity, lock: this.#describeLock() },
        'the lock names this identity, but this process did not write it (an earlier run, or another process with the same identity): waiting for it to expire as any holder',
      );
      return;
    }
    const ongoing = this.#clashing();
    this.#clashUntil = this.#clock.now() + this.#timings.leaseDurationMs;
    this.#onIdentityClash?.();
    if (ongoing) return;
    this.#log.error(
      { identity: this.#identity, lock: this.#describeLock() },
      `another process writes the lock under this replica's identity "${this.#identity}": identities must be unique. ${this.#wording.identityClashFix}; the hostname fallback collides when pods share a node's network (hostNetwork). Not leading while the clash lasts`,
    );
  }

  /** Returns false for a deletion already applied, or older than what is known. */
  #applyDeleted(resourceVersion: string, read?: ReadStamp): boolean {
    if (!this.#observed.applyDeleted(resourceVersion, read)) return false;
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

  /**
   * Sends a write; `applyAnswer` applies its answer before the watch events that came meanwhile (a watch event can
   * beat the write's answer: the echo of our own acquire must not report us as leader before we lead).
   */
  async #write(write: () => Promise<LockObservation>, applyAnswer: (written: LockObservation) => void): Promise<void> {
    this.#writing = true;
    try {
      applyAnswer(await this.#call(write));
    } finally {
      this.#writing = false;
      let changed = false;
      for (const apply of this.#deferredEvents.splice(0)) changed = apply() || changed;
      if (changed && !this.#leading) this.#wakeUp();
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

/**
 * Whether an observed record is one this process sent: same holder and count, same times — to the millisecond where
 * the lock keeps them (Lease MicroTime), to the second where it keeps whole seconds (the annotation locks).
 */
function sameRecord(sent: LeaderElectionRecord, observed: LeaderElectionRecord): boolean {
  if (sent.holderIdentity !== observed.holderIdentity || sent.leaderTransitions !== observed.leaderTransitions)
    return false;
  const same = (a: Date | null, b: Date | null) => {
    if (!a || !b) return a === b;
    return b.getTime() % 1000 === 0
      ? Math.floor(a.getTime() / 1000) === b.getTime() / 1000
      : a.getTime() === b.getTime();
  };
  return same(sent.acquireTime, observed.acquireTime) && same(sent.renewTime, observed.renewTime);
}
