// The fault scenarios (issue cases run as operators' networks and clusters cause them), written once and run against
// any Cluster: the embedded Lease API in npm test and a real kube-apiserver in the real-API suite. Each replica is a
// real leaderhook process behind its own fault proxy, each with a local hook on a real HTTP receiver.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { V1MicroTime } from '@kubernetes/client-node';
import { Receiver } from '../notify/receiver.ts';
import { FaultProxy, kubeconfigServer, proxiedKubeconfig } from '../support/fault-proxy.ts';
import { agreedLeader, guardOneLeader } from '../support/leadership.ts';
import { Replica, waitFor } from '../support/replica.ts';
import type { Cluster } from './cluster.ts';

const run = Date.now().toString(36);
let counter = 0;
const electionName = (what: string): string => `${what}-${run}-${++counter}`;

/** A replica with its own proxy to the API server and its own hook receiver (its main container). */
interface Node {
  id: string;
  replica: Replica;
  proxy: FaultProxy;
  hook: Receiver;
}

async function startNode(
  cluster: Cluster,
  id: string,
  election: string,
  timings: string[],
  extra: string[] = [],
  hook?: Receiver,
): Promise<Node> {
  const server = kubeconfigServer(cluster.replicaKubeconfig);
  const proxy = await FaultProxy.start(server);
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'leaderhook-fault-')), 'kubeconfig');
  proxiedKubeconfig(cluster.replicaKubeconfig, proxy.url(server.startsWith('https:') ? 'https' : 'http'), kubeconfig);
  const receiver = hook ?? (await Receiver.start());
  const replica = await Replica.start({
    id,
    kubeconfig,
    election,
    args: [
      `--election-namespace=${cluster.namespace}`,
      ...timings,
      `--hook=${receiver.url}`,
      '--events=false',
      ...extra,
    ],
  });
  return { id, replica, proxy, hook: receiver };
}

/** Two replicas of `election`, `<election>-a` and `-b`, each behind its own fault proxy. */
async function startPair(cluster: Cluster, election: string, timings: string[], extra: string[] = []): Promise<Node[]> {
  return [
    await startNode(cluster, `${election}-a`, election, timings, extra),
    await startNode(cluster, `${election}-b`, election, timings, extra),
  ];
}

/** Once the replicas agree on a leader: its id, its node and the other one's. */
async function leaderAndFollower(nodes: Node[]): Promise<{ leaderId: string; leader: Node; follower: Node }> {
  const leaderId = await agreedLeader(nodes.map((node) => node.replica));
  const leader = nodes.find((node) => node.id === leaderId)!;
  return { leaderId, leader, follower: nodes.find((node) => node !== leader)! };
}

async function stopNodes(nodes: Node[]): Promise<void> {
  for (const node of nodes) await node.replica.stop();
  await Promise.all(
    nodes.map(async (node) => {
      await node.proxy.close();
      await node.hook.close();
    }),
  );
}

interface HookEvent {
  type: string;
  leader: string;
  reason?: string;
  transitions: number;
  at: number;
}

function hookEvents(node: Node): HookEvent[] {
  return node.hook.received.map((request) => {
    const body = JSON.parse(request.body) as {
      type: string;
      data: { leader: string; reason?: string; transitions: number };
    };
    return {
      type: body.type,
      leader: body.data.leader,
      transitions: body.data.transitions,
      at: request.at,
      ...(body.data.reason ? { reason: body.data.reason } : {}),
    };
  });
}

const firstEvent = (node: Node, type: string, after = 0): HookEvent | undefined =>
  hookEvents(node).find((event) => event.type === type && event.at >= after);

