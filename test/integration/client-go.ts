// client-go's own leader elector (test/interop/client-go-elector, built by `scripts/kube-up build-elector` from the
// client-go vendored in Kubernetes 1.20.2) as a process, and the interop scenarios: a leaderhook replica and a
// client-go elector share one Lease safely, in both directions.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ChildHandle } from '../support/child.ts';
import { stopWhenFileEnds } from '../support/leftovers.ts';
import { waitFor, type Replica } from '../support/replica.ts';
import type { Cluster } from './cluster.ts';
import { startReplica } from './scenarios.ts';

const KUBE_VERSION = '1.20.2';
const SOURCE = fileURLToPath(new URL('../interop/client-go-elector/main.go', import.meta.url));
const RETRY_MS = 500;
const LEASE_DURATION_MS = 2000;
/** client-go waits a jittered retry period between attempts: wait.JitterUntil(retryPeriod, 1.2). */
const CLIENT_GO_MAX_RETRY_MS = RETRY_MS * 2.2;

/** Where scripts/kube-up caches the binary for this source (or LEADERHOOK_CLIENT_GO_ELECTOR); undefined if absent. */
export function clientGoElectorPath(): string | undefined {
  if (process.env.LEADERHOOK_CLIENT_GO_ELECTOR) return process.env.LEADERHOOK_CLIENT_GO_ELECTOR;
  const key = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 12);
  const path = `${process.env.LEADERHOOK_KUBE_CACHE ?? '/var/cache/leaderhook'}/client-go-elector-${KUBE_VERSION}-${key}`;
  return existsSync(path) ? path : undefined;
}

export const NO_ELECTOR =
  'the client-go elector is not built: run scripts/kube-up build-elector (or set LEADERHOOK_CLIENT_GO_ELECTOR)';

export class GoElector extends ChildHandle {
  readonly id: string;
  readonly lines: Array<{ at: number; text: string }> = [];

