import type { LeadershipChange, LeadershipSnapshot, StopReason } from '../election/leadership.ts';

/**
 * Why a {@link Election.runWhileLeading} signal aborted: this replica stopped leading (`signal.reason`). `reason` is
 * `lost` (another replica holds the lock), `renew-deadline` (no successful renew within the renew deadline),
 * `shutdown` (the election was stopped) or `candidate-unhealthy` (the `candidate` option no longer lets it lead).
 */
export class NotLeadingError extends Error {
  /** Why this replica stopped leading. */
  readonly reason: StopReason;

  /** The message reads `this replica no longer leads (<reason>)`. */
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
   * left to expire after the lease duration. Resolves when done; with a hung API, at last renew + lease duration at
   * the latest (the release is given up then: the lease has run out for everyone anyway). Calling it again returns
   * the same promise.
   */
  stop(options?: { release?: boolean }): Promise<void>;
  /**
   * Every leadership change this replica observes, in order (`started`, `stopped` with its reason, `leader-changed`,
   * including to no leader); listeners run synchronously, so keep them quick. Returns the function that unsubscribes.
   */
  subscribe(listener: (change: LeadershipChange) => void): () => void;
  /**
   * The same changes as an async iterator, from the moment it is created until the election has stopped (then it
   * ends): one created while {@link stop} is in progress still yields the changes that stop makes after that. Calls of
   * `next()` made before earlier ones settled are answered in order. It buffers up to 10 000 changes for a consumer
   * that does not pull; past that, `next()` rejects.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<LeadershipChange>;
  /**
   * Runs `work` once for each term this replica leads, with a signal that aborts when the term ends: no later than the
   * last successful renew + renew deadline (from a timer on the monotonic clock; after a pause of the process, at the
   * first instant it runs, or at once when it reads {@link state} or {@link leadingUntil}), at once on a lost lock
   * or on {@link stop}; after a pause, the work's own timer may run before the one that aborts the signal, so work that
   * acts in steps checks {@link leadingUntil} (not only `signal.aborted`) before each. Other replicas wait at least a
   * lease duration from that renew before they take over, so the work has lease duration − renew deadline (5 s with
   * the defaults) to stop: this is the guarantee client-go leaves to `OnStartedLeading`'s caller. `signal.reason` is a
   * {@link NotLeadingError}.
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