/** The sum of a counter's samples on a replica's /metrics (optionally those whose labels include `match`). */
async function metric(replica: Replica, name: string, match = ''): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (match && !line.includes(match)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function writeForeignLease(
  cluster: Cluster,
  name: string,
  spec: { holderIdentity: string; leaseDurationSeconds: number; leaseTransitions: number },
): Promise<void> {
  const now = new V1MicroTime(Date.now());
  await cluster.coordination.createNamespacedLease({
    namespace: cluster.namespace,
    body: { metadata: { name }, spec: { ...spec, acquireTime: now, renewTime: now } },
  });
}

// ------------------------------------------------------------------------------------------------ scenarios ---

/**
 * Case 1: the leader's connections to the API go silent, then it gets SIGTERM (a rolling update during a network
 * blip). Its hook hears leadership.stopped no later than its last renew + renew deadline, and strictly before the
 * successor's hook hears leadership.started.
 */
async function partitionedLeaderSigterm(cluster: Cluster): Promise<void> {
  const election = electionName('blip');
  const renewDeadlineMs = 4000;
  const timings = ['--lease-duration=6s', `--renew-deadline=${renewDeadlineMs}ms`, '--retry-period=1s'];
  const nodes = await startPair(cluster, election, timings);
  try {
    const { leader, follower } = await leaderAndFollower(nodes);
    await sleep(1500);
    leader.proxy.partition();
    const partitionedAt = performance.now();
    // The newest renew that reached the server bounds the leader's own last successful renew.
    const lease = await cluster.coordination.readNamespacedLease({ name: election, namespace: cluster.namespace });
    const renewedAgoMs = Date.now() - new Date(lease.spec!.renewTime as unknown as string).getTime();
    await sleep(3000);
    leader.replica.signal('SIGTERM');
    const started = await waitFor(
      'the follower to start leading',
      () => firstEvent(follower, 'leadership.started'),
      20_000,
    );
    const stopped = await waitFor(
      "the old leader's hook to hear leadership.stopped",
      () => firstEvent(leader, 'leadership.stopped'),
      20_000,
    );
    assert.ok(
      stopped.at < started.at,
      `the old leader's hook heard stopped ${Math.round(stopped.at - started.at)} ms after the new leader's heard started`,
    );
    const boundMs = renewDeadlineMs - renewedAgoMs;
    const stoppedAfterMs = stopped.at - partitionedAt;
    // 300 ms for the hook's delivery and a busy machine.
    assert.ok(
      stoppedAfterMs <= boundMs + 300,
      `stopped ${Math.round(stoppedAfterMs)} ms after the partition, past last renew + renew deadline (${Math.round(boundMs)} ms)`,
    );
    leader.proxy.heal();
    assert.equal(await leader.replica.exited, 0);
  } finally {
    await stopNodes(nodes);
  }
}

/**
 * Case 2: a follower's watch goes silent (no FIN/RST) while the leader keeps renewing, for 30 s; then a follower is
 * paused (SIGSTOP) past the lease and resumed. Zero "no leader" reports, no doomed write.
 */
async function silentFollowerWatch(cluster: Cluster): Promise<void> {
  const election = electionName('silent');
  const timings = ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=500ms'];
  const nodes = await startPair(cluster, election, timings);
  try {
    const leaderId = await agreedLeader(nodes.map((node) => node.replica));
    const follower = nodes.find((node) => node.id !== leaderId)!;
    await sleep(1000);
    const writesBefore = await metric(follower.replica, 'leaderhook_api_requests_total', 'verb="update"');
    const silencedAt = performance.now();
    assert.ok(follower.proxy.silence() >= 1, "the follower's watch connection was open");
    const views: string[] = [];
    while (performance.now() - silencedAt < 30_000) {
      const view = await follower.replica.leader();
      if (view) views.push(view.leader);
      await sleep(100);
    }
    const falseReports = hookEvents(follower).filter(
      (event) => event.type === 'leader.changed' && event.at > silencedAt,
    );
    assert.deepEqual(falseReports, [], 'the follower reported no leader change');
    assert.ok(
      views.length > 100 && views.every((leader) => leader === leaderId),
      `GET /leader named ${leaderId} throughout (${[...new Set(views)].join(', ')})`,
    );
    assert.equal(
      await metric(follower.replica, 'leaderhook_api_requests_total', 'verb="update"'),
      writesBefore,
      'the follower wrote nothing',
    );

    // A follower resumed after a pause past the lease: it reads the renewals that waited for it, no "no leader".
    const pausedAt = performance.now();
    follower.replica.signal('SIGSTOP');
    await sleep(5000);
    follower.replica.signal('SIGCONT');
    await sleep(2000);
    assert.deepEqual(
      hookEvents(follower).filter((event) => event.type === 'leader.changed' && event.at > pausedAt),
      [],
      'no change reported after the pause',
    );
    assert.equal((await follower.replica.leader())?.leader, leaderId);
  } finally {
    await stopNodes(nodes);
  }
}

/**
 * Case 3: two processes with one identity (hostNetwork pods: no --id, no POD_NAME, one hostname). At most one leads,
 * a clear error names the identity and the fix, the clash is counted, and only one hook hears leadership.started.
 */
async function duplicateIdentity(cluster: Cluster): Promise<void> {
  const election = electionName('twin');
  const timings = ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=500ms'];
  const id = `${election}-node`;
  const first = await startNode(cluster, id, election, timings);
  const nodes = [first];
  try {
    await waitFor('the first process to lead', async () => (await first.replica.leader())?.isLeader === true, 20_000);
    nodes.push(await startNode(cluster, id, election, timings));
    const second = nodes[1]!;
    const guard = guardOneLeader(() => nodes.map((node) => node.replica));
    const line = await waitFor(
      'the identity clash error',
      () =>
        nodes
          .flatMap((node) => node.replica.logs)
          .find((entry) => entry.level === 'error' && String(entry.msg).includes(`identity "${id}"`)),
      15_000,
    );
    assert.match(String(line.msg), /--id/, 'the error says how to fix it');
    await sleep(5000);
    assert.ok((await guard.stop()) > 50, 'sampled throughout');
    const clashes =
      (await metric(first.replica, 'leaderhook_identity_clashes_total')) +
      (await metric(second.replica, 'leaderhook_identity_clashes_total'));
    assert.ok(clashes >= 1, 'the clash is counted');
    const starts = nodes.map((node) => hookEvents(node).filter((event) => event.type === 'leadership.started').length);
    assert.equal(starts[1], 0, "the second process's hook never heard leadership.started");
    assert.equal((await first.replica.leader())?.isLeader, true, 'the first process still leads');
  } finally {
    await stopNodes(nodes);
  }
}

/**
 * Case 4: on SIGTERM the leader first tells its local hook leadership.stopped (reason shutdown), waits for the 2xx,
 * and only then releases: the successor's hook hears leadership.started after the old hook answered.
 */
async function stopBeforeRelease(cluster: Cluster): Promise<void> {
  const election = electionName('handover');
  const timings = ['--lease-duration=6s', '--renew-deadline=4s', '--retry-period=1s'];
  // The old leader's main container takes 700 ms to stop its leader work before it answers.
  const slowHook = await Receiver.start({ fallback: { status: 200 } });
  const nodes = [await startNode(cluster, `${election}-a`, election, timings, [], slowHook)];
  try {
    await waitFor('a to lead', async () => (await nodes[0]!.replica.leader())?.isLeader === true, 20_000);
    nodes.push(await startNode(cluster, `${election}-b`, election, timings));
    const [old, next] = nodes as [Node, Node];
    assert.equal(await agreedLeader([old.replica, next.replica]), old.id);
    slowHook.script = [{ status: 200, delayMs: 700 }];
    const sentAt = performance.now();
    old.replica.signal('SIGTERM');
    const started = await waitFor('b to start leading', () => firstEvent(next, 'leadership.started'), 10_000);
    const stopped = firstEvent(old, 'leadership.stopped', sentAt);
    assert.ok(stopped, "the old leader's hook heard leadership.stopped");
    assert.equal(stopped.reason, 'shutdown');
    assert.ok(
      started.at - stopped.at >= 700,
      `the successor started ${Math.round(started.at - stopped.at)} ms after the old hook heard stopped (its answer took 700 ms)`,
    );
    assert.ok(started.at - sentAt < 3000, `the handover still took only ${Math.round(started.at - sentAt)} ms`);
    assert.equal(await old.replica.exited, 0);
  } finally {
    await stopNodes(nodes);
  }
}

/** Every delivery a receiver got: its webhook-id, the event's type, term, subject and who sent it, and when. */
interface Delivery {
  id: string;
  type: string;
  transitions: number;
  leader: string;
  /** Who the event is about: the new leader for leader.changed, the replica that started or stopped otherwise. */
  subject: string;
  observer: string;
  at: number;
}

function deliveries(receiver: Receiver): Delivery[] {
  return receiver.received.map((request) => {
    const { type, data } = JSON.parse(request.body) as {
      type: string;
      data: { leader: string; previousLeader: string; transitions: number; observer: string };
    };
    return {
      id: String(request.headers['webhook-id']),
      type,
      transitions: data.transitions,
      leader: data.leader,
      subject: type === 'leadership.stopped' ? data.previousLeader : data.leader,
      observer: data.observer,
      at: request.at,
    };
  });
}

/**
 * Issue 14.2 for a leader: paused past its renew deadline (below the lease) it steps down and takes its own record
 * back; later paused past the lease, another replica takes over. It never reports "no leader" on a guess: it keeps
 * naming itself (not leading) until a read shows the lock, so no hook or webhook hears leader.changed to "" from it,
 * and the only "no leader" is the real end of its term, with one webhook-id on every replica and target; no webhook-id
 * names two different events.
 */
async function steppedDownLeader(cluster: Cluster): Promise<void> {
  const election = electionName('stepdown');
  // A lease of 4 s leaves the resumed leader 1 s or more to read and take its record back after a 2.5 s pause.
  const timings = ['--lease-duration=4s', '--renew-deadline=2s', '--retry-period=500ms'];
  const webhook = await Receiver.start();
  const nodes = await startPair(cluster, election, timings, [`--webhook=${webhook.url}`]);
  const receivers = [...nodes.map((node) => node.hook), webhook];
  const noLeader = (receiver: Receiver, after = 0) =>
    deliveries(receiver).filter((event) => event.type === 'leader.changed' && event.leader === '' && event.at >= after);
  try {
    const { leaderId, leader, follower } = await leaderAndFollower(nodes);
    const term = (await leader.replica.leader())!.transitions;
    await sleep(1000);

    // Past the renew deadline, below the lease: it steps down and takes its own, still valid, record back.
    const firstPauseAt = performance.now();
    leader.replica.signal('SIGSTOP');
    await sleep(2500);
    leader.replica.signal('SIGCONT');
    const stoppedOnce = await waitFor(
      'the resumed leader to report that it stopped leading',
      () => firstEvent(leader, 'leadership.stopped', firstPauseAt),
      10_000,
    );
    assert.equal(stoppedOnce.reason, 'renew-deadline');
    const startedAgain = await waitFor(
      'the resumed leader to take its record back',
      () => firstEvent(leader, 'leadership.started', firstPauseAt),
      10_000,
    );
    assert.equal(startedAgain.transitions, term, 'the same term');
    assert.equal((await follower.replica.leader())?.leader, leaderId, 'the follower named it throughout');
    await sleep(1500);
    for (const receiver of receivers)
      assert.deepEqual(noLeader(receiver), [], 'nobody heard "no leader": the election never was without one');

    // Past the lease: the follower takes over; the old leader resumes into the new term.
    await sleep(2500);
    const secondPauseAt = performance.now();
    leader.replica.signal('SIGSTOP');
    await waitFor('the follower to take over', () => firstEvent(follower, 'leadership.started'), 20_000);
    await sleep(Math.max(0, 6000 - (performance.now() - secondPauseAt)));
    leader.replica.signal('SIGCONT');
    await waitFor(
      'the old leader to name the new one',
      async () => (await leader.replica.leader())?.leader === follower.id,
      10_000,
    );
    const body = (await leader.replica.leader())!;
    assert.deepEqual([body.leader, body.isLeader], [follower.id, false]);
    await sleep(1500);
    assert.deepEqual(
      hookEvents(leader)
        .filter((event) => event.type === 'leader.changed')
        .map((event) => event.leader),
      [leaderId, follower.id],
      'the old leader went from itself straight to its successor',
    );

    // The one real "no leader": the end of the old term, confirmed by the follower's read, with one id everywhere.
    assert.deepEqual(noLeader(leader.hook), [], 'the old leader never reported "no leader"');
    const real = noLeader(follower.hook);
    assert.equal(real.length, 1, "the follower's hook heard one 'no leader'");
    assert.equal(real[0]!.transitions, term, 'the end of the old term');
    const atWebhook = noLeader(webhook);
    assert.ok(atWebhook.length >= 1, 'the leader-scope webhook heard the end of the old term');
    for (const event of atWebhook) {
      assert.equal(event.transitions, term);
      assert.equal(event.id, real[0]!.id, 'the same event has the same webhook-id on every replica and target');
    }

    // No webhook-id names two different events, anywhere in the sequence.
    const named = new Map<string, string>();
    for (const event of receivers.flatMap(deliveries)) {
      const what = `${event.type} ${event.transitions} ${JSON.stringify(event.subject)}`;
      assert.equal(named.get(event.id) ?? what, what, `webhook-id ${event.id} names two events`);
      named.set(event.id, what);
    }
    for (const type of ['leadership.started', 'leadership.stopped']) {
      const own = deliveries(leader.hook).filter((event) => event.type === type);
      assert.equal(own.length, 2, `the old leader's hook heard ${type} for each of its two runs`);
      assert.equal(new Set(own.map((event) => event.id)).size, 2, `its two ${type} events have two ids`);
    }
  } finally {
    await stopNodes(nodes);
    await webhook.close();
  }
}

/**
 * Issue 14.2 for a leader cut off from the API past its renew deadline while another replica takes over: it reports
 * leadership.stopped, names itself (not leading) on /leader and nobody on GET / (its main container must not act as
 * leader), and never hears "no leader" from itself; once healed it names the new leader.
 */
async function partitionedLeaderNoGuess(cluster: Cluster): Promise<void> {
  const election = electionName('cutoff');
  const timings = ['--lease-duration=3s', '--renew-deadline=2s', '--retry-period=500ms'];
  const nodes = await startPair(cluster, election, timings);
  try {
    const { leaderId, leader, follower } = await leaderAndFollower(nodes);
    await sleep(1000);
    const partitionedAt = performance.now();
    leader.proxy.partition();
    await waitFor('the follower to take over', () => firstEvent(follower, 'leadership.started'), 20_000);
    await waitFor('the old leader to step down', () => firstEvent(leader, 'leadership.stopped', partitionedAt), 10_000);
    const body = (await leader.replica.leader())!;
    assert.deepEqual(
      [body.leader, body.isLeader],
      [leaderId, false],
      'the record it last saw still names it; it does not lead',
    );
    const name = ((await (await fetch(`${leader.replica.url}/`)).json()) as { name: string }).name;
    assert.equal(name, '', 'GET / does not name a replica that does not lead');
    assert.equal((await follower.replica.leader())?.leader, follower.id);
    leader.proxy.heal();
    await waitFor(
      'the old leader to name the new one',
      async () => (await leader.replica.leader())?.leader === follower.id,
      15_000,
    );
    await sleep(500);
    assert.deepEqual(
      hookEvents(leader)
        .filter((event) => event.type === 'leader.changed')
        .map((event) => event.leader),
      [leaderId, follower.id],
      'from itself straight to its successor: no "no leader" on a guess',
    );
  } finally {
    await stopNodes(nodes);
  }
}

/** Issue 9.1: another client's Lease with leaseDurationSeconds 2147483647 (beyond any timer): followers do not spin. */
async function endlessForeignLease(cluster: Cluster): Promise<void> {
  const election = electionName('ghost');
  await writeForeignLease(cluster, election, {
    holderIdentity: 'ghost',
    leaseDurationSeconds: 2_147_483_647,
    leaseTransitions: 0,
  });
  const timings = ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=500ms'];
  const nodes = await startPair(cluster, election, timings);
  try {
    for (const node of nodes)
      await waitFor(
        `${node.id} to report the ghost`,
        async () => (await node.replica.leader())?.leader === 'ghost',
        20_000,
      );
    const cpuBefore = nodes.map((node) => cpuSeconds(node.replica.process.pid!));
    const linesBefore = nodes.map((node) => node.replica.logs.length + node.replica.stderr.length);
    const requestsBefore = await Promise.all(
      nodes.map((node) => metric(node.replica, 'leaderhook_api_requests_total')),
    );
    await sleep(5000);
    for (const [index, node] of nodes.entries()) {
      const cpu = cpuSeconds(node.replica.process.pid!) - cpuBefore[index]!;
      const lines = node.replica.logs.length + node.replica.stderr.length - linesBefore[index]!;
      const requests = (await metric(node.replica, 'leaderhook_api_requests_total')) - requestsBefore[index]!;
      // An idle replica uses a few hundredths of a second in 5 s; a timer overflowing to 1 ms spins at ~10% of a core.
      assert.ok(cpu < 0.3, `${node.id} used ${cpu.toFixed(2)} s of CPU in 5 s`);
      assert.ok(lines <= 5, `${node.id} wrote ${lines} lines (stdout and stderr) in 5 s`);
      assert.ok(requests <= 12, `${node.id} sent ${requests} API requests in 5 s`);
      assert.equal((await node.replica.leader())?.leader, 'ghost');
    }
  } finally {
    await stopNodes(nodes);
  }
}

/** Issue 9.2: leaseTransitions at int32 max: the takeover never writes a value the API rejects, and someone leads. */
async function transitionsAtLimit(cluster: Cluster): Promise<void> {
  const election = electionName('limit');
  await writeForeignLease(cluster, election, {
    holderIdentity: 'ghost',
    leaseDurationSeconds: 1,
    leaseTransitions: 2_147_483_647,
  });
  const timings = ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=500ms'];
  const nodes = [await startNode(cluster, `${election}-a`, election, timings)];
  try {
    await waitFor(
      'a to take over the expired lease',
      async () => (await nodes[0]!.replica.leader())?.isLeader === true,
      20_000,
    );
    const lease = await cluster.coordination.readNamespacedLease({ name: election, namespace: cluster.namespace });
    assert.equal(lease.spec?.holderIdentity, nodes[0]!.id);
    assert.equal(lease.spec?.leaseTransitions, 2_147_483_647, 'saturated at the int32 limit');
    assert.equal(
      await metric(nodes[0]!.replica, 'leaderhook_api_requests_total', 'code="400"'),
      0,
      'no write the API refused',
    );
  } finally {
    await stopNodes(nodes);
  }
}

export const faultScenarios = [
  {
    name: 'case 1: a partitioned leader gets SIGTERM: its hook hears stopped within the renew deadline, before the successor starts',
    run: partitionedLeaderSigterm,
  },
  {
    name: 'case 2: a silent follower watch for 30 s, then a follower paused past the lease: no false "no leader", no doomed write',
    run: silentFollowerWatch,
  },
  {
    name: 'case 3: two processes with one identity: a clear error, counted, at most one leader',
    run: duplicateIdentity,
  },
  {
    name: 'case 4: SIGTERM: the local hook hears stopped and answers before the lock is released',
    run: stopBeforeRelease,
  },
  {
    name: 'a leader paused past its renew deadline: no "no leader" on a guess, one webhook-id per event, as it takes its record back and as another takes over',
    run: steppedDownLeader,
  },
  {
    name: 'a leader partitioned past its renew deadline while another takes over: stopped, no "no leader" on a guess',
    run: partitionedLeaderNoGuess,
  },
  {
    name: 'a foreign Lease with leaseDurationSeconds 2147483647: followers report it and do not spin',
    run: endlessForeignLease,
  },
  {
    name: 'leaseTransitions at 2147483647: the takeover saturates, the API accepts it, a replica leads',
    run: transitionsAtLimit,
  },
];
