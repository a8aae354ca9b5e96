// The chaos soak, short: about 100 leadership transitions on the embedded API, each caused by a random fault, with
// every invariant of test/chaos/soak.ts checked. The full run (1000+ transitions, or on kube-apiserver) is
// `npm run chaos`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { embeddedCluster, type Cluster } from '../integration/cluster.ts';
import { FAULT_KINDS, runSoak } from './soak.ts';

const TRANSITIONS = Number(process.env.LEADERHOOK_CHAOS_TRANSITIONS ?? 100);

describe('chaos soak (short)', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await embeddedCluster();
  });
  after(() => cluster?.close());

  it(
    `${TRANSITIONS} transitions under random faults: never two leaders, hooks in order, no notice lost, one event per webhook-id`,
    { timeout: 15 * 60_000 },
    async () => {
      const report = await runSoak({
        cluster,
        transitions: TRANSITIONS,
        replicas: 4,
        seed: Number(process.env.LEADERHOOK_CHAOS_SEED ?? 20261130),
        leaseMs: 2000,
        renewDeadlineMs: 1500,
        retryMs: 500,
        // SIGTERM handovers are the quick rounds; every other kind still comes up several times.
        weights: {
          sigterm: 10,
          sigkill: 1,
          sigstop: 1,
          'partition-leader': 1,
          'partition-then-sigterm': 1,
          'silent-watch': 1,
          'api-restart': 1,
        },
      });
      assert.deepEqual(report.violations, []);
      assert.ok(report.transitions >= TRANSITIONS, `${report.transitions} transitions`);
      for (const kind of FAULT_KINDS) assert.ok((report.faults[kind] ?? 0) > 0, `${kind} was injected`);
      assert.ok(report.samples > report.transitions * 10, 'every replica was sampled throughout');
    },
  );
});
