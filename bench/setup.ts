// What every bench section runs against: an API server (the embedded Lease API, or the real kube-apiserver of
// scripts/kube-up) and leaderhook as the image runs it (the bundle, the Dockerfile's Node.js options and ENV).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CoordinationV1Api, KubeConfig, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { realCluster, type Cluster } from '../test/integration/cluster.ts';
import { appCommand, buildApp } from '../test/support/image.ts';
import { Replica, waitFor } from '../test/support/replica.ts';
import { pidsNamed } from './process-stats.ts';

export const FAST_TIMINGS = ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=500ms'];

export interface Bench {
  /** `embedded` or `kube-apiserver`. */
  readonly apiName: string;
  readonly namespace: string;
  /** Scratch directory for config files. */
  readonly directory: string;
  /** The image's /app as built here (`dist/` holds the sidecar's bundle and the library's build). */
  readonly appDirectory: string;
  /** Credentials for the API server, as replicas get them. */
  readonly kubeconfig: string;
  /** How replicas run: the image's command, or another build's (e.g. the previous one). */
  command: { args: string[]; env: Record<string, string> };
  /** A replica as a process, with the timings given (default FAST_TIMINGS). */
  start(id: string, election: string, args?: string[]): Promise<Replica>;
  /** Admin access to Leases, to play a third candidate. */
  readonly leases: CoordinationV1Api;
  /** The API server's processes (kube-apiserver and etcd, or the embedded API), for their CPU time. */
  apiServerPids(): number[];
  close(): Promise<void>;
}

const EMBEDDED_API = fileURLToPath(new URL('../embedded-api/main.ts', import.meta.url));

/** The embedded Lease API in a process of its own, as an API server is: the bench's work never delays its answers. */
async function startEmbeddedApiProcess(kubeconfig: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [EMBEDDED_API, `--kubeconfig=${kubeconfig}`], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [line] = (await Promise.race([
    once(createInterface({ input: child.stdout }), 'line'),
    once(child, 'exit'),
  ])) as [string];
  if (!line?.startsWith('{')) throw new Error('the embedded Lease API did not start');
  return child;
}

/** Builds the bundle as the image holds it (in a scratch /app) and connects to the API server chosen. */
export async function setUp(realApi: boolean): Promise<Bench> {
  const directory = mkdtempSync(join(tmpdir(), 'leaderhook-bench-'));
  const appDir = join(directory, 'app');
  console.log('building the bundle as the image holds it …');
  await buildApp(appDir);
  const command = appCommand(appDir);

  let embedded: ChildProcess | undefined;
  let cluster: Cluster | undefined;
  let kubeconfig: string;
  let adminKubeconfig: string;
  let namespace: string;
  if (realApi) {
    cluster = await realCluster();
    kubeconfig = cluster.replicaKubeconfig;
    adminKubeconfig = cluster.adminKubeconfig;
    namespace = cluster.namespace;
  } else {
    kubeconfig = join(directory, 'kubeconfig');
    embedded = await startEmbeddedApiProcess(kubeconfig);
    adminKubeconfig = kubeconfig;
    namespace = 'default';
  }
  const admin = new KubeConfig();
  admin.loadFromFile(adminKubeconfig);
  mkdirSync(join(directory, 'config'), { recursive: true });
  const bench: Bench = {
    apiName: realApi ? 'kube-apiserver' : 'embedded',
    namespace,
    directory: join(directory, 'config'),
    appDirectory: appDir,
    kubeconfig,
    command,
    leases: admin.makeApiClient(CoordinationV1Api),
    apiServerPids: () => (embedded ? [embedded.pid as number] : pidsNamed(/^(kube-apiserver.*|etcd)$/)),
    start(id, election, args = FAST_TIMINGS) {
      return Replica.start({
        id,
        kubeconfig,
        election,
        args: [`--election-namespace=${namespace}`, ...args],
        command: bench.command,
        // The image's environment only: this machine's (e.g. NODE_EXTRA_CA_CERTS, which loads 140 more CA
        // certificates into every TLS client) is not the container's.
        inheritEnv: false,
      });
    },
    async close() {
      if (embedded) {
        embedded.kill('SIGTERM');
        await once(embedded, 'exit');
      }
      await cluster?.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
  return bench;
}

/** The replica that leads, once all of `replicas` agree on it. */
export async function agreedLeader(replicas: Replica[]): Promise<Replica> {
  return waitFor('an agreed leader', async () => {
    const bodies = await Promise.all(replicas.map((replica) => replica.leader()));
    const leaders = new Set(bodies.map((body) => body?.leader));
    if (leaders.size !== 1) return undefined;
    return replicas.find((_, index) => bodies[index]?.isLeader);
  });
}

/**
 * Takes the Lease away from whoever holds it, as another candidate would after it expired: holder `bench-thief`,
 * a one-second lease. The replicas step down (or stay followers) and take it back when it expires.
 */
export async function stealLease(bench: Bench, election: string): Promise<void> {
  for (;;) {
    const lease: V1Lease = await bench.leases.readNamespacedLease({ name: election, namespace: bench.namespace });
    const now = new V1MicroTime();
    const spec = lease.spec ?? {};
    lease.spec = {
      ...spec,
      holderIdentity: 'bench-thief',
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: (spec.leaseTransitions ?? 0) + 1,
    };
    try {
      await bench.leases.replaceNamespacedLease({ name: election, namespace: bench.namespace, body: lease });
      return;
    } catch (error) {
      if ((error as { code?: number }).code !== 409) throw error;
    }
  }
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable with other processes' clocks here. */
export const wallNow = (): number => performance.timeOrigin + performance.now();

/** The wall-clock time of a replica's first log line with `msg` (and matching `match`) at or after `since`. */
export function loggedAt(
  replica: Replica,
  msg: string,
  since: number,
  match: (line: Record<string, unknown>) => boolean = () => true,
): number | undefined {
  for (const line of replica.logs) {
    if (line.msg !== msg || !match(line)) continue;
    const at = Date.parse(String(line.time));
    // Log times have millisecond resolution: a line in the same millisecond as `since` counts.
    if (at >= Math.floor(since)) return at;
  }
  return undefined;
}

/** loggedAt, waiting up to `timeoutMs` for the line: a process's stdout may arrive after other observations. */
export async function whenLogged(
  replica: Replica,
  msg: string,
  since: number,
  match: (line: Record<string, unknown>) => boolean = () => true,
  timeoutMs = 5000,
): Promise<number> {
  const deadline = wallNow() + timeoutMs;
  for (;;) {
    const at = loggedAt(replica, msg, since, match);
    if (at !== undefined) return at;
    if (wallNow() > deadline) throw new Error(`${replica.id} did not log "${msg}" within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