  constructor(binary: string, cluster: Cluster, id: string, election: string) {
    super(
      spawn(
        binary,
        [
          `--kubeconfig=${cluster.replicaKubeconfig}`,
          `--namespace=${cluster.namespace}`,
          `--name=${election}`,
          `--id=${id}`,
          `--lease-duration=${LEASE_DURATION_MS}ms`,
          '--renew-deadline=1500ms',
          `--retry-period=${RETRY_MS}ms`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    this.id = id;
  }

  protected onStdoutLine(text: string): void {
    this.lines.push({ at: performance.now(), text });
  }

  /** Leading per its callbacks: after "started leading", until "stopped leading". */
  get leading(): boolean {
    let leading = false;
    for (const { text } of this.lines) {
      if (text === 'started leading') leading = true;
      if (text === 'stopped leading') leading = false;
    }
    return leading;
  }

  /** The last "new leader <id>" it printed. */
  get leader(): string | undefined {
    const last = this.lines.filter(({ text }) => text.startsWith('new leader ')).at(-1);
    return last?.text.slice('new leader '.length);
  }

  startedAt(): number | undefined {
    return this.lines.find(({ text }) => text === 'started leading')?.at;
  }

  describe(): string {
    return `${this.id} stdout: ${this.lines.map(({ text }) => text).join(' | ')}\nstderr: ${this.stderr.slice(-10).join('\n')}`;
  }
}

/** Samples leaderhook's /leader and client-go's callbacks; stop() fails if both ever led at once. */
function guard(replicas: () => Replica[], electors: () => GoElector[]): { stop(): Promise<void> } {
  let running = true;
  const violations: string[] = [];
  const forget = stopWhenFileEnds(() => (running = false));
  const loop = (async () => {
    while (running) {
      const views = await Promise.all(replicas().map((replica) => replica.leader()));
      const leading = [
        ...views.filter((view) => view?.isLeader).map((view) => view!.self),
        ...electors()
          .filter((e) => e.leading)
          .map((e) => e.id),
      ];
      if (leading.length > 1) violations.push(leading.join(', '));
      await sleep(5);
    }
  })();
  return {
    async stop() {
      running = false;
      forget();
      await loop;
      assert.deepEqual(violations, [], 'leaderhook and client-go led at the same time');
    },
  };
}

/**
 * client-go leads → leaderhook follows and names it on GET /; client-go SIGTERM (ReleaseOnCancel) → leaderhook takes
 * the lock at once (when the lease runs out if client-go's release failed); then leaderhook leads → a new client-go
 * elector follows; leaderhook SIGTERM → client-go acquires the released lock within its (jittered) retry period.
 * leaseTransitions counts every holder change.
 */
export async function clientGoInterop(cluster: Cluster, binary: string): Promise<void> {
  const election = `interop-${Date.now().toString(36)}`;
  const electors: GoElector[] = [];
  const replicas: Replica[] = [];
  const lease = () => cluster.coordination.readNamespacedLease({ name: election, namespace: cluster.namespace });
  let check: { stop(): Promise<void> } | undefined;
  try {
    const go1 = new GoElector(binary, cluster, `${election}-go-1`, election);
    electors.push(go1);
    await waitFor('client-go to lead', () => go1.leading, 15_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${go1.describe()}`);
    });
    check = guard(
      () => replicas,
      () => electors,
    );
    const lh = await startReplica(cluster, `${election}-lh`, election);
    replicas.push(lh);
    await waitFor(
      'leaderhook to name the client-go leader on GET /',
      async () => {
        const body = (await (await fetch(`${lh.url}/`).catch(() => undefined))?.json().catch(() => undefined)) as
          { name?: string } | undefined;
        return body?.name === go1.id;
      },
      10_000,
    );
    await sleep(2500);
    assert.equal((await lh.leader())?.isLeader, false, 'leaderhook respects the lease client-go renews');
    assert.equal((await lh.leader())?.leader, go1.id);
    assert.equal((await lease()).spec?.leaseTransitions ?? 0, 0);

    go1.signal('SIGTERM');
    assert.equal(await go1.exited, 0, go1.describe());
    assert.ok(go1.lines.some(({ text }) => text === 'stopped leading'));
    // Timed from client-go's exit, which follows its release: how soon it releases after SIGTERM is client-go's part.
    const releasedBy = performance.now();
    await waitFor('leaderhook to take the released lock', async () => (await lh.leader())?.isLeader === true, 5000, 10);
    const takeMs = performance.now() - releasedBy;
    // client-go 1.20 cancels a renew in flight at SIGTERM; when that write had landed anyway, its release then
    // conflicts and it exits holding the lock ("Failed to release lock", about 1 stop in 60 here). The lock is then
    // free only when the lease runs out, which the renew before the exit started.
    const released = !go1.stderr.some((line) => line.includes('Failed to release lock'));
    const boundMs = released ? 1000 : LEASE_DURATION_MS + 1000;
    assert.ok(
      takeMs < boundMs,
      `leaderhook took client-go's ${released ? 'released' : 'unreleased'} lock ${Math.round(takeMs)} ms after ` +
        `client-go exited:\n` +
        lh.logs
          .slice(-8)
          .map((line) => JSON.stringify(line))
          .join('\n'),
    );
    let spec = (await lease()).spec;
    assert.equal(spec?.holderIdentity, lh.id);
    assert.equal(spec?.leaseTransitions, 1);

    const go2 = new GoElector(binary, cluster, `${election}-go-2`, election);
    electors.push(go2);
    await waitFor('client-go to see leaderhook lead', () => go2.leader === lh.id, 10_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${go2.describe()}`);
    });
    await sleep(2500);
    assert.equal(go2.leading, false, 'client-go respects the lease leaderhook renews');

    const sentAt = performance.now();
    lh.signal('SIGTERM');
    assert.equal(await lh.exited, 0);
    await waitFor('client-go to take the released lock', () => go2.leading, 5000, 10);
    const goMs = (go2.startedAt() ?? performance.now()) - sentAt;
    assert.ok(
      goMs < CLIENT_GO_MAX_RETRY_MS + 500,
      `client-go took leaderhook's released lock after ${Math.round(goMs)} ms`,
    );
    spec = (await lease()).spec;
    assert.equal(spec?.holderIdentity, go2.id);
    assert.equal(spec?.leaseTransitions, 2);
    await check.stop();
    check = undefined;
  } finally {
    await check?.stop().catch(() => undefined);
    await Promise.all([...replicas.map((replica) => replica.stop()), ...electors.map((elector) => elector.stop())]);
  }
}
