/**
 * leaderhook as a library: leader election on a Kubernetes Lease inside a Node.js app, with the sidecar's
 * guarantees. Start with {@link createElection}.
 *
 * @packageDocumentation
 */
export { createElection } from './library/create-election.ts';
export { NotLeadingError, type Election } from './library/election.ts';
export type { ElectionOptions } from './library/options.ts';
export type { Candidacy, LeadershipChange, LeadershipSnapshot, StopReason } from './election/leadership.ts';
export type { LeaderLabel } from './leader-pod/label.ts';
export type { LockKind } from './lock/types.ts';
export type { Log, LogMethod } from './log/logger.ts';
export { UsageError } from './config/usage-error.ts';
