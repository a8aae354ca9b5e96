// Model-based tests of the election: real Elector objects on a simulated cluster (test/support/election-model.ts)
// driven by an adversarial schedule of faults, thousands of schedules per run, each checked against what a user relies
// on. A failing schedule is shrunk by fast-check to a minimal one; the ones that found a fault are kept below.
//
// More runs: LEADERHOOK_MODEL_RUNS=20000 node --test test/election/elector-model.test.ts
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { runSchedule, type Op, type Schedule } from '../support/election-model.ts';
import { schedules, schedulesWithTwin } from './model-arbitraries.ts';

const RUNS = Number(process.env.LEADERHOOK_MODEL_RUNS ?? 1500);

/** Minimal schedules that broke an invariant before the fixes of the safety work; each must hold now. */
const REGRESSIONS: Array<{ name: string; ops: Op[] }> = [
  {
    name: 'leader partitioned: its renew hangs, it still leads 3 s past last renew + renew deadline',
    ops: [
      { op: 'advance', ms: 1000 },
      { op: 'net', slot: 0, mode: 'partition' },
      { op: 'advance', ms: 12000 },
    ],
  },
  {
    name: 'API server down: renews fail at once, the leader steps down only at its next step, 290 ms late',
    ops: [
      { op: 'advance', ms: 400 },
      { op: 'api', up: false },
      { op: 'advance', ms: 1000 },
      { op: 'advance', ms: 400 },
      { op: 'advance', ms: 2500 },
      { op: 'advance', ms: 6000 },
    ],
  },
  {
    name: 'leader partitioned, then SIGTERM: the release loop times its deadline from SIGTERM',
    ops: [
      { op: 'advance', ms: 1000 },
      { op: 'net', slot: 0, mode: 'partition' },
      { op: 'sigterm', slot: 0 },
      { op: 'advance', ms: 20000 },
    ],
  },
  {
    name: 'SIGTERM on a slow link: the successor starts while the old leader waits for its release answer',
    ops: [
      { op: 'advance', ms: 1000 },
      { op: 'net', slot: 0, mode: 'slow' },
      { op: 'sigterm', slot: 0 },
      { op: 'advance', ms: 3000 },
    ],
  },
  {
    name: 'SIGTERM on a slow link after a crash (found by shrinking)',
    ops: [
      { op: 'kill', slot: 0 },
      { op: 'advance', ms: 6000 },
      { op: 'net', slot: 1, mode: 'slow' },
      { op: 'sigterm', slot: 1 },
    ],
  },
  {
    name: "a follower's watch goes silent: at the record's expiry it reports no leader without reading",
    ops: [
      { op: 'advance', ms: 1000 },
      { op: 'silence', slot: 1 },
      { op: 'advance', ms: 30000 },
    ],
  },
  {
    name: 'a follower resumed after SIGSTOP reports no leader before it reads the renewals waiting in its socket',
    ops: [
      { op: 'advance', ms: 1000 },
      { op: 'pause', slot: 1 },
      { op: 'advance', ms: 20000 },
      { op: 'resume', slot: 1 },
      { op: 'advance', ms: 100 },
    ],
  },
  {
    name: 'the leader crashes: followers report no leader at the expiry they computed, without reading',
    ops: [
      { op: 'advance', ms: 1000 },
      { op: 'kill', slot: 0 },
      { op: 'advance', ms: 20000 },
    ],
  },
  {
    name: 'leaseTransitions at int32 max: the takeover writes 2147483648, the API refuses it, nobody leads again',
    ops: [{ op: 'foreign', holder: 'ghost', leaseSeconds: 1, transitions: 'max' }],
  },
  {
    name: 'a replica restarted under the same identity re-takes its own lock with the same term: one id for two leadership.started',
    ops: [
      { op: 'advance', ms: 1000 },
      { op: 'kill', slot: 0 },
      { op: 'start', slot: 0 },
      { op: 'advance', ms: 20000 },
    ],
  },
  {
    name: 'the leader paused past its renew deadline while another takes over reports "no leader" without a read when it resumes',
    ops: [
      { op: 'advance', ms: 1000 },
      { op: 'pause', slot: 0 },
      { op: 'advance', ms: 25000 },
      { op: 'resume', slot: 0 },
      { op: 'advance', ms: 5000 },
    ],
  },
  {
    name: 'the leader partitioned past its renew deadline reports "no leader" while the others still name it',
    ops: [
      { op: 'advance', ms: 1000 },
      { op: 'net', slot: 0, mode: 'partition' },
      { op: 'advance', ms: 12000 },
      { op: 'net', slot: 0, mode: 'ok' },
      { op: 'advance', ms: 10000 },
    ],
  },
  {
    name: 'a step-down below the lease, its own record taken back, then a real expiry: one "no leader" id for two ends',
    ops: [
      { op: 'advance', ms: 1000 },
      { op: 'pause', slot: 0 },
      { op: 'advance', ms: 12000 },
      { op: 'resume', slot: 0 },
      { op: 'advance', ms: 16000 },
      { op: 'pause', slot: 0 },
      { op: 'advance', ms: 30000 },
      { op: 'resume', slot: 0 },
      { op: 'advance', ms: 5000 },
    ],
  },
  {
    name: 'a slow link: a read answered after newer watch news is set aside, and the holder first seen before it expires on time',
    ops: [
      { op: 'net', slot: 0, mode: 'slow' },
      { op: 'advance', ms: 6000 },
      { op: 'net', slot: 0, mode: 'ok' },
      { op: 'foreign', holder: 'ghost', leaseSeconds: 1, transitions: 'keep' },
    ],
  },
  {
    name: 'SIGTERM on a slow link: the stopping replica acts on nothing its still-open watch stream brings',
    ops: [
      { op: 'net', slot: 0, mode: 'slow' },
      { op: 'foreign', holder: 'ghost', leaseSeconds: 1, transitions: 'keep' },
      { op: 'sigterm', slot: 2 },
      { op: 'net', slot: 1, mode: 'slow' },
      { op: 'advance', ms: 2500 },
      { op: 'sigterm', slot: 1 },
    ],
  },
  {
    name: 'two processes with one identity (hostNetwork): both lead',
    ops: [
      { op: 'start', slot: 3 },
      { op: 'advance', ms: 5000 },
    ],
  },
];

