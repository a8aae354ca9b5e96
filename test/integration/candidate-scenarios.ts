// Leadership gated on the main container's health (--candidate-check), written once and run against any Cluster:
// the embedded Lease API in npm test and a real kube-apiserver in the real-API suite. Every replica is a real
// leaderhook process; every main container is a real HTTP server with a readiness endpoint and a hook.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { agreedLeader, guardOneLeader } from '../support/leadership.ts';
import { Replica, waitFor } from '../support/replica.ts';
import type { Cluster } from './cluster.ts';

const run = Date.now().toString(36);
let counter = 0;
const electionName = (what: string): string => `${what}-${run}-${++counter}`;

// A renew deadline long enough for the old leader's hook to take its 800 ms within the stop-before-release bound
// (last renew + renew deadline − retry period).
const TIMINGS = ['--lease-duration=3s', '--renew-deadline=2500ms', '--retry-period=500ms'];
const HOOK_DELAY_MS = 800;
const CHECK_INTERVAL_MS = 300;
const CHECK_FAILURES = 3;

interface HookEvent {
  type: string;
  reason?: string;
  at: number;
}

/** A main container: `GET /ready` answers `readyStatus`; `POST /hook` keeps leaderhook's events, answered 200. */
class MainContainer {
  readyStatus: number;
  /** How long the hook takes to answer leadership.stopped (the app stopping its leader work). */
  stopDelayMs = 0;
  readonly events: HookEvent[] = [];
  readonly #server: Server;

  private constructor(readyStatus: number) {
    this.readyStatus = readyStatus;
    this.#server = createServer((request, response) => {
      if (request.method === 'GET' && request.url === '/ready') {
        response.writeHead(this.readyStatus).end();
        return;
      }
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; data: { reason?: string } };
        this.events.push({
          type: body.type,
          at: performance.now(),
          ...(body.data.reason ? { reason: body.data.reason } : {}),
        });
        const delayMs = body.type === 'leadership.stopped' ? this.stopDelayMs : 0;
        setTimeout(() => response.writeHead(200).end(), delayMs);
      });
    });
  }

  static async start(readyStatus: number): Promise<MainContainer> {
    const app = new MainContainer(readyStatus);
    app.#server.listen(0, '127.0.0.1');
    await once(app.#server, 'listening');
    return app;
  }

  get #base(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  args(): string[] {
    return [
      `--candidate-check=${this.#base}/ready`,
      `--candidate-check-interval=${CHECK_INTERVAL_MS}ms`,
      `--candidate-check-timeout=${CHECK_INTERVAL_MS}ms`,
      `--candidate-check-failures=${CHECK_FAILURES}`,
      `--hook=${this.#base}/hook`,
    ];
  }

  first(type: string, after = 0): HookEvent | undefined {
    return this.events.find((event) => event.type === type && event.at >= after);
  }

  close(): void {
    this.#server.closeAllConnections();
    this.#server.close();
  }
}

interface Pod {
  replica: Replica;
  app: MainContainer;
}

async function startPod(cluster: Cluster, id: string, election: string, readyStatus: number): Promise<Pod> {
  const app = await MainContainer.start(readyStatus);
  const replica = await Replica.start({
    id,
    kubeconfig: cluster.replicaKubeconfig,
    election,
    args: [`--election-namespace=${cluster.namespace}`, ...TIMINGS, '--events=false', ...app.args()],
  });
  // Process start-up is not what the scenario's bounds measure.
  await waitFor(`${id} to answer on HTTP`, () => replica.leader(), 60_000, 50);
  return { replica, app };
}

interface CandidateBody {
  healthy: boolean;
  consecutiveFailures: number;
  failureThreshold: number;
  checkedAt: string | null;
  lastResult: string | null;
}

async function candidateOf(replica: Replica): Promise<CandidateBody | undefined> {
  const view = (await replica.leader()) as { candidate?: CandidateBody } | undefined;
  return view?.candidate;
}

