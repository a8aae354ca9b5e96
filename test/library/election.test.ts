// The library's Election in-process against the embedded Lease API: the change stream as events and as an async
// iterator, stop's release, leader work bounded by leadership (runWhileLeading), the release waiting for that work,
// metrics in the app's registry, and the signal option.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import type { LeadershipChange } from '../../src/election/leadership.ts';
import { createElection } from '../../src/library/create-election.ts';
import { NotLeadingError, type Election } from '../../src/library/election.ts';
import type { ElectionOptions } from '../../src/library/options.ts';
import { waitFor } from '../support/replica.ts';

const TIMINGS = { leaseDurationMs: 2000, renewDeadlineMs: 1000, retryPeriodMs: 250 };
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

let api: EmbeddedApi;
let kubeConfig: KubeConfig;
let leases: CoordinationV1Api;
const elections: Election[] = [];

before(async () => {
  api = await startEmbeddedApi();
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(api.kubeconfig());
  leases = kubeConfig.makeApiClient(CoordinationV1Api);
});

after(async () => {
  api.resumeStore();
  await Promise.all(elections.map((election) => election.stop({ release: false })));
  await api.close();
});

function election(name: string, identity: string, options: Partial<ElectionOptions> = {}): Election {
  const created = createElection({
    election: name,
    namespace: 'default',
    identity,
    kubeConfig,
    log: quiet,
    ...TIMINGS,
    ...options,
  });
  elections.push(created);
  return created;
}

async function holder(name: string): Promise<string> {
  const lease = await leases.readNamespacedLease({ name, namespace: 'default' });
  return lease.spec?.holderIdentity ?? '';
}

