// The integration scenarios (test/integration/scenarios.ts) against the embedded Lease API; the same scenarios run
// against a real kube-apiserver in test/real-api/integration.test.ts.
import { after, before, describe, it } from 'node:test';
import { embeddedCluster, type Cluster } from './cluster.ts';
import { scenarios } from './scenarios.ts';

describe('integration scenarios on the embedded Lease API', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await embeddedCluster();
  });
  after(() => cluster?.close());
  for (const scenario of scenarios) {
    it(scenario.name, (t) => {
      const reason = scenario.skip?.(cluster);
      if (reason) return t.skip(reason);
      return scenario.run(cluster);
    });
  }
});