async function gauge(replica: Replica, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${replica.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  const line = text.split('\n').find((entry) => entry.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/**
 * A replica whose app is not ready never writes the Lease and never leads while a healthy one exists; the leader whose
 * app turns unhealthy steps down (reason candidate-unhealthy) after --candidate-check-failures checks, its hook hears
 * leadership.stopped before the lock is released, and a healthy replica leads at once; a recovered replica follows,
 * and leads once it is the only healthy one left.
 */
async function leadershipFollowsHealth(cluster: Cluster): Promise<void> {
  const election = electionName('candidate');
  const pods: Pod[] = [];
  let guard: { stop(): Promise<number> } | undefined;
  try {
    const starting = await startPod(cluster, `${election}-a`, election, 503);
    pods.push(starting);
    await waitFor(
      'a to fail its checks',
      async () => ((await candidateOf(starting.replica))?.consecutiveFailures ?? 0) >= CHECK_FAILURES,
      20_000,
    );
    await sleep(1000);
    assert.equal((await starting.replica.leader())?.isLeader, false);
    await assert.rejects(
      cluster.coordination.readNamespacedLease({ name: election, namespace: cluster.namespace }),
      (error: { code?: number }) => error.code === 404,
      'a replica whose app is not ready does not even create the Lease',
    );
    assert.deepEqual(
      { ...(await candidateOf(starting.replica)), checkedAt: undefined, consecutiveFailures: undefined },
      {
        healthy: false,
        consecutiveFailures: undefined,
        failureThreshold: CHECK_FAILURES,
        checkedAt: undefined,
        lastResult: 'HTTP 503',
      },
    );
    assert.equal(await gauge(starting.replica, 'leaderhook_candidate_healthy'), 0);

    pods.push(
      await startPod(cluster, `${election}-b`, election, 200),
      await startPod(cluster, `${election}-c`, election, 200),
    );
    const replicas = () => pods.filter((pod) => pod.replica.process.exitCode === null).map((pod) => pod.replica);
    const firstId = await agreedLeader(replicas());
    guard = guardOneLeader(replicas);
    assert.notEqual(firstId, starting.replica.id);
    assert.deepEqual(await (await fetch(`${starting.replica.url}/`)).json(), { name: firstId }, 'GET / unchanged');
    const first = pods.find((pod) => pod.replica.id === firstId)!;
    const second = pods.find((pod) => pod !== first && pod !== starting)!;
    assert.equal((await candidateOf(first.replica))?.healthy, true);
    assert.equal(await gauge(first.replica, 'leaderhook_candidate_healthy'), 1);

    // The leader's app turns unhealthy; its hook takes 800 ms to stop the app's leader work.
    first.app.stopDelayMs = HOOK_DELAY_MS;
    const sickAt = performance.now();
    first.app.readyStatus = 503;
    const started = await waitFor('the healthy replica to start leading', () => second.app.first('leadership.started'));
    const stopped = first.app.first('leadership.stopped', sickAt);
    assert.ok(stopped, "the old leader's hook heard leadership.stopped");
    assert.equal(stopped.reason, 'candidate-unhealthy');
    assert.ok(
      started.at - stopped.at >= HOOK_DELAY_MS,
      `stop before release: the successor started ${Math.round(started.at - stopped.at)} ms after the old hook heard stopped (it answered after ${HOOK_DELAY_MS} ms)`,
    );
    const handoverMs = started.at - sickAt;
    // 3 checks 300 ms apart, the hook's 800 ms, the release and the takeover, on a busy machine.
    assert.ok(handoverMs < 5000, `a healthy replica led ${Math.round(handoverMs)} ms after the leader's app failed`);
    assert.equal(await agreedLeader(replicas()), second.replica.id);
    const stepDown = first.replica.logs.find((line) => line.msg === 'stopped leading');
    assert.equal(stepDown?.reason, 'candidate-unhealthy');
    // One line per change, not one per failed check (a check that timed out while the process started may add a pair).
    const changes = first.replica.logs
      .map((line) => String(line.msg))
      .filter((msg) => msg.startsWith('candidate check'))
      .map((msg) => (msg.startsWith('candidate check passed') ? 'passed' : 'failed'));
    assert.equal(changes.at(-1), 'failed');
    assert.ok(
      changes.every((state, index) => index === 0 || state !== changes[index - 1]),
      `the check's lines alternate: ${changes.join(', ')}`,
    );
    assert.equal(
      starting.app.first('leadership.started'),
      undefined,
      'the replica whose app was never ready never led',
    );

    // The first replica's app recovers: it campaigns again, but follows the leader it finds.
    starting.app.readyStatus = 200;
    await waitFor('a to pass its check', async () => (await candidateOf(starting.replica))?.healthy === true);
    await sleep(1000);
    assert.equal(await agreedLeader(replicas()), second.replica.id, 'a recovered replica does not take over');

    // The leader goes away: of the two left, only the healthy one may lead.
    second.replica.signal('SIGTERM');
    assert.equal(await second.replica.exited, 0);
    assert.equal(await agreedLeader(replicas(), second.replica.id), starting.replica.id);
    assert.equal(first.app.first('leadership.started', sickAt), undefined, 'the unhealthy replica never led again');
    const samples = await guard.stop();
    guard = undefined;
    assert.ok(samples > 20, 'sampled throughout');
  } finally {
    await guard?.stop().catch(() => undefined);
    await Promise.all(pods.map((pod) => pod.replica.stop()));
    for (const pod of pods) pod.app.close();
  }
}

export const candidateScenarios = [
  {
    name: '--candidate-check: an unready app never leads; the leader whose app fails steps down, its hook first, and a healthy replica leads',
    run: leadershipFollowsHealth,
  },
];
