// client-go interop: client-go's leader elector (the leaderelection package vendored in Kubernetes 1.20.2, built by
// `scripts/kube-up build-elector`) and leaderhook share one Lease, in both directions, on the embedded API and on a
// real kube-apiserver. Skips, saying why, when the client-go elector is not built; the real-server part also
// needs LEADERHOOK_REAL_API.
import { after, before, describe, it } from 'node:test';
import { clientGoElectorPath, clientGoInterop, NO_ELECTOR } from '../integration/client-go.ts';
import { embeddedCluster, realCluster, type Cluster } from '../integration/cluster.ts';

const binary = clientGoElectorPath();

for (const [name, make, skip] of [
  ['the embedded Lease API', embeddedCluster, binary ? false : NO_ELECTOR],
  [
    'a real kube-apiserver',
    realCluster,
    !binary ? NO_ELECTOR : !process.env.LEADERHOOK_REAL_API && 'set LEADERHOOK_REAL_API=1 (after scripts/kube-up)',
  ],
] as const) {
  describe(`leaderhook and a client-go elector share one Lease on ${name}`, { skip }, () => {
    let cluster: Cluster;
    before(async () => {
      cluster = await make();
    });
    after(() => cluster?.close());
    it('client-go leads, leaderhook follows; each takes the lock the other releases; never two leaders', () =>
      clientGoInterop(cluster, binary!));
  });
}
