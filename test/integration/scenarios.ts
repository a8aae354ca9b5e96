// The election scenarios, written once and run against any Cluster: the embedded Lease API (in npm test) and a real
// kube-apiserver (test/real-api/integration.test.ts). Every replica is a real leaderhook process.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Receiver, type Received } from '../notify/receiver.ts';
import { agreedLeader, guardOneLeader } from '../support/leadership.ts';
import { Replica, waitFor } from '../support/replica.ts';
import { ELECTION_RULES, type Cluster, type Rule } from './cluster.ts';
import { candidateScenarios } from './candidate-scenarios.ts';
import { faultScenarios } from './fault-scenarios.ts';

export const TIMINGS = ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=500ms'];
const LEASE_MS = 2000;
const RETRY_MS = 500;
const LEGACY_ANNOTATION = 'control-plane.alpha.kubernetes.io/leader';

const run = Date.now().toString(36);
let counter = 0;
const electionName = (what: string): string => `${what}-${run}-${++counter}`;

/** Starts a replica and waits until it answers on HTTP: process start-up is not what a scenario's bounds measure. */
export async function startReplica(
  cluster: Cluster,
  id: string,
  election: string,
  extra: string[] = [],
  kubeconfig = cluster.replicaKubeconfig,
): Promise<Replica> {
  const replica = await Replica.start({
    id,
    kubeconfig,
    election,
    args: [`--election-namespace=${cluster.namespace}`, ...TIMINGS, ...extra],
  });
  const exited = replica.exited.then((code) => {
    throw new Error(`${id} exited (${code}) before it answered on HTTP: ${replica.stderr.join('\n')}`);
  });
  await Promise.race([waitFor(`${id} to answer on HTTP`, () => replica.leader(), 60_000, 50), exited]);
  exited.catch(() => {});
  return replica;
}

function startReplicas(cluster: Cluster, election: string, count: number, extra: string[] = []): Promise<Replica[]> {
  return Promise.all(
    Array.from({ length: count }, (_, index) => startReplica(cluster, `${election}-${index + 1}`, election, extra)),
  );
}

async function stopAll(replicas: Replica[]): Promise<void> {
  await Promise.all(replicas.map((replica) => replica.stop()));
}

