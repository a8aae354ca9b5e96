import type { LeadershipChange, LeadershipSnapshot } from '../election/changes.ts';

/** What the HTTP layer needs of the election: the current state and the stream of changes. */
export interface LeadershipSource {
  snapshot(): LeadershipSnapshot;
  subscribe(listener: (change: LeadershipChange) => void): () => void;
  /** `undefined` when healthy, else why the kubelet should restart this container. */
  unhealthyReason(): string | undefined;
}

/** The body of `GET /leader`, also sent by `/watch`. */
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

export type LeaderBody = ReturnType<typeof leaderBody>;
