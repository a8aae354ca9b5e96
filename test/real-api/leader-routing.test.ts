// The leader label, leader-only readiness, leadership events and client-go metrics against a real kube-apiserver
// (scripts/kube-up), with the replicas holding only the RBAC rules the manifests grant. Skipped unless
// LEADERHOOK_REAL_API is set.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { KubeObjects, metricValue, probe } from '../support/kube-objects.ts';
import { agreedLeader } from '../support/leadership.ts';
import { Replica, waitFor } from '../support/replica.ts';

const enabled = Boolean(process.env.LEADERHOOK_REAL_API);
const dir = process.env.LEADERHOOK_KUBE_DIR ?? '/tmp/leaderhook-kube';
const adminKubeconfig = process.env.LEADERHOOK_KUBE_ADMIN_KUBECONFIG ?? `${dir}/admin.kubeconfig`;
const saKubeconfig = process.env.LEADERHOOK_KUBE_SA_KUBECONFIG ?? `${dir}/leaderhook.kubeconfig`;
const namespace = process.env.LEADERHOOK_KUBE_NAMESPACE ?? 'leaderhook-test';
const serviceAccount = process.env.LEADERHOOK_KUBE_SA ?? 'leaderhook';

const TIMINGS = ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=500ms'];
const SELECTOR = 'role=leader';
const run = `${Date.now().toString(36)}`;

/** The rules of manifests/ for these features: the lock, the leader label, the events. */
const RULES = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'patch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
];

let admin: KubeObjects;
let rbac: RbacAuthorizationV1Api;
const roleName = `leaderhook-routing-${run}`;

async function labelledExactly(expected: string[], pods: string[], timeoutMs = 5000): Promise<void> {
  await waitFor(
    `pods labelled ${SELECTOR} to be [${expected.join(', ')}]`,
    async () => JSON.stringify(await admin.podsWith(SELECTOR, pods)) === JSON.stringify(expected),
    timeoutMs,
    100,
  );
}

async function readyOnly(replicas: Replica[], leader: string): Promise<void> {
  await waitFor(
    `only ${leader} to be ready`,
    async () => {
      const statuses = await Promise.all(
        replicas.map(async (replica) => [replica.id, (await probe(`${replica.url}/readyz`)).status] as const),
      );
      return statuses.every(([id, status]) => status === (id === leader ? 200 : 503));
    },
    5000,
    100,
  );
}

function start(id: string, election: string, extra: string[] = []): Promise<Replica> {
  return Replica.start({
    id,
    kubeconfig: saKubeconfig,
    election,
    args: [
      `--election-namespace=${namespace}`,
      ...TIMINGS,
      '--leader-label=role=leader',
      '--ready-only-when-leader',
      ...extra,
    ],
    env: { POD_NAMESPACE: namespace },
  });
}