/** A logger that keeps what it is given: level and message. */
function recordingLog() {
  const lines: Array<{ level: string; message: string }> = [];
  const method =
    (level: string) =>
    (...args: unknown[]) =>
      lines.push({ level, message: String(typeof args[0] === 'string' ? args[0] : args[1]) });
  return {
    lines,
    log: { debug: method('debug'), info: method('info'), warn: method('warn'), error: method('error') },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Election (in process, embedded Lease API)', () => {
  test('one leader; changes as events and as an async iterator; stop releases and the follower takes over', async () => {
    const a = election('stream', 'a');
    const b = election('stream', 'b');
    const heardByA: LeadershipChange[] = [];
    a.subscribe((change) => heardByA.push(change));
    a.start();
    await waitFor('a to lead', () => a.state.isLeader);
    const iterated: LeadershipChange[] = [];
    const iterating = (async () => {
      for await (const change of b) iterated.push(change);
    })();
    b.start();
    await waitFor('b to see a lead', () => b.state.leader === 'a');
    assert.equal(b.state.isLeader, false);
    assert.equal(await holder('stream'), 'a');

    const stoppedAt = performance.now();
    await a.stop();
    await waitFor('b to lead', () => b.state.isLeader);
    const handoverMs = performance.now() - stoppedAt;
    assert.ok(handoverMs < TIMINGS.leaseDurationMs, `b took over ${Math.round(handoverMs)} ms after a's stop`);
    assert.deepEqual(
      heardByA.map(({ type, leader, isLeader, reason }) => ({ type, leader, isLeader, reason })),
      [
        { type: 'started', leader: 'a', isLeader: true, reason: undefined },
        { type: 'leader-changed', leader: 'a', isLeader: true, reason: undefined },
        { type: 'stopped', leader: 'a', isLeader: false, reason: 'shutdown' },
        { type: 'leader-changed', leader: '', isLeader: false, reason: undefined },
      ],
    );

    await b.stop();
    await iterating;
    assert.deepEqual(
      iterated.map(({ type, leader }) => `${type} ${leader}`),
      ['leader-changed a', 'leader-changed ', 'started b', 'leader-changed b', 'stopped b', 'leader-changed '],
      'the iterator saw every change from its creation, and ended when the election stopped',
    );
    assert.equal(await holder('stream'), '', 'released');
  });

  test('the async iterator: next() calls in flight at once are answered in order, none left hanging', async () => {
    const lone = election('iterator-queue', 'lone');
    const iterator = lone[Symbol.asyncIterator]();
    const shown = (answer: IteratorResult<LeadershipChange>) =>
      answer.done ? 'done' : `${answer.value.type} ${answer.value.leader}`;
    const pending = [iterator.next(), iterator.next()];
    lone.start();
    const answers = await Promise.race([Promise.all(pending), sleep(5000).then(() => 'hung' as const)]);
    assert.notEqual(answers, 'hung', 'both pending next() calls are answered');
    assert.deepEqual((answers as IteratorResult<LeadershipChange>[]).map(shown), [
      'started lone',
      'leader-changed lone',
    ]);
    // Three more in flight across the stop: `stopped`, the release's `leader-changed`, then the end.
    const across = [iterator.next(), iterator.next(), iterator.next()];
    await lone.stop();
    assert.deepEqual((await Promise.all(across)).map(shown), ['stopped lone', 'leader-changed ', 'done']);
  });

  test('the async iterator: one created while stop() is in progress yields the changes until the election has stopped', async () => {
    const leader = election('iterator-stopping', 'leader');
    leader.start();
    await waitFor('it to lead', () => leader.state.isLeader);
    const stopping = leader.stop();
    const iterated: string[] = [];
    for await (const change of leader) iterated.push(`${change.type} ${change.leader}`);
    await stopping;
    // `stopped` was heard within stop()'s first step, before this iterator existed; the release came after it.
    assert.deepEqual(iterated, ['leader-changed ']);
    assert.equal(await holder('iterator-stopping'), '', 'released');
  });

  test('runWhileLeading: the signal aborts within the renew deadline of the last renew when the API stops answering', async () => {
    const leader = election('bound', 'leader');
    let abortedAt: number | undefined;
    let reason: unknown;
    const running = leader.runWhileLeading(async (signal) => {
      await new Promise<void>((resolve) =>
        signal.addEventListener('abort', () => {
          abortedAt = performance.now();
          reason = signal.reason;
          resolve();
        }),
      );
    });
    leader.start();
    await waitFor('it to lead', () => leader.state.isLeader);
    await sleep(3 * TIMINGS.retryPeriodMs);
    // Every request hangs from now on; the last renew was sent before this instant.
    const pausedAt = performance.now();
    api.pauseStore();
    try {
      await waitFor('the signal to abort', () => abortedAt !== undefined, 5000, 5);
      const abortMs = (abortedAt as number) - pausedAt;
      // No earlier than a renew deadline after the last renew (one retry period before the pause at most), no later
      // than a renew deadline after the pause, with 250 ms for a loaded machine.
      assert.ok(abortMs >= TIMINGS.renewDeadlineMs - TIMINGS.retryPeriodMs - 50, `aborted after ${abortMs} ms`);
      assert.ok(abortMs <= TIMINGS.renewDeadlineMs + 250, `aborted ${Math.round(abortMs)} ms after the pause`);
      assert.ok(reason instanceof NotLeadingError);
      assert.equal(reason.reason, 'renew-deadline');
      assert.equal(leader.state.isLeader, false);
      assert.equal(leader.leadingUntil(), undefined);
    } finally {
      api.resumeStore();
    }
    // It leads again once the API answers (nobody else competes): a new term, a new run.
    let runs = 1;
    const again = leader.runWhileLeading(async (signal) => {
      runs += 1;
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
    });
    await waitFor('a second term', () => runs === 2, 10_000);
    await leader.stop();
    await Promise.all([running, again]);
  });

  test('after a pause of the process past the deadline, reading the state aborts the signal at once', async () => {
    const leader = election('pause', 'leader');
    let signal: AbortSignal | undefined;
    const running = leader.runWhileLeading(async (given) => {
      signal = given;
      await new Promise((resolve) => given.addEventListener('abort', resolve));
    });
    leader.start();
    await waitFor('the work to run', () => signal);
    const until = leader.leadingUntil();
    assert.ok(until !== undefined && until > performance.now(), 'leading until a later instant');
    // The event loop blocked past the bound: no timer can run meanwhile.
    while (performance.now() <= until + 10) {
      /* busy */
    }
    assert.equal(signal?.aborted, false, 'no timer has run yet');
    assert.equal(leader.state.isLeader, false);
    assert.equal(signal?.aborted, true);
    assert.equal((signal?.reason as NotLeadingError).reason, 'renew-deadline');
    await leader.stop();
    await running;
  });

  test('stop: the leader work stops first, then the lock is released', async () => {
    const leader = election('ordered', 'leader');
    let workDoneAt = 0;
    const running = leader.runWhileLeading(async (signal) => {
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      // Winding down takes a while; the lock stays held meanwhile.
      await sleep(300);
      workDoneAt = Date.now();
    });
    leader.start();
    await waitFor('it to lead', () => leader.state.isLeader);
    api.clearRequests();
    await leader.stop();
    await running;
    const updates = api.requests.filter((request) => request.verb === 'update' && request.name === 'ordered');
    assert.equal(await holder('ordered'), '');
    assert.ok(workDoneAt > 0);
    assert.ok(updates.length >= 1);
    assert.ok(updates.at(-1)!.at >= workDoneAt, 'the release was sent after the work had stopped');
  });

  test('stop: work that ignores its signal delays the release no longer than the renew deadline, and is warned of', async () => {
    const { log, lines } = recordingLog();
    const leader = election('stubborn', 'leader', { log });
    void leader.runWhileLeading(() => new Promise<void>(() => {}));
    leader.start();
    await waitFor('it to lead', () => leader.state.isLeader);
    const stoppingAt = performance.now();
    await leader.stop();
    const stopMs = performance.now() - stoppingAt;
    assert.ok(stopMs < TIMINGS.renewDeadlineMs + 500, `stopped in ${Math.round(stopMs)} ms`);
    assert.equal(await holder('stubborn'), '', 'released all the same');
    // In the library's words: there are no hooks, there is leader work.
    assert.deepEqual(
      lines.filter((line) => line.level === 'warn').map((line) => line.message),
      ['the leader work (runWhileLeading) had not returned after its signal aborted when the release had to go ahead'],
    );
  });

  test("leaderLabel without a Pod of that name: the warning names the library's options, not flags", async () => {
    const { log, lines } = recordingLog();
    const leader = election('no-pod', 'no-such-pod', { log, leaderLabel: 'role=leader' });
    leader.start();
    const warning = await waitFor('the missing pod warning', () =>
      lines.find((line) => line.level === 'warn' && line.message.startsWith('pod "no-such-pod" not found')),
    );
    assert.equal(
      warning.message,
      'pod "no-such-pod" not found in namespace "default": the leaderLabel option labels the pod named by the ' +
        'identity option (default $POD_NAME) in $POD_NAMESPACE; set both from the Downward API; retrying with back-off',
    );
  });

  test("two elections under one identity: the clash error names createElection's identity option, not a flag", async () => {
    const { log, lines } = recordingLog();
    const first = election('clash', 'twin');
    const second = election('clash', 'twin', { log });
    first.start();
    await waitFor('the first to lead', () => first.state.isLeader);
    second.start();
    const clash = await waitFor('the clash error', () => lines.find((line) => line.level === 'error'));
    assert.match(
      clash.message,
      /^another process writes the lock under this replica's identity "twin": identities must be unique\. Set createElection's identity option \(or POD_NAME from the downward API\) to the pod name; /,
    );
    assert.doesNotMatch(clash.message, /--id/);
  });

  test("runWhileLeading: the work's own error rejects it; a rejection after the abort is the work's way to stop", async () => {
    const leader = election('errors', 'leader');
    leader.start();
    await assert.rejects(
      leader.runWhileLeading(() => Promise.reject(new Error('report failed'))),
      /report failed/,
    );
    assert.equal(leader.state.isLeader, true, 'the election goes on');
    let abortHeard = false;
    const stopping = leader.runWhileLeading(
      (signal) =>
        new Promise<void>((_, reject) =>
          signal.addEventListener('abort', () => {
            abortHeard = true;
            reject(new Error('aborted'));
          }),
        ),
    );
    await sleep(50);
    await leader.stop();
    await stopping;
    assert.ok(abortHeard, 'the work ran and ended by rejecting');
  });

  test("metrics go to the app's registry; two elections share it", async () => {
    const registry = new Registry();
    const first = election('metrics-a', 'leader', { metrics: registry });
    const second = election('metrics-b', 'leader', { metrics: registry });
    first.start();
    second.start();
    await waitFor('both to lead', () => first.state.isLeader && second.state.isLeader);
    const text = await registry.metrics();
    for (const line of [
      'leaderhook_is_leader{election="metrics-a"} 1',
      'leaderhook_is_leader{election="metrics-b"} 1',
      'leader_election_master_status{name="metrics-a"} 1',
      'leaderhook_leadership_changes_total{election="metrics-b",type="started"} 1',
    ])
      assert.ok(text.includes(line), `${line} in\n${text}`);
    assert.ok(!text.includes('process_cpu_seconds_total'), "the app's own default metrics are its own business");
    await Promise.all([first.stop(), second.stop()]);
    assert.ok((await registry.metrics()).includes('leaderhook_is_leader{election="metrics-a"} 0'));
  });

  test('the candidate option: no attempt while it declines; a leader it turns down hands over, its work stopped first', async () => {
    const listeners = new Set<() => void>();
    let healthy = false;
    const candidacy = {
      mayAcquire: () => healthy,
      mayLead: () => healthy,
      subscribe: (listener: () => void) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const set = (value: boolean) => {
      healthy = value;
      for (const listener of listeners) listener();
    };
    const gated = election('gated', 'gated', { candidate: candidacy });
    gated.start();
    await sleep(4 * TIMINGS.retryPeriodMs);
    await assert.rejects(holder('gated'), 'no Lease: a declining candidate writes nothing');
    let reason: unknown;
    const running = gated.runWhileLeading(async (signal) => {
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      reason = signal.reason;
    });
    set(true);
    await waitFor('the candidate to lead', () => gated.state.isLeader);
    const other = election('gated', 'other');
    other.start();
    await waitFor('the other replica to follow', () => other.state.leader === 'gated');
    const declinedAt = performance.now();
    set(false);
    await waitFor('the other replica to lead', () => other.state.isLeader);
    const handoverMs = performance.now() - declinedAt;
    assert.ok(reason instanceof NotLeadingError && reason.reason === 'candidate-unhealthy', String(reason));
    assert.ok(handoverMs < TIMINGS.leaseDurationMs, `handed over ${Math.round(handoverMs)} ms after declining`);
    assert.equal(gated.state.isLeader, false, 'stays a follower');
    await Promise.all([gated.stop(), other.stop()]);
    await running;
  });

  test('the signal option: aborting it stops the election and releases the lock', async () => {
    const controller = new AbortController();
    const leader = election('signalled', 'leader', { signal: controller.signal });
    const running = leader.runWhileLeading(
      (signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve())),
    );
    leader.start();
    await waitFor('it to lead', () => leader.state.isLeader);
    controller.abort();
    await running;
    await waitFor('the release', async () => (await holder('signalled')) === '', 5000);
    leader.start();
    assert.equal(leader.state.isLeader, false, 'a stopped election does not start again');
  });
});
