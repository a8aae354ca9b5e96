import type { Election } from './election.ts';
import { openElection } from './open-election.ts';
import type { ElectionOptions } from './options.ts';

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
