import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LeadershipChange, LeadershipSnapshot } from '../../src/election/leadership.ts';
import { KubeApiError } from '../../src/kube-api/api-error.ts';
import type { PodLabelApi, PodLabels } from '../../src/leader-pod/pod-api.ts';
import { LeaderLabelReconciler } from '../../src/leader-pod/reconciler.ts';
import { FakeClock } from '../support/fake-clock.ts';

const KEY = 'role';

class MemoryPods implements PodLabelApi {
  readonly namespace = 'ns';
  readonly pods = new Map<string, PodLabels>();
  readonly calls: string[] = [];
  failWith: ((verb: string, name: string) => Error | undefined) | undefined;
  #rv = 0;

  add(name: string, labels: Record<string, string> = {}): void {
    this.pods.set(name, { labels, resourceVersion: String(++this.#rv) });
  }

  read(name: string): Promise<PodLabels | null> {
    this.calls.push(`get ${name}`);
    const error = this.failWith?.('get', name);
    if (error) return Promise.reject(error);
    const pod = this.pods.get(name);
    return Promise.resolve(pod ? { labels: { ...pod.labels }, resourceVersion: pod.resourceVersion } : null);
  }

  patchLabels(name: string, labels: Record<string, string | null>, resourceVersion?: string): Promise<PodLabels> {
    this.calls.push(`patch ${name} ${JSON.stringify(labels)}${resourceVersion ? ` @${resourceVersion}` : ''}`);
    const error = this.failWith?.('patch', name);
    if (error) return Promise.reject(error);
    const pod = this.pods.get(name);
    if (!pod) return Promise.reject(new KubeApiError('patch', 'not-found', 'pods not found', 404, 'NotFound'));
    if (resourceVersion && resourceVersion !== pod.resourceVersion)
      return Promise.reject(new KubeApiError('patch', 'conflict', 'the object has been modified', 409, 'Conflict'));
    for (const [key, value] of Object.entries(labels)) {
      if (value === null) delete pod.labels[key];
      else pod.labels[key] = value;
    }
    pod.resourceVersion = String(++this.#rv);
    return Promise.resolve({ labels: { ...pod.labels }, resourceVersion: pod.resourceVersion });
  }

  labelled(): string[] {
    return [...this.pods].filter(([, pod]) => pod.labels[KEY] === 'leader').map(([name]) => name);
  }
}

class Election {
  readonly listeners = new Set<(change: LeadershipChange) => void>();
  state = { ready: false, isLeader: false, leader: '' };

  subscribe(listener: (change: LeadershipChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): LeadershipSnapshot {
    return { ...this.state, identity: 'self' } as LeadershipSnapshot;
  }

  emit(type: LeadershipChange['type'], leader: string, previousLeader: string): void {
    this.state = { ready: true, isLeader: leader === 'self', leader };
    for (const listener of this.listeners)
      listener({
        type,
        leader,
        previousLeader,
        isLeader: leader === 'self',
        transitions: 0,
        lockUid: 'uid-1',
        at: new Date(),
      });
  }
}

function setup(missingPodAdvice?: string) {
  const clock = new FakeClock();
  const pods = new MemoryPods();
  const election = new Election();
  const warnings: string[] = [];
  const log = {
    debug() {},
    info() {},
    warn: (_: unknown, message: string) => warnings.push(message),
    error() {},
  } as never;
  const reconciler = new LeaderLabelReconciler({
    api: pods,
    label: { key: KEY, value: 'leader' },
    podName: 'self',
    identity: 'self',
    log,
    clock,
    random: () => 0.5,
    retryBaseMs: 500,
    retryCapMs: 4000,
    resyncMs: 30_000,
    ...(missingPodAdvice ? { missingPodAdvice } : {}),
  });
  return { clock, pods, election, reconciler, warnings };
}

describe('leader label reconciler', () => {
  it('labels its own Pod while leading and removes the label when it stops', async () => {
    const { clock, pods, election, reconciler } = setup();
    pods.add('self', { app: 'x' });
    reconciler.start(election);
    election.emit('started', 'self', '');
    await clock.advance(1);
    assert.deepEqual(pods.labelled(), ['self']);
    assert.equal(pods.pods.get('self')?.labels.app, 'x', 'other labels are kept');
    election.emit('stopped', '', 'self');
    await clock.advance(1);
    assert.deepEqual(pods.labelled(), []);
    assert.equal(await reconciler.settle(100), true);
    assert.ok(
      pods.calls.every((call) => call.startsWith('get') || call.startsWith('patch self')),
      'only get and patch',
    );
  });

  it('waits for the first read of the lock, then removes a label left from before a restart', async () => {
    const { clock, pods, election, reconciler } = setup();
    pods.add('self', { [KEY]: 'leader' });
    reconciler.start(election);
    await clock.advance(500);
    assert.deepEqual(pods.calls, [], 'nothing before the election knows who leads');
    election.state = { ready: true, isLeader: false, leader: 'other' };
    await clock.advance(200);
    assert.deepEqual(pods.labelled(), []);
  });

  it('keeps the label of a restarted leader that takes the lock again at once', async () => {
    const { clock, pods, election, reconciler } = setup();
    pods.add('self', { [KEY]: 'leader' });
    reconciler.start(election);
    election.emit('started', 'self', '');
    await clock.advance(200);
    assert.deepEqual(pods.labelled(), ['self']);
    assert.ok(!pods.calls.some((call) => call.includes('null')), 'never removed');
  });

  it("as new leader removes the label from earlier leaders' Pods that still exist, only if unchanged since read", async () => {
    const { clock, pods, election, reconciler } = setup();
    pods.add('self');
    pods.add('a', { [KEY]: 'leader' });
    pods.add('c', { [KEY]: 'standby' });
    reconciler.start(election);
    election.emit('leader-changed', 'a', '');
    election.emit('leader-changed', 'b', 'a'); // b's Pod is already gone
    election.emit('leader-changed', 'c', 'b');
    await clock.advance(200);
    assert.deepEqual(pods.labelled(), ['a'], 'a follower touches nobody else');
    election.emit('started', 'self', 'c');
    await clock.advance(1);
    assert.deepEqual(pods.labelled(), ['self']);
    assert.equal(pods.pods.get('c')?.labels[KEY], 'standby', 'another value of the key is not ours to remove');
    assert.ok(pods.calls.some((call) => /^patch a \{"role":null\} @\d+$/.test(call)));
  });

  it('retries with back-off, logs a missing RBAC right once, and catches up with the latest state', async () => {
    const { clock, pods, election, reconciler, warnings } = setup();
    pods.add('self');
    pods.failWith = () => new KubeApiError('get', 'forbidden', 'pods "self" is forbidden', 403, 'Forbidden');
    reconciler.start(election);
    election.emit('started', 'self', '');
    await clock.advance(10_000);
    assert.ok(pods.calls.length >= 4 && pods.calls.length <= 8, `back-off: ${pods.calls.length} tries in 10 s`);
    assert.equal(warnings.filter((warning) => warning.includes('RBAC forbids')).length, 1);
    pods.failWith = undefined;
    await clock.advance(5_000);
    assert.deepEqual(pods.labelled(), ['self']);

    pods.failWith = (verb) => (verb === 'patch' ? new KubeApiError('patch', 'network', 'ECONNRESET') : undefined);
    election.emit('stopped', '', 'self');
    election.emit('started', 'self', '');
    election.emit('stopped', '', 'self');
    await clock.advance(1000);
    pods.failWith = undefined;
    await clock.advance(5_000);
    assert.deepEqual(pods.labelled(), [], 'the last state wins');
  });

  it('warns when its own Pod does not exist (the identity is not the Pod name), with the advice it was given', async () => {
    const { clock, election, reconciler, warnings } = setup('set the pod setting');
    reconciler.start(election);
    election.emit('started', 'self', '');
    await clock.advance(3000);
    assert.deepEqual(
      warnings.filter((warning) => warning.startsWith('pod "self"')),
      ['pod "self" not found in namespace "ns": set the pod setting; retrying with back-off'],
    );
  });

  it('settles at once when it stops leading and its own Pod does not exist: no label to remove', async () => {
    const { clock, election, reconciler, warnings } = setup('set the pod setting');
    reconciler.start(election);
    election.emit('started', 'self', '');
    await clock.advance(3000);
    election.emit('stopped', '', 'self');
    await clock.advance(1);
    assert.equal(await reconciler.settle(0), true, 'settled without waiting out the back-off');
    assert.equal(warnings.length, 1, 'the one warning from while it led');
  });
});