/** The sum of `leaderhook_api_requests_total` samples for `verb` (and `code`, if given). */
export async function apiRequests(replica: Replica, verb: string, code?: string): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('leaderhook_api_requests_total{')) continue;
    if (!line.includes(`verb="${verb}"`) || (code !== undefined && !line.includes(`code="${code}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

const logged = (replica: Replica, test: (message: string) => boolean) =>
  replica.logs.find((line) => test(line.msg ?? ''));

// ------------------------------------------------------------------------------------------------ scenarios ---

async function acquireRenewRelease(cluster: Cluster): Promise<void> {
  const election = electionName('arr');
  const replica = await startReplica(cluster, `${election}-a`, election);
  try {
    await waitFor('the replica to lead', async () => (await replica.leader())?.isLeader === true);
    const first = await cluster.coordination.readNamespacedLease({ name: election, namespace: cluster.namespace });
    assert.equal(first.spec?.holderIdentity, replica.id);
    assert.equal(first.spec?.leaseDurationSeconds, 2);
    assert.equal(first.spec?.leaseTransitions ?? 0, 0);
    await sleep(2 * RETRY_MS + 200);
    const renewed = await cluster.coordination.readNamespacedLease({ name: election, namespace: cluster.namespace });
    assert.equal(renewed.spec?.holderIdentity, replica.id);
    assert.notEqual(renewed.metadata?.resourceVersion, first.metadata?.resourceVersion, 'renewed');
    assert.ok(
      new Date(renewed.spec.renewTime!).getTime() > new Date(first.spec.renewTime!).getTime(),
      'renewTime moves on',
    );
    assert.equal(
      new Date(renewed.spec.acquireTime!).getTime(),
      new Date(first.spec.acquireTime!).getTime(),
      'acquireTime stays',
    );

    replica.signal('SIGTERM');
    assert.equal(await replica.exited, 0);
    assert.ok(
      logged(replica, (msg) => msg === 'released the lock'),
      'logs the release',
    );
    const released = await cluster.coordination.readNamespacedLease({ name: election, namespace: cluster.namespace });
    assert.ok(!released.spec?.holderIdentity, `released: holder ${JSON.stringify(released.spec?.holderIdentity)}`);
    assert.equal(released.spec?.leaseTransitions ?? 0, 0);
  } finally {
    await replica.stop();
  }
}

async function threeReplicasFailover(cluster: Cluster): Promise<void> {
  const replicas = await startReplicas(cluster, electionName('three'), 3);
  let live = [...replicas];
  try {
    const first = await agreedLeader(live);
    const guard = guardOneLeader(() => live);
    await sleep(3 * RETRY_MS);
    assert.equal(await agreedLeader(live), first, 'leadership is stable');

    const graceful = live.find((replica) => replica.id === first)!;
    let sentAt = performance.now();
    graceful.signal('SIGTERM');
    assert.equal(await graceful.exited, 0);
    live = live.filter((replica) => replica !== graceful);
    const second = await agreedLeader(live, first);
    const gracefulMs = performance.now() - sentAt;
    assert.ok(gracefulMs < 1000, `SIGTERM failover took ${Math.round(gracefulMs)} ms`);

    const crashed = live.find((replica) => replica.id === second)!;
    sentAt = performance.now();
    crashed.signal('SIGKILL');
    await crashed.exited;
    live = live.filter((replica) => replica !== crashed);
    const third = await agreedLeader(live, second);
    const crashMs = performance.now() - sentAt;
    assert.ok(crashMs < LEASE_MS + RETRY_MS + 1500, `SIGKILL failover took ${Math.round(crashMs)} ms`);
    assert.ok((await guard.stop()) > 20, 'sampled throughout');
    assert.equal((await live[0]!.leader())?.transitions, 2, 'leaseTransitions counts both holder changes');
    const lease = await cluster.coordination.readNamespacedLease({
      name: replicas[0]!.id.replace(/-1$/, ''),
      namespace: cluster.namespace,
    });
    assert.equal(lease.spec?.holderIdentity, third);
    assert.equal(lease.spec?.leaseTransitions, 2);
  } finally {
    await stopAll(replicas);
  }
}

async function fiveRacing(cluster: Cluster): Promise<void> {
  const replicas = await startReplicas(cluster, electionName('race'), 5);
  try {
    const guard = guardOneLeader(() => replicas);
    const leader = await agreedLeader(replicas);
    await sleep(4 * RETRY_MS);
    assert.equal(await agreedLeader(replicas), leader, 'leadership is stable');
    await guard.stop();
  } finally {
    await stopAll(replicas);
  }
}

type LegacyFormat = 'python-client' | 'leader-elector-0.4';

/** A lock record written by another client, as it writes it. */
function foreignRecord(
  format: LegacyFormat,
  holder: string,
  leaseSeconds: number,
): { text: string; transitions: number } {
  const now = new Date();
  if (format === 'python-client') {
    // kubernetes-client/python's leader election: durations as strings, times without T/Z (see the fixture).
    const time = now.toISOString().replace('T', ' ').replace('Z', '000');
    return {
      text: JSON.stringify({
        holderIdentity: holder,
        leaseDurationSeconds: String(leaseSeconds),
        acquireTime: time,
        renewTime: time,
      })
        .replaceAll('","', '", "')
        .replaceAll('":', '": '),
      transitions: 0,
    };
  }
  // leader-elector 0.4 (client-go of 2016): RFC 3339 times with second precision, leaderTransitions.
  const time = now.toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    text: JSON.stringify({
      holderIdentity: holder,
      leaseDurationSeconds: leaseSeconds,
      acquireTime: time,
      renewTime: time,
      leaderTransitions: 4,
    }),
    transitions: 4,
  };
}

async function readAnnotation(
  cluster: Cluster,
  kind: 'configmaps' | 'endpoints',
  name: string,
): Promise<Record<string, unknown>> {
  const object =
    kind === 'configmaps'
      ? await cluster.core.readNamespacedConfigMap({ name, namespace: cluster.namespace })
      : await cluster.core.readNamespacedEndpoints({ name, namespace: cluster.namespace });
  const text = object.metadata?.annotations?.[LEGACY_ANNOTATION];
  assert.ok(text, `${kind}/${name} carries ${LEGACY_ANNOTATION}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/**
 * A legacy annotation lock held by another client: leaderhook reports that holder, respects the record until it
 * has stayed unchanged for its lease duration as observed here, then takes over; a second replica follows, and a
 * SIGTERM hands over at once.
 */
async function legacyLock(cluster: Cluster, kind: 'configmaps' | 'endpoints', format: LegacyFormat): Promise<void> {
  const election = electionName(`legacy-${kind}`);
  const foreign = format === 'python-client' ? 'py1' : 'elector-0.4-pod';
  const record = foreignRecord(format, foreign, 3);
  const body = { metadata: { name: election, annotations: { [LEGACY_ANNOTATION]: record.text } } };
  if (kind === 'configmaps') await cluster.core.createNamespacedConfigMap({ namespace: cluster.namespace, body });
  else await cluster.core.createNamespacedEndpoints({ namespace: cluster.namespace, body });
  const startedAt = performance.now();
  const a = await startReplica(cluster, `${election}-a`, election, [`--lock=${kind}`]);
  const replicas = [a];
  try {
    await waitFor(
      `a to report ${foreign} as the leader`,
      async () => {
        const view = await a.leader();
        if (view?.isLeader) throw new Error(`took over a live ${format} lock at once`);
        return view?.leader === foreign;
      },
      10_000,
    );
    assert.deepEqual(await (await fetch(`${a.url}/`)).json(), { name: foreign });
    const tookAt = await waitFor(
      'a to take over the expired lock',
      async () => ((await a.leader())?.isLeader ? performance.now() : undefined),
      15_000,
      25,
    );
    const waited = tookAt - startedAt;
    assert.ok(
      waited >= 3000,
      `respected the ${format} record for its lease duration (took over after ${Math.round(waited)} ms)`,
    );
    const taken = await readAnnotation(cluster, kind, election);
    assert.equal(taken.holderIdentity, a.id);
    assert.equal(taken.leaseDurationSeconds, 2);
    assert.equal(taken.leaderTransitions, record.transitions + 1);

    const b = await startReplica(cluster, `${election}-b`, election, [`--lock=${kind}`]);
    replicas.push(b);
    assert.equal(await agreedLeader(replicas), a.id);
    const sentAt = performance.now();
    a.signal('SIGTERM');
    assert.equal(await a.exited, 0);
    assert.equal(await agreedLeader([b], a.id), b.id);
    const handover = performance.now() - sentAt;
    assert.ok(handover < 1500, `SIGTERM handover on ${kind} took ${Math.round(handover)} ms`);
    assert.equal((await readAnnotation(cluster, kind, election)).holderIdentity, b.id);
  } finally {
    await stopAll(replicas);
  }
}

const without = (rules: Rule[], resource: string, verb: string): Rule[] =>
  rules.map((rule) =>
    rule.resources.includes(resource) ? { ...rule, verbs: rule.verbs.filter((v) => v !== verb) } : rule,
  );

async function forbidden(cluster: Cluster): Promise<void> {
  const election = electionName('rbac');
  await cluster.grant(without(ELECTION_RULES, 'leases', 'create'));
  const replica = await startReplica(cluster, `${election}-a`, election);
  try {
    const expected = `RBAC forbids create on resource "leases" (apiGroup coordination.k8s.io) in namespace "${cluster.namespace}": grant verb "create"`;
    await waitFor('the RBAC line', () => logged(replica, (msg) => msg.startsWith(expected)), 10_000);
    await sleep(2500);
    assert.equal(replica.process.exitCode, null, 'keeps running');
    const refused = await apiRequests(replica, 'create', '403');
    assert.ok(refused >= 2, `keeps retrying (${refused} refused creates)`);
    assert.equal(replica.logs.filter((line) => String(line.msg).startsWith('RBAC forbids')).length, 1, 'says it once');
    assert.equal((await replica.leader())?.isLeader, false);

    await cluster.grant(ELECTION_RULES);
    await waitFor(
      'the replica to lead once RBAC allows it',
      async () => (await replica.leader())?.isLeader === true,
      10_000,
    );
  } finally {
    await replica.stop();
    await cluster.grant(ELECTION_RULES);
  }
}

async function unauthorized(cluster: Cluster): Promise<void> {
  const election = electionName('authn');
  const replica = await startReplica(cluster, `${election}-a`, election, [], cluster.unknownTokenKubeconfig);
  try {
    await waitFor(
      'the 401 line',
      () =>
        logged(replica, (msg) =>
          msg.startsWith('the API server rejected our credentials (401 Unauthorized) on get resource "leases"'),
        ),
      10_000,
    );
    await sleep(2500);
    assert.equal(replica.process.exitCode, null, 'keeps running');
    const refused = await apiRequests(replica, 'get', '401');
    assert.ok(refused >= 2, `keeps retrying (${refused} refused reads)`);
    const view = await replica.leader();
    assert.equal(view?.isLeader, false);
    assert.equal(view?.leader, '');
  } finally {
    await replica.stop();
  }
}

/**
 * An outage (API server or store) while three replicas run: the leader steps down, nobody leads twice, one leads after.
 */
async function outage(
  cluster: Cluster,
  what: string,
  stop: () => Promise<void>,
  start: () => Promise<void>,
): Promise<void> {
  const replicas = await startReplicas(cluster, electionName(what), 3);
  try {
    const first = await agreedLeader(replicas);
    const guard = guardOneLeader(() => replicas);
    const leader = replicas.find((replica) => replica.id === first)!;
    await stop();
    try {
      await waitFor(
        'the leader to step down without the API',
        async () => (await leader.leader())?.isLeader === false,
        10_000,
        50,
      );
      await sleep(LEASE_MS);
      const views = await Promise.all(replicas.map((replica) => replica.leader()));
      assert.deepEqual(
        views.filter((view) => view?.isLeader),
        [],
        'nobody leads while the API is down',
      );
    } finally {
      await start();
    }
    const after = await agreedLeader(replicas, undefined, 60_000);
    await guard.stop();
    assert.ok(replicas.some((replica) => logged(replica, (msg) => msg === 'became leader') && replica.id === after));
    assert.ok(
      logged(leader, (msg) => msg === 'stopped leading'),
      'the leader logged stopped leading',
    );
  } finally {
    await stopAll(replicas);
  }
}

async function watchClosedByServer(cluster: Cluster): Promise<void> {
  await cluster.closeWatchesEvery?.(2);
  const replicas = await startReplicas(cluster, electionName('rewatch'), 2);
  try {
    const leaderId = await agreedLeader(replicas);
    const follower = replicas.find((replica) => replica.id !== leaderId)!;
    await sleep(1000);
    const before = { get: await apiRequests(follower, 'get'), watch: await apiRequests(follower, 'watch') };
    await sleep(9000);
    const after = { get: await apiRequests(follower, 'get'), watch: await apiRequests(follower, 'watch') };
    assert.ok(
      after.watch >= before.watch + 2,
      `the follower watched again after the server closed its watch (${before.watch} → ${after.watch})`,
    );
    assert.equal(after.get, before.get, 'the follower read nothing meanwhile');
    assert.equal(await agreedLeader(replicas), leaderId, 'leadership unchanged');
    // The follower's watch is live: a release is seen at once.
    const leader = replicas.find((replica) => replica.id === leaderId)!;
    const sentAt = performance.now();
    leader.signal('SIGTERM');
    await leader.exited;
    assert.equal(await agreedLeader([follower], leaderId), follower.id);
    assert.ok(performance.now() - sentAt < 1500, 'handover at once');
  } finally {
    await stopAll(replicas);
    await cluster.closeWatchesEvery?.(undefined);
  }
}

/**
 * One replica with a target of every format on a real receiver: what each sends when it becomes leader and, after
 * SIGTERM, when it has released the lock (no leader). The formats' libraries load only when a target needs them
 * (CloudEvents in a chunk of the bundle of its own), so this runs on every build.
 */
async function everyFormat(cluster: Cluster): Promise<void> {
  const election = electionName('formats');
  const receiver = await Receiver.start();
  const directory = mkdtempSync(join(tmpdir(), 'leaderhook-formats-'));
  const routingKeyFile = join(directory, 'routing-key');
  writeFileSync(routingKeyFile, 'R0UT1NGKEY\n');
  const base = `http://127.0.0.1:${receiver.port}`;
  const targets = [
    { name: 'json', url: `${base}/json` },
    { name: 'ce-binary', url: `${base}/ce-binary`, format: 'cloudevents' },
    { name: 'ce-structured', url: `${base}/ce-structured`, format: 'cloudevents', mode: 'structured' },
    { name: 'slack', url: `${base}/slack`, format: 'slack' },
    { name: 'alertmanager', url: `${base}/alertmanager/api/v2/alerts`, format: 'alertmanager' },
    { name: 'pagerduty', url: `${base}/pagerduty`, format: 'pagerduty', routingKeyFile },
  ].map((target) => ({ ...target, scope: 'self' }));
  writeFileSync(join(directory, 'targets.json'), JSON.stringify({ targets }));
  const replica = await startReplica(cluster, `${election}-a`, election, [
    `--config=${join(directory, 'targets.json')}`,
  ]);
  const bodies = (path: string): Received[] => receiver.received.filter((request) => request.url === path);
  const json = (request: Received | undefined): Record<string, unknown> =>
    JSON.parse(request?.body ?? 'null') as Record<string, unknown>;
  try {
    await waitFor('leadership.started on every target that reports it', () =>
      ['/json', '/ce-binary', '/ce-structured', '/slack'].every((path) => bodies(path).length > 0),
    );
    const [started] = bodies('/json');
    assert.equal(json(started).type, 'leadership.started');
    assert.equal((json(started).data as { leader?: string }).leader, replica.id);

    const [binary] = bodies('/ce-binary');
    assert.equal(binary?.headers['ce-specversion'], '1.0');
    assert.equal(binary?.headers['ce-type'], 'io.leaderhook.leadership.started');
    assert.equal(
      binary?.headers['ce-source'],
      `/apis/coordination.k8s.io/v1/namespaces/${cluster.namespace}/leases/${election}`,
    );
    assert.equal((json(binary) as { leader?: string }).leader, replica.id);

    const [structured] = bodies('/ce-structured');
    assert.match(String(structured?.headers['content-type']), /^application\/cloudevents\+json/);
    assert.equal(json(structured).specversion, '1.0');
    assert.equal(json(structured).type, 'io.leaderhook.leadership.started');

    const [slack] = bodies('/slack');
    assert.match(String(json(slack).text), new RegExp(replica.id));

    replica.signal('SIGTERM');
    assert.equal(await replica.exited, 0);
    const [alert] = json(bodies('/alertmanager/api/v2/alerts')[0]) as unknown as Array<{
      labels: Record<string, string>;
    }>;
    assert.deepEqual(alert?.labels, {
      alertname: 'LeaderhookNoLeader',
      namespace: cluster.namespace,
      election,
      severity: 'critical',
    });
    const page = bodies('/pagerduty').map(json);
    assert.deepEqual(
      page.map(({ event_action, routing_key, dedup_key }) => ({ event_action, routing_key, dedup_key })).at(-1),
      { event_action: 'trigger', routing_key: 'R0UT1NGKEY', dedup_key: `leaderhook/${cluster.namespace}/${election}` },
    );
  } finally {
    await replica.stop();
    await receiver.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

export interface Scenario {
  name: string;
  /** Why this scenario cannot run on `cluster`, if it cannot. */
  skip?(cluster: Cluster): string | undefined;
  run(cluster: Cluster): Promise<void>;
}

export const scenarios: Scenario[] = [
  { name: 'acquire, renew, release', run: acquireRenewRelease },
  { name: 'three replicas: one leader at a time through SIGTERM and SIGKILL failover', run: threeReplicasFailover },
  { name: 'five candidates racing', run: fiveRacing },
  { name: 'a target of every format: each delivers what its receiver expects', run: everyFormat },
  {
    name: '--lock=configmaps: a Python client record is respected until it expires, then taken over',
    run: (c) => legacyLock(c, 'configmaps', 'python-client'),
  },
  {
    name: '--lock=endpoints: a leader-elector 0.4 record is respected until it expires, then taken over',
    run: (c) => legacyLock(c, 'endpoints', 'leader-elector-0.4'),
  },
  {
    name: '--lock=configmaps: a leader-elector 0.4 record',
    run: (c) => legacyLock(c, 'configmaps', 'leader-elector-0.4'),
  },
  { name: '403: the log names the missing verb, the replica retries and recovers once RBAC allows it', run: forbidden },
  { name: '401: one line, keeps retrying', run: unauthorized },
  {
    name: 'the API server stopped and restarted while replicas run',
    run: (c) =>
      outage(
        c,
        'apiserver',
        () => c.stopApiServer(),
        () => c.startApiServer(),
      ),
  },
  {
    name: 'the store (etcd) stopped and restarted while replicas run',
    run: (c) =>
      outage(
        c,
        'store',
        () => c.stopStore(),
        () => c.startStore(),
      ),
  },
  {
    name: 'watches the server closes: followers watch again, with no reads',
    run: watchClosedByServer,
    skip: (cluster) =>
      cluster.closeWatchesEvery
        ? undefined
        : `${cluster.name} ends watches only at the timeoutSeconds leaderhook sends (5–10 minutes)`,
  },
  ...faultScenarios,
  ...candidateScenarios,
];