describe(
  'leader label, readiness, events and metrics on a real kube-apiserver',
  { skip: !enabled && 'set LEADERHOOK_REAL_API=1 (after scripts/kube-up)' },
  () => {
    before(async () => {
      admin = new KubeObjects(adminKubeconfig, namespace);
      const config = new KubeConfig();
      config.loadFromFile(adminKubeconfig);
      rbac = config.makeApiClient(RbacAuthorizationV1Api);
      await rbac.createNamespacedRole({ namespace, body: { metadata: { name: roleName }, rules: RULES } });
      await rbac.createNamespacedRoleBinding({
        namespace,
        body: {
          metadata: { name: roleName },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName },
          subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace }],
        },
      });
    });
    after(async () => {
      if (!rbac) return;
      await rbac.deleteNamespacedRoleBinding({ name: roleName, namespace }).catch(() => undefined);
      await rbac.deleteNamespacedRole({ name: roleName, namespace }).catch(() => undefined);
    });

    it('label and readiness follow the leader through SIGTERM, SIGKILL and a restart still labelled; events and metrics', async () => {
      const election = `routing-${run}`;
      const pods = [1, 2, 3].map((index) => `${election}-${index}`);
      for (const pod of pods) await admin.createPod(pod);
      const replicas = await Promise.all(pods.map((id) => start(id, election)));
      const all = [...replicas];
      try {
        const first = await agreedLeader(replicas, undefined, 30_000);
        await labelledExactly([first], pods);
        await readyOnly(replicas, first);
        const leaderMetrics = (await probe(`${replicas.find((replica) => replica.id === first)!.url}/metrics`)).text;
        assert.equal(metricValue(leaderMetrics, `leader_election_master_status{name="${election}"}`), 1);
        assert.equal(metricValue(leaderMetrics, `leader_election_slowpath_total{name="${election}"}`), 0);
        const followerMetrics = (await probe(`${replicas.find((replica) => replica.id !== first)!.url}/metrics`)).text;
        assert.equal(metricValue(followerMetrics, `leader_election_master_status{name="${election}"}`), 0);

        const graceful = replicas.find((replica) => replica.id === first)!;
        graceful.signal('SIGTERM');
        assert.equal(await graceful.exited, 0);
        let live = replicas.filter((replica) => replica !== graceful);
        const second = await agreedLeader(live, first, 30_000);
        await labelledExactly([second], pods);
        await readyOnly(live, second);

        const killed = live.find((replica) => replica.id === second)!;
        killed.signal('SIGKILL');
        await killed.exited;
        live = live.filter((replica) => replica !== killed);
        const third = await agreedLeader(live, second, 30_000);
        await labelledExactly([third], pods);
        await readyOnly(live, third);

        await admin.setLabels(first, { role: 'leader' });
        const restarted = await start(first, election);
        all.push(restarted);
        live = [...live, restarted];
        assert.equal(await agreedLeader(live, undefined, 30_000), third);
        await labelledExactly([third], pods);
        await readyOnly(live, third);

        // kubectl get events --field-selector involvedObject.name=<election>
        const events = await admin.eventsAbout(election);
        const messages = events.map((event) => event.message).sort();
        for (const expected of [
          `${first} became leader`,
          `${first} stopped leading`,
          `${second} became leader`,
          `${third} became leader`,
        ]) {
          assert.ok(messages.includes(expected), `${expected} in ${JSON.stringify(messages)}`);
        }
        assert.ok(
          events.every(
            (event) =>
              event.reason === 'LeaderElection' && event.involvedObject.kind === 'Lease' && event.type === 'Normal',
          ),
        );
        assert.ok(
          all.every((replica) => !replica.logs.some((line) => String(line.msg).includes('RBAC forbids'))),
          'the manifest rules suffice',
        );
      } finally {
        await Promise.all(all.map((replica) => replica.stop()));
        for (const pod of pods) await admin.deletePod(pod);
      }
    });

    it('a repeated transition of the same process patches the count of its first event (strategic merge patch)', async () => {
      const election = `repeat-${run}`;
      const pods = [1, 2].map((index) => `${election}-${index}`);
      for (const pod of pods) await admin.createPod(pod);
      const replicas = await Promise.all(pods.map((id) => start(id, election)));
      try {
        const first = await agreedLeader(replicas, undefined, 30_000);
        const a = replicas.find((replica) => replica.id === first)!;
        const b = replicas.find((replica) => replica.id !== first)!;
        // Its first event must be written before the pause: a write cut by SIGSTOP is retried only after client-go's
        // randomised retry sleep (up to 10 s), which is not what this test is about.
        const becameLeader = async () =>
          (await admin.eventsAbout(election)).filter((event) => event.message === `${first} became leader`);
        await waitFor('the first event', async () => (await becameLeader()).length === 1, 10_000, 100);
        a.signal('SIGSTOP');
        await waitFor('b to lead', async () => (await b.leader())?.isLeader === true, 10_000, 50);
        a.signal('SIGCONT');
        await waitFor('a to step down', async () => (await a.leader())?.isLeader === false, 10_000, 50);
        b.signal('SIGTERM');
        await b.exited;
        await waitFor('a to lead again', async () => (await a.leader())?.isLeader === true, 10_000, 50);
        await waitFor(
          'the repeat to be counted',
          async () => {
            const became = await becameLeader();
            return became.length === 1 && became[0]?.count === 2;
          },
          5000,
          100,
        );
        await labelledExactly([first], pods);
      } finally {
        for (const replica of replicas)
          if (replica.process.signalCode === null && replica.process.exitCode === null) replica.signal('SIGCONT');
        await Promise.all(replicas.map((replica) => replica.stop()));
        for (const pod of pods) await admin.deletePod(pod);
      }
    });
  },
);
