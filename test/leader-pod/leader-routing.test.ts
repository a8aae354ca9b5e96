// The leader label and leader-only readiness with replicas as real processes against the embedded API.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import { KubeObjects, probe } from '../support/kube-objects.ts';
import { agreedLeader } from '../support/leadership.ts';
import { Replica, waitFor } from '../support/replica.ts';

const TIMINGS = ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=500ms'];
const ARGS = [...TIMINGS, '--leader-label=role=leader', '--ready-only-when-leader'];
const SELECTOR = 'role=leader';

let api: EmbeddedApi;
let kubeconfig: string;
let kube: KubeObjects;

before(async () => {
  api = await startEmbeddedApi();
  kubeconfig = join(mkdtempSync(join(tmpdir(), 'leaderhook-test-')), 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
  kube = new KubeObjects(kubeconfig, 'default');
});
after(() => api.close());

/** Waits until exactly `expected` carries the label among `pods`; returns how long that took. */
async function labelledExactly(expected: string[], pods: string[], timeoutMs: number): Promise<number> {
  const started = performance.now();
  await waitFor(
    `pods labelled ${SELECTOR} to be [${expected.join(', ')}]`,
    async () => JSON.stringify(await kube.podsWith(SELECTOR, pods)) === JSON.stringify(expected),
    timeoutMs,
    50,
  );
  return performance.now() - started;
}

async function readiness(replicas: Replica[]): Promise<Record<string, number>> {
  const entries = await Promise.all(
    replicas.map(async (replica) => [replica.id, (await probe(`${replica.url}/readyz`)).status] as const),
  );
  return Object.fromEntries(entries);
}

/** Waits until only `leader` answers /readyz with 200 and the rest with 503. */
async function readyOnly(replicas: Replica[], leader: string): Promise<void> {
  await waitFor(
    `only ${leader} to be ready`,
    async () => {
      const statuses = await readiness(replicas);
      return Object.entries(statuses).every(([id, status]) => status === (id === leader ? 200 : 503));
    },
    5000,
    50,
  );
}

describe('leader label and leader-only readiness (embedded API, real processes)', () => {
  it('the label and readiness follow the leader through SIGTERM, SIGKILL and restarts', async () => {
    const pods = ['route-1', 'route-2', 'route-3'];
    for (const pod of pods) await kube.createPod(pod);
    const replicas = await Promise.all(
      pods.map((id) => Replica.start({ id, kubeconfig, election: 'route', args: ARGS })),
    );
    const all = [...replicas];
    try {
      const first = await agreedLeader(replicas);
      await labelledExactly([first], pods, 3000);
      await readyOnly(replicas, first);
      const body = await probe(`${replicas.find((replica) => replica.id !== first)!.url}/readyz`);
      assert.match(body.text, /not the leader/);

      // SIGTERM: the leader takes its own label off before it exits, the next leader labels itself.
      const graceful = replicas.find((replica) => replica.id === first)!;
      graceful.signal('SIGTERM');
      assert.equal(await graceful.exited, 0);
      await waitFor(
        'the label removal on shutdown in the log',
        () => graceful.logs.some((line) => line.msg === 'removed the leader label from this pod'),
        3000,
      );
      let live = replicas.filter((replica) => replica !== graceful);
      const second = await agreedLeader(live, first);
      const handover = await labelledExactly([second], pods, 3000);
      assert.ok(
        handover < 1500,
        `label moved ${Math.round(handover)} ms after the replicas agreed (renew deadline 1.5 s)`,
      );
      await readyOnly(live, second);

      // SIGKILL: the killed leader's Pod keeps the label until the next leader removes it.
      const killed = live.find((replica) => replica.id === second)!;
      killed.signal('SIGKILL');
      await killed.exited;
      assert.deepEqual(await kube.podsWith(SELECTOR, pods), [second], 'a killed process cannot clean up');
      live = live.filter((replica) => replica !== killed);
      const third = await agreedLeader(live, second);
      await labelledExactly([third], pods, 3000);
      const survivor = live.find((replica) => replica.id === third)!;
      await waitFor(
        "the previous leader's label removal in the log",
        () =>
          survivor.logs.some(
            (line) => line.msg === "removed the leader label from a previous leader's pod" && line.pod === second,
          ),
        3000,
      );
      await readyOnly(live, third);

      // A replica restarting with a label left on its Pod (a crash the new leader did not see) removes it.
      const restartedId = first;
      await kube.setLabels(restartedId, { role: 'leader' });
      const restarted = await Replica.start({ id: restartedId, kubeconfig, election: 'route', args: ARGS });
      all.push(restarted);
      live = [...live, restarted];
      assert.equal(await agreedLeader(live), third);
      await labelledExactly([third], pods, 3000);
      await waitFor(
        'the restarted replica to log the removal',
        () => restarted.logs.some((line) => line.msg === 'removed the leader label from this pod'),
        3000,
      );
      await readyOnly(live, third);

      // The killed leader restarts while its lease is still valid elsewhere: it stays a follower, unlabelled and
      // unready.
      const back = await Replica.start({ id: second, kubeconfig, election: 'route', args: ARGS });
      all.push(back);
      live = [...live, back];
      assert.equal(await agreedLeader(live), third);
      await readyOnly(live, third);
      assert.deepEqual(await kube.podsWith(SELECTOR, pods), [third]);
    } finally {
      await Promise.all(all.map((replica) => replica.stop()));
    }
  });

  it("a leader killed and restarted under the same name leads again once the earlier run's lease ran out, as a new term", async () => {
    const pod = 'solo-1';
    await kube.createPod(pod);
    const one = await Replica.start({ id: pod, kubeconfig, election: 'solo', args: ARGS });
    let again: Replica | undefined;
    try {
      await agreedLeader([one]);
      await labelledExactly([pod], [pod], 3000);
      one.signal('SIGKILL');
      await one.exited;
      const killedAt = performance.now();
      again = await Replica.start({ id: pod, kubeconfig, election: 'solo', args: ARGS });
      // The record names this pod but this process did not write it: it may be a live twin, so it waits like any
      // successor instead of leading on the earlier run's lease.
      await agreedLeader([again]);
      assert.ok(
        performance.now() - killedAt >= 1500,
        `led again ${Math.round(performance.now() - killedAt)} ms after the kill`,
      );
      await readyOnly([again], pod);
      await labelledExactly([pod], [pod], 3000);
      assert.equal(
        (await again.leader())?.transitions,
        1,
        'a new term, so its events never share an id with the earlier run',
      );
    } finally {
      await one.stop();
      await again?.stop();
    }
  });

  it('without --ready-only-when-leader every replica that has read the lock is ready', async () => {
    const replicas = await Promise.all(
      ['plain-1', 'plain-2'].map((id) => Replica.start({ id, kubeconfig, election: 'plain', args: TIMINGS })),
    );
    try {
      await agreedLeader(replicas);
      await waitFor(
        'both ready',
        async () => Object.values(await readiness(replicas)).every((status) => status === 200),
        5000,
        50,
      );
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
    }
  });
});
