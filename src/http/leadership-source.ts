import type { LeadershipChange, LeadershipSnapshot } from '../election/leadership.ts';

/** What the HTTP layer needs of the election: the current state and the stream of changes. */
export interface LeadershipSource {
  snapshot(): LeadershipSnapshot;
  subscribe(listener: (change: LeadershipChange) => void): () => void;
  /** `undefined` when healthy, else why the kubelet should restart this container. */
  unhealthyReason(): string | undefined;
}