describe('election model', () => {
  for (const regression of REGRESSIONS) {
    it(`regression: ${regression.name}`, async () => {
      for (const seed of [1, 2, 3]) await runSchedule({ seed, ops: regression.ops });
    });
  }

  it(`every invariant holds over ${RUNS} random fault schedules of three replicas`, async () => {
    await fc.assert(
      fc.asyncProperty(schedules, async (schedule: Schedule) => {
        await runSchedule(schedule);
      }),
      { numRuns: RUNS },
    );
  });

  it(`every invariant holds over ${Math.round(RUNS / 3)} random schedules with a second process under one identity`, async () => {
    await fc.assert(
      fc.asyncProperty(schedulesWithTwin, async (schedule: Schedule) => {
        await runSchedule(schedule);
      }),
      { numRuns: Math.round(RUNS / 3) },
    );
  });

  it('the model catches a broken elector: a leader that never steps down breaks the renew deadline', async () => {
    // The adversary must be able to fail an elector: here, one told its renew deadline is a day.
    await assert.rejects(
      runSchedule(
        {
          seed: 1,
          ops: [
            { op: 'advance', ms: 1000 },
            { op: 'net', slot: 0, mode: 'partition' },
            { op: 'advance', ms: 30000 },
          ],
        },
        { electorOptions: { renewDeadlineMs: 86_400_000 } },
      ),
      /renew-deadline: r1#1 still leads/,
    );
  });
});
