import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import { guardOneLeader } from '../support/leadership.ts';
import { Replica, waitFor } from '../support/replica.ts';

// Short timings keep the suite quick; the rules are the same as with the defaults.
const TIMINGS = ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=500ms'];
const LEASE_MS = 2000;
const RETRY_MS = 500;

let api: EmbeddedApi;
let kubeconfig: string;

before(async () => {
  api = await startEmbeddedApi();
  kubeconfig = join(mkdtempSync(join(tmpdir(), 'leaderhook-test-')), 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
});
after(() => api.close());

async function startReplicas(election: string, count: number, args: string[] = TIMINGS): Promise<Replica[]> {
  return Promise.all(
    Array.from({ length: count }, (_, index) =>
      Replica.start({ id: `${election}-${index + 1}`, kubeconfig, election, args }),
    ),
  );
}

/** Waits until every live replica answers with the same leader, and returns it. */
async function agreedLeader(replicas: Replica[], not?: string): Promise<string> {
  return waitFor('all replicas to agree on a leader', async () => {
    const views = await Promise.all(replicas.map((replica) => replica.leader()));
    const leader = views[0]?.leader;
    if (!leader || leader === not || !views.every((view) => view?.leader === leader)) return undefined;
    const leading = views.filter((view) => view?.isLeader).map((view) => view?.self);
    assert.deepEqual(leading, [leader], 'exactly the named leader says it leads');
    return leader;
  });
}

describe('replicas as separate processes', () => {
  it('one leader at a time; SIGTERM hands over within 1 s, SIGKILL within lease duration + retry period', async () => {
    const replicas = await startReplicas('failover', 3);
    try {
      const first = await agreedLeader(replicas);
      const guard = guardOneLeader(() => replicas);

      const graceful = replicas.find((replica) => replica.id === first) as Replica;
      let sentAt = performance.now();
      graceful.signal('SIGTERM');
      assert.equal(await graceful.exited, 0, 'exits cleanly after releasing');
      const live = replicas.filter((replica) => replica !== graceful);
      const second = await agreedLeader(live, first);
      const gracefulMs = performance.now() - sentAt;
      assert.ok(gracefulMs < 1000, `graceful failover took ${Math.round(gracefulMs)} ms`);
      assert.ok(graceful.logs.some((line) => line.msg === 'released the lock'));

      const crashed = live.find((replica) => replica.id === second) as Replica;
      sentAt = performance.now();
      crashed.signal('SIGKILL');
      await crashed.exited;
      const survivors = live.filter((replica) => replica !== crashed);
      const third = await agreedLeader(survivors, second);
      const crashMs = performance.now() - sentAt;
      // Generous bound for a loaded CI machine: the rule is lease duration + retry period after the last renew.
      assert.ok(crashMs < LEASE_MS + RETRY_MS + 1500, `crash failover took ${Math.round(crashMs)} ms`);
      assert.notEqual(third, second);
      assert.ok((await guard.stop()) > 10, 'sampled the replicas throughout');
      const view = await survivors[0]?.leader();
      assert.equal(view?.transitions, 2, 'leaseTransitions counts both holder changes');
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
    }
  });

  it('five candidates racing for a new lock: exactly one wins and all agree', async () => {
    const replicas = await startReplicas('race', 5);
    try {
      const leader = await agreedLeader(replicas);
      const guard = guardOneLeader(() => replicas);
      await new Promise((resolve) => setTimeout(resolve, 3 * RETRY_MS));
      await guard.stop();
      assert.equal(await agreedLeader(replicas), leader, 'leadership is stable');
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
    }
  });

  it('followers send no periodic reads while their watch holds', async () => {
    const replicas = await startReplicas('quiet', 2);
    try {
      await agreedLeader(replicas);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const from = api.requests.length;
      await new Promise((resolve) => setTimeout(resolve, 4 * RETRY_MS));
      // The leader renews from its cached object and the follower lives on its watch: nobody reads the lock.
      const gets = api.requests.slice(from).filter((request) => request.verb === 'get' && request.name === 'quiet');
      assert.equal(gets.length, 0, `no reads of the lock while watches hold (saw ${gets.length})`);
      const updates = api.requests
        .slice(from)
        .filter((request) => request.verb === 'update' && request.name === 'quiet');
      assert.ok(updates.length >= 3, 'the leader kept renewing meanwhile');
      assert.ok(
        updates.length <= 6,
        `the leader renews once per retry period, not more (saw ${updates.length} in 4 periods)`,
      );
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
    }
  });
});
