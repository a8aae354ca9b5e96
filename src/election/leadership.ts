import type { LockKind } from '../lock/types.ts';

/**
 * Why this replica stopped leading (a `stopped` change's `reason`):
 * - `lost`: another replica holds the lock (or the lock object was deleted);
 * - `renew-deadline`: no successful renew within the renew deadline (API down or unreachable, or this process was
 *   paused), as client-go's leader stops when `RenewDeadline` passes;
 * - `shutdown`: stopped (SIGTERM, `stop()`): reported before the lock is released, so nobody else starts while this
 *   replica still says it leads;
 * - `candidate-unhealthy`: its candidacy no longer allows it to lead (`--candidate-check`, the library's `candidate`);
 *   reported before the release, after which it stays a follower.
 */
export type StopReason = 'lost' | 'renew-deadline' | 'shutdown' | 'candidate-unhealthy';

/** One leadership change, as every consumer (HTTP, metrics, notifier, a library user) receives it. */
export interface LeadershipChange {
  /**
   * - `started`: this replica became leader (client-go's `OnStartedLeading`);
   * - `stopped`: this replica stopped leading, for `reason` (`OnStoppedLeading`);
   * - `leader-changed`: the election's leader changed as seen here (`OnNewLeader`), including to no leader (`leader`
   *   is `''`): only when the lock was seen free or gone, a read confirmed that the holder's lease ran out, or another
   *   holder was seen. A replica that stops leading keeps reporting itself (the record's holder) with `isLeader` false
   *   until then.
   */
  type: 'started' | 'stopped' | 'leader-changed';
  /** The leader after the change: a holder identity, `''` when there is none. */
  leader: string;
  /** The leader before the change, `''` for none. */
  previousLeader: string;
  /** Whether this replica leads after the change. */
  isLeader: boolean;
  /** `leaseTransitions` of the lock record the change was observed on. */
  transitions: number;
  /** The lock object's uid (`metadata.uid`) the change was observed on; `''` when the object does not exist. */
  lockUid: string;
  /** Why this replica stopped leading: set on `stopped` changes only. */
  reason?: StopReason;
  /** When the change was observed here (wall clock, informative only). */
  at: Date;
}

/** The election's state as this replica knows it now. */
export interface LeadershipSnapshot {
  /** The lock object's name. */
  election: string;
  /** The lock object's namespace. */
  namespace: string;
  /** The lock kind. */
  lock: LockKind;
  /** This replica's identity. */
  identity: string;
  /** The current leader's identity, `''` when there is none (or its lease has run out, as a read confirmed). */
  leader: string;
  /** Whether this replica leads. */
  isLeader: boolean;
  /** The lock record's `leaseTransitions`: how many times the lock changed holders. */
  transitions: number;
  /** The lock object's uid; `''` while it is unknown or the object does not exist. */
  lockUid: string;
  /** The record's `acquireTime` (wall clock, written by the holder; informative only), `null` while unknown. */
  acquireTime: Date | null;
  /** The record's `renewTime` (wall clock, written by the holder; informative only), `null` while unknown. */
  renewTime: Date | null;
  /** Wall-clock time at which the current record was first observed here. */
  observedAt: Date | null;
  /** The lock has been read at least once. */
  ready: boolean;
}

/**
 * What every consumer of the election reads (HTTP, the notifier, Kubernetes Events, the leader label, the state file):
 * the state now and the ordered stream of changes. The elector is one.
 */
export interface LeadershipFeed {
  /** The current state; a leader past its renew deadline steps down before this answers. */
  snapshot(): LeadershipSnapshot;
  /** Every change, in order; listeners run synchronously. Returns the function that unsubscribes. */
  subscribe(listener: (change: LeadershipChange) => void): () => void;
}

/**
 * The body of `GET /leader`, also sent by `/watch` and written to `--state-file`:
 * `{leader, self, isLeader, election, namespace, lock, transitions, acquireTime, renewTime, observedAt}`, the three
 * times as RFC 3339 strings (`null` while unknown), `leader` `''` when there is none.
 */
export function leaderBody(state: LeadershipSnapshot) {
  return {
    leader: state.leader,
    self: state.identity,
    isLeader: state.isLeader,
    election: state.election,
    namespace: state.namespace,
    lock: state.lock,
    transitions: state.transitions,
    acquireTime: state.acquireTime?.toISOString() ?? null,
    renewTime: state.renewTime?.toISOString() ?? null,
    observedAt: state.observedAt?.toISOString() ?? null,
  };
}

/**
 * Whether this replica stands for election, decided outside the elector (e.g. from the main container's health, see
 * src/candidate/). The elector asks `mayAcquire` before every attempt to acquire the lock, and `mayLead` while leading
 * and whenever the `subscribe` listener runs.
 */
export interface Candidacy {
  /**
   * `false`: make no attempt to acquire the lock (create or update it), nor while `mayLead` is `false`; reading,
   * watching and reporting go on.
   */
  mayAcquire(): boolean;
  /**
   * `false` while leading: step down at once (every listener hears `stopped`, reason `candidate-unhealthy`), then hand
   * the lock back as `stop({ release: true })` does (after `beforeRelease`), and stay a follower until `mayAcquire`.
   */
  mayLead(): boolean;
  /** Calls `listener` whenever an answer may have changed; returns the function that unsubscribes. */
  subscribe(listener: () => void): () => void;
}
