// The adversary's moves for the model-based election tests (test/support/election-model.ts), as fast-check
// arbitraries: a schedule is a seed and a list of operations, shrunk to a minimal one when an invariant breaks.
import fc from 'fast-check';
import type { LinkMode, Op, Schedule } from '../support/election-model.ts';

const slot = fc.integer({ min: 0, max: 2 });
const mode = fc.constantFrom<LinkMode>('ok', 'slow', 'partition', 'lose-answers', 'fail');

const ops = (slots: fc.Arbitrary<number>): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        op: fc.constant('advance' as const),
        ms: fc.constantFrom(1, 50, 400, 1_000, 2_500, 6_000, 12_000),
      }),
    },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('net' as const), slot, mode }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('silence' as const), slot }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('close-watch' as const),
        slot,
        status: fc.constantFrom<0 | 410 | 500>(0, 410, 500),
      }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('pause' as const), slot }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('resume' as const), slot }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('sigterm' as const), slot }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('kill' as const), slot }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('start' as const), slot: slots }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('foreign' as const),
        holder: fc.constantFrom('ghost', ''),
        leaseSeconds: fc.constantFrom(1, 15, 2_147_483_647),
        transitions: fc.constantFrom<'keep' | 'max'>('keep', 'max'),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('api' as const), up: fc.boolean() }) },
  );

/** Three replicas with distinct identities. */
export const schedules: fc.Arbitrary<Schedule> = fc.record({
  seed: fc.integer({ min: 0, max: 1_000_000 }),
  ops: fc.array(ops(slot), { maxLength: 40, size: 'medium' }),
});

/** The same, and a fourth process that may start with replica 0's identity (hostNetwork pods sharing a hostname). */
export const schedulesWithTwin: fc.Arbitrary<Schedule> = fc.record({
  seed: fc.integer({ min: 0, max: 1_000_000 }),
  ops: fc.array(ops(fc.integer({ min: 0, max: 3 })), { maxLength: 40, size: 'medium' }),
});
