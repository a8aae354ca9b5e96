// The integration scenarios (test/integration/scenarios.ts) against a real kube-apiserver (scripts/kube-up), with
// the replicas holding only the rules granted to the ServiceAccount. Some restart kube-apiserver or etcd, so this
// file runs alone (scripts/test-real-api runs the real-API files one at a time). Skipped unless LEADERHOOK_REAL_API.
import { after, before, describe, it } from 'node:test';
import { realCluster, type Cluster } from '../integration/cluster.ts';
import { scenarios } from '../integration/scenarios.ts';

describe(
  'integration scenarios on a real kube-apiserver',
  { skip: !process.env.LEADERHOOK_REAL_API && 'set LEADERHOOK_REAL_API=1 (after scripts/kube-up)' },
  () => {
    let cluster: Cluster;
    before(async () => {
      cluster = await realCluster();
    });
    after(() => cluster?.close());
    for (const scenario of scenarios) {
      it(scenario.name, (t) => {
        const reason = scenario.skip?.(cluster);
        if (reason) return t.skip(reason);
        return scenario.run(cluster);
      });
    }
  },
);
