// Leadership Events and client-go's metric names with replicas as real processes against the embedded API.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import { KubeObjects, metricValue, probe } from '../support/kube-objects.ts';
import { agreedLeader } from '../support/leadership.ts';
import { Replica, waitFor } from '../support/replica.ts';

const TIMINGS = ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=500ms'];

let api: EmbeddedApi;
let dir: string;

before(async () => {
  api = await startEmbeddedApi({
    tokens: {
      full: { user: 'full' },
      'no-events': { user: 'no-events', allowed: (_verb, resource) => resource !== 'events' },
    },
  });
  dir = mkdtempSync(join(tmpdir(), 'leaderhook-test-'));
  await api.writeKubeconfig(join(dir, 'full'), { token: 'full' });
  await api.writeKubeconfig(join(dir, 'no-events'), { token: 'no-events' });
});
after(() => api.close());

async function messages(kube: KubeObjects, election: string): Promise<string[]> {
  return (await kube.eventsAbout(election)).map((event) => event.message ?? '').sort();
}

describe('leadership events and client-go metrics (embedded API, real processes)', () => {
  it('records "<id> became leader" / "<id> stopped leading" on the Lease, as client-go does', async () => {
    const kubeconfig = join(dir, 'full');
    const kube = new KubeObjects(kubeconfig, 'default');
    const replicas = await Promise.all(
      ['ev-1', 'ev-2'].map((id) => Replica.start({ id, kubeconfig, election: 'ev', args: TIMINGS })),
    );
    try {
      const first = await agreedLeader(replicas);
      await waitFor(
        'the became-leader event',
        async () => (await messages(kube, 'ev')).includes(`${first} became leader`),
        5000,
        50,
      );
      const [event] = await kube.eventsAbout('ev');
      assert.ok(event);
      assert.equal(event.reason, 'LeaderElection');
      assert.equal(event.type, 'Normal');
      assert.equal(event.count, 1);
      assert.equal(event.source?.component, 'leaderhook');
      assert.equal(event.reportingComponent, 'leaderhook');
      assert.equal(event.involvedObject.kind, 'Lease');
      assert.equal(event.involvedObject.apiVersion, 'coordination.k8s.io/v1');
      assert.equal(event.involvedObject.namespace, 'default');
      assert.ok(event.involvedObject.uid, 'the Lease uid is referenced');
      assert.match(event.metadata?.name ?? '', /^ev\.[0-9a-f]+$/);

      const leader = replicas.find((replica) => replica.id === first)!;
      const follower = replicas.find((replica) => replica.id !== first)!;
      // The release goes out alone: while its answer is held back, no event is written beside it.
      const signalledAt = Date.now();
      const since = (resource: string, verb: string) =>
        api.requests.filter((r) => r.at >= signalledAt && r.resource === resource && r.verb === verb).length;
      api.pauseStore();
      leader.signal('SIGTERM');
      await waitFor('the release sent', () => since('leases', 'update') > 0, 5000, 10);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(since('events', 'create'), 0, 'no event written while the release is unanswered');
      api.resumeStore();
      assert.equal(await leader.exited, 0);
      assert.ok((await messages(kube, 'ev')).includes(`${first} stopped leading`), 'written before the process exits');
      assert.equal(await agreedLeader([follower], first), follower.id);
      await waitFor(
        'the new leader event',
        async () => (await messages(kube, 'ev')).includes(`${follower.id} became leader`),
        5000,
        50,
      );
      assert.deepEqual(
        await messages(kube, 'ev'),
        [`${first} became leader`, `${first} stopped leading`, `${follower.id} became leader`].sort(),
      );
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
    }
  });

  it('a repeated transition of the same process patches the count of its first event', async () => {
    const kubeconfig = join(dir, 'full');
    const kube = new KubeObjects(kubeconfig, 'default');
    const replicas = await Promise.all(
      ['rep-1', 'rep-2'].map((id) => Replica.start({ id, kubeconfig, election: 'rep', args: TIMINGS })),
    );
    try {
      const first = await agreedLeader(replicas);
      const a = replicas.find((replica) => replica.id === first)!;
      const b = replicas.find((replica) => replica.id !== first)!;
      // Its first event must be written before the pause: a write cut by SIGSTOP is retried only after client-go's
      // randomised retry sleep (up to 10 s), which is not what this test is about.
      const becameLeader = async () =>
        (await kube.eventsAbout('rep')).filter((event) => event.message === `${first} became leader`);
      await waitFor('the first event', async () => (await becameLeader()).length === 1, 10_000, 50);
      // A pause longer than the lease: b takes over, a steps down when it wakes.
      a.signal('SIGSTOP');
      await waitFor('b to lead', async () => (await b.leader())?.isLeader === true, 10_000, 50);
      a.signal('SIGCONT');
      await waitFor('a to step down', async () => (await a.leader())?.isLeader === false, 10_000, 50);
      b.signal('SIGTERM');
      await b.exited;
      await waitFor('a to lead again', async () => (await a.leader())?.isLeader === true, 10_000, 50);
      const counted = await waitFor(
        'the repeat to be counted',
        async () => {
          const became = await becameLeader();
          return became.length === 1 && became[0]?.count === 2 ? became[0] : undefined;
        },
        5000,
        50,
      );
      assert.ok(
        new Date(counted.lastTimestamp!).getTime() > new Date(counted.firstTimestamp!).getTime(),
        'lastTimestamp moved on',
      );
      assert.ok(
        a.logs.every((line) => line.level !== 'warn' || !String(line.msg).includes('event')),
        'no event errors',
      );
    } finally {
      for (const replica of replicas)
        if (replica.process.signalCode === null && replica.process.exitCode === null) replica.signal('SIGCONT');
      await Promise.all(replicas.map((replica) => replica.stop()));
    }
  });

  it("exports client-go's leader_election_master_status and leader_election_slowpath_total", async () => {
    const kubeconfig = join(dir, 'full');
    const replicas = await Promise.all(
      ['m-1', 'm-2'].map((id) => Replica.start({ id, kubeconfig, election: 'metrics-demo', args: TIMINGS })),
    );
    try {
      const first = await agreedLeader(replicas);
      const scrape = async (replica: Replica) => (await probe(`${replica.url}/metrics`)).text;
      const leader = replicas.find((replica) => replica.id === first)!;
      const follower = replicas.find((replica) => replica.id !== first)!;
      const status = 'leader_election_master_status{name="metrics-demo"}';
      const slowpath = 'leader_election_slowpath_total{name="metrics-demo"}';

      const leaderText = await scrape(leader);
      assert.match(leaderText, /^# TYPE leader_election_master_status gauge$/m);
      assert.match(leaderText, /^# TYPE leader_election_slowpath_total counter$/m);
      assert.equal(metricValue(leaderText, status), 1);
      assert.equal(metricValue(leaderText, slowpath), 0);
      assert.equal(metricValue(leaderText, 'leaderhook_is_leader{election="metrics-demo"}'), 1);
      const followerText = await scrape(follower);
      assert.equal(metricValue(followerText, status), 0);
      assert.equal(metricValue(followerText, slowpath), 0);

      leader.signal('SIGTERM');
      await leader.exited;
      await agreedLeader([follower], first);
      await waitFor(
        'the follower to report itself master',
        async () => metricValue(await scrape(follower), status) === 1,
        5000,
        50,
      );
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
    }
  });

  it('without the right to create events: one warning, and the election carries on', async () => {
    const kubeconfig = join(dir, 'no-events');
    const kube = new KubeObjects(join(dir, 'full'), 'default');
    const replica = await Replica.start({ id: 'rbac-1', kubeconfig, election: 'no-events', args: TIMINGS });
    try {
      assert.equal(await agreedLeader([replica]), 'rbac-1');
      await waitFor(
        'the RBAC warning',
        () => replica.logs.some((line) => String(line.msg).includes('RBAC forbids create on resource "events"')),
        5000,
        50,
      );
      replica.signal('SIGTERM');
      assert.equal(await replica.exited, 0);
      await waitFor(
        'the release in the log',
        () => replica.logs.some((line) => line.msg === 'released the lock'),
        3000,
      );
      const warnings = replica.logs.filter((line) => String(line.msg).includes('on resource "events"'));
      assert.equal(warnings.length, 1, 'logged once for two forbidden events');
      assert.equal(warnings[0]?.level, 'warn');
      assert.deepEqual(await messages(kube, 'no-events'), []);
    } finally {
      await replica.stop();
    }
  });

  it('--events=false records nothing', async () => {
    const kubeconfig = join(dir, 'full');
    const kube = new KubeObjects(kubeconfig, 'default');
    const replica = await Replica.start({
      id: 'quiet-1',
      kubeconfig,
      election: 'quiet',
      args: [...TIMINGS, '--events=false'],
    });
    try {
      await agreedLeader([replica]);
      replica.signal('SIGTERM');
      await replica.exited;
      assert.deepEqual(await messages(kube, 'quiet'), []);
    } finally {
      await replica.stop();
    }
  });
});
