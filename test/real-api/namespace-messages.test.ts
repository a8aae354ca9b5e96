// What a replica says when its namespace is the problem, on a real kube-apiserver (scripts/kube-up, which runs no
// controller-manager, so a deleted namespace stays Terminating). Skipped unless LEADERHOOK_REAL_API is set.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { Replica, waitFor } from '../support/replica.ts';

const enabled = Boolean(process.env.LEADERHOOK_REAL_API);
const dir = process.env.LEADERHOOK_KUBE_DIR ?? '/tmp/leaderhook-kube';
const adminKubeconfig = process.env.LEADERHOOK_KUBE_ADMIN_KUBECONFIG ?? `${dir}/admin.kubeconfig`;
const run = Date.now().toString(36);

describe(
  'a replica whose namespace is the problem names it, on a real kube-apiserver',
  { skip: !enabled && 'set LEADERHOOK_REAL_API=1 (after scripts/kube-up)' },
  () => {
    it('a namespace being deleted: the log says so (403 NamespaceTerminating), not an RBAC gap', async () => {
      const config = new KubeConfig();
      config.loadFromFile(adminKubeconfig);
      const core = config.makeApiClient(CoreV1Api);
      const namespace = `lh-terminating-${run}`;
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      await core.deleteNamespace({ name: namespace });
      const replica = await Replica.start({
        id: 'terminating-1',
        kubeconfig: adminKubeconfig,
        election: 'terminating',
        args: [`--election-namespace=${namespace}`, '--events=false'],
      });
      try {
        const said = await waitFor('the line naming the namespace', () =>
          replica.logs.find((line) => String(line.msg).startsWith(`namespace "${namespace}" is being deleted`)),
        );
        assert.equal(said.level, 'error');
        assert.ok(!replica.logs.some((line) => String(line.msg).startsWith('RBAC forbids')), 'no RBAC advice');
        const started = replica.logs.find((line) => line.msg === 'leaderhook started');
        assert.equal(started?.apiServer, config.getCurrentCluster()?.server);
      } finally {
        await replica.stop();
      }
    });

    it('a namespace that does not exist: the log says so, once', async () => {
      const namespace = `lh-missing-${run}`;
      const replica = await Replica.start({
        id: 'missing-1',
        kubeconfig: adminKubeconfig,
        election: 'missing',
        args: [
          `--election-namespace=${namespace}`,
          '--events=false',
          '--retry-period=200ms',
          '--renew-deadline=1s',
          '--lease-duration=2s',
        ],
      });
      try {
        await waitFor('the line naming the namespace', () =>
          replica.logs.find((line) => String(line.msg).startsWith(`namespace "${namespace}" does not exist`)),
        );
        await new Promise((resolve) => setTimeout(resolve, 2000));
        const lines = replica.logs.filter((line) => String(line.msg).startsWith(`namespace "${namespace}"`));
        assert.equal(lines.length, 1, 'said once while it keeps retrying');
      } finally {
        await replica.stop();
      }
    });
  },
);
