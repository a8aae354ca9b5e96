// The chaos soak, short: every fault kind twice, in a seeded random order, on the embedded API, with every invariant
// of test/chaos/soak.ts checked. The full run (1000+ transitions, random faults, or on kube-apiserver) is
// `npm run chaos`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { embeddedCluster, type Cluster } from '../integration/cluster.ts';
import { seededRandom } from '../support/seeded-random.ts';
import { FAULT_KINDS, OverlapProof, runSoak, type FaultKind } from './soak.ts';

const SEED = Number(process.env.LEADERHOOK_CHAOS_SEED ?? 20261130);

/** Each kind `times` times, shuffled by `seed` (Fisher–Yates). */
function plan(times: number, seed: number): FaultKind[] {
  const faults = FAULT_KINDS.flatMap((kind) => Array.from({ length: times }, () => kind));
  const random = seededRandom(seed);
  for (let index = faults.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [faults[index], faults[other]] = [faults[other] as FaultKind, faults[index] as FaultKind];
  }
  return faults;
}

describe('sampling rounds as proof of two leaders', () => {
  const rounds = (...leaders: Array<Record<string, string>>) => {
    const proof = new OverlapProof();
    return leaders.map((round) => proof.next(new Map(Object.entries(round))));
  };

  it('a handover between two answers of one round proves nothing', () => {
    assert.deepEqual(rounds({ a: '1/t1' }, { a: '1/t1', b: '2/t2' }, { b: '2/t2' }, { b: '2/t2' }), [[], [], [], []]);
  });

  it('two replicas leading in two consecutive rounds, each in one term, led at once', () => {
    assert.deepEqual(rounds({ a: '1/t1' }, { a: '1/t1', b: '2/t2' }, { a: '1/t1', b: '2/t2' }), [[], [], ['a and b']]);
  });

  it('a replica leading in a round between two rounds of another term led while that one did', () => {
    assert.deepEqual(rounds({ a: '1/t1' }, { b: '2/t2' }, { a: '1/t1' }), [[], [], ['a and b']]);
    // Not sampled in the middle round: its term still spans it.
    assert.deepEqual(rounds({ a: '1/t1' }, { b: '2/t2' }, { a: '1/t1', b: '2/t2' }), [[], [], ['a and b']]);
  });

  it('a term that came back as a new one (another holder in between) is no proof', () => {
    assert.deepEqual(rounds({ a: '1/t1' }, { b: '2/t2' }, { a: '3/t3' }), [[], [], []]);
    assert.deepEqual(rounds({ a: '1/t1', b: '2/t2' }, { a: '3/t3', b: '2/t2' }), [[], []]);
  });
});

describe('chaos soak (short)', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await embeddedCluster();
  });
  after(() => cluster?.close());

  it(
    'every fault kind twice: never two leaders, hooks in order, no notice lost, one event per webhook-id',
    { timeout: 10 * 60_000 },
    async () => {
      const faults = plan(2, SEED);
      const report = await runSoak({
        cluster,
        run: { faults },
        replicas: 4,
        seed: SEED,
        leaseMs: 2000,
        renewDeadlineMs: 1500,
        retryMs: 500,
      });
      assert.deepEqual(report.violations, []);
      assert.equal(report.rounds, faults.length);
      for (const kind of FAULT_KINDS) assert.equal(report.faults[kind], 2, `${kind} was injected twice`);
      assert.ok(report.transitions >= faults.length, `${report.transitions} transitions`);
      assert.ok(report.samples > report.transitions * 10, 'every replica was sampled throughout');
    },
  );
});
