import type { LockKind } from '../lock/types.ts';

/**
 * One leadership change, as every consumer (HTTP, metrics, notifier) receives it.
 * - `started`: this replica became leader;
 * - `stopped`: this replica stopped leading (lost the lock, could not renew in time, or shuts down);
 * - `leader-changed`: the election's leader changed as seen here, including to no leader (`leader` is `''`): only
 *   when the lock was seen free or gone, a read confirmed that the holder's lease ran out, or another holder was
 *   seen. A replica that stops leading keeps reporting itself (the record's holder) with `isLeader` false until then.
 */
type LeadershipChangeType = 'started' | 'stopped' | 'leader-changed';

export type StopReason =
  | 'lost' // another replica holds the lock
  | 'renew-deadline' // no successful renew within the renew deadline (API down, or this process was paused)
  | 'shutdown' // stop(): reported before the lock is released, so nobody else starts while this replica still leads
  | 'candidate-unhealthy'; // its candidacy no longer allows it to lead (--candidate-check); reported before the release

export interface LeadershipChange {
  type: LeadershipChangeType;
  leader: string;
  previousLeader: string;
  isLeader: boolean;
  /** `leaseTransitions` of the lock record the change was observed on. */
  transitions: number;
  /** The lock object's uid (`metadata.uid`) the change was observed on; `''` when the object does not exist. */
  lockUid: string;
  reason?: StopReason;
  at: Date;
}

/** The election's state as this replica knows it now. */
export interface LeadershipSnapshot {
  election: string;
  namespace: string;
  lock: LockKind;
  identity: string;
  leader: string;
  isLeader: boolean;
  transitions: number;
  /** The lock object's uid; `''` while it is unknown or the object does not exist. */
  lockUid: string;
  acquireTime: Date | null;
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
