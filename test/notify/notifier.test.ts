import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import { Fanout } from '../../src/election/changes.ts';
import type { LeadershipChange, LeadershipSnapshot } from '../../src/election/leadership.ts';
import type { LockAnnotations } from '../../src/lock/types.ts';
import { eventId, type EventType } from '../../src/notify/events.ts';
import { FileValue } from '../../src/notify/file-value.ts';
import { Notifier, type NotifierElection } from '../../src/notify/notifier.ts';
import { loadNotifyConfig, urlFileText } from '../../src/notify/notify-config.ts';
import { parseSecretFile, SecretFiles } from '../../src/notify/signing.ts';
import type { Target } from '../../src/notify/targets.ts';
import { waitFor } from '../support/replica.ts';
import { captureLog, metricValue, testTarget } from './helpers.ts';
import { Receiver, type WebhookBody } from './receiver.ts';

const receivers: Receiver[] = [];
after(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
});

/** An election the test drives by hand: it reports the changes it is told to, in the order it is told to. */
class ScriptedElection implements NotifierElection {
  readonly identity: string;
  readonly lock = { kind: 'leases', namespace: 'default', name: 'demo' } as const;
  readonly changes = new Fanout<LeadershipChange>((error) => {
    throw error;
  });
  annotations: Record<string, string> = {};
  annotationsFor: LockAnnotations = () => ({});
  transitions = 0;
  lockUid = 'uid-1';
  leader = '';

  constructor(identity = 'pod-a') {
    this.identity = identity;
  }

  subscribe = (listener: (change: LeadershipChange) => void) => this.changes.subscribe(listener);
  snapshot = (): LeadershipSnapshot => ({
    election: 'demo',
    namespace: 'default',
    lock: 'leases',
    identity: this.identity,
    leader: this.leader,
    isLeader: this.leader === this.identity,
    transitions: this.transitions,
    lockUid: this.lockUid,
    acquireTime: null,
    renewTime: null,
    observedAt: null,
    ready: true,
  });
  observedAnnotations = () => this.annotations;
  setOwnAnnotations = (annotationsFor: LockAnnotations) => {
    this.annotationsFor = annotationsFor;
  };

  /** What a write by this replica would carry now, on the object as seen: a renewal while leading, else a release. */
  written(): Record<string, string> {
    const at = new Date(0);
    const held = { holderIdentity: this.leader, leaseDurationSeconds: 15, acquireTime: at, renewTime: at };
    const replaced = { ...held, leaderTransitions: this.transitions };
    const sent = { ...replaced, holderIdentity: this.leader === this.identity ? this.identity : '' };
    const { annotations, lockUid: uid } = this;
    return this.annotationsFor(
      { record: replaced, resourceVersion: '1', uid, annotations, rawRecord: '', object: {} },
      sent,
    );
  }

  report(type: LeadershipChange['type'], leader: string, previousLeader: string): void {
    this.leader = leader;
    const isLeader = type === 'started' || (type === 'leader-changed' && leader === this.identity);
    const { transitions, lockUid } = this;
    this.changes.emit({ type, leader, previousLeader, isLeader, transitions, lockUid, at: new Date() });
  }
}

function notifierFor(election: ScriptedElection, targets: Target[]) {
  const notifier = new Notifier({
    election,
    targets: targets.map((target) => ({ target, secrets: new SecretFiles([]), headerFiles: new Map() })),
    log: captureLog(),
    registry: new Registry(),
  });
  notifier.start();
  return notifier;
}

async function receiver(): Promise<Receiver> {
  const started = await Receiver.start();
  receivers.push(started);
  return started;
}

/** A `leader` target whose cursor is `leaderhook.io/cursor.audit`. */
function auditTarget(receiver: Receiver): Target {
  return testTarget(receiver.url, { name: 'audit', cursorKey: 'audit', scope: 'leader' });
}

/** The README's recipe: the id of `type` about `subject` in term `term`, its `occurrence`-th time. */
function id(term: number, type: EventType, subject: string, occurrence = 1, lockUid = 'uid-1'): string {
  return eventId({ namespace: 'default', election: 'demo', lockUid, transitions: term, type, subject, occurrence });
}

function typesAndIds(received: Receiver): Array<[string, string]> {
  return received.received.map((request) => [
    (JSON.parse(request.body) as WebhookBody).type,
    String(request.headers['webhook-id']),
  ]);
}

describe('notifier: event ids from the canonical position', () => {
  it('leader-scope ids do not depend on the order the elector reports its changes in', async () => {
    const audit = await receiver();
    const election = new ScriptedElection();
    election.transitions = 4;
    const notifier = notifierFor(election, [auditTarget(audit)]);
    // The leader change is reported before the start, and the change to no leader before the stop.
    election.report('leader-changed', 'pod-a', 'pod-b');
    election.report('started', 'pod-a', 'pod-b');
    election.report('leader-changed', '', 'pod-a');
    election.report('stopped', '', 'pod-a');
    await audit.waitFor(4);
    assert.deepEqual(typesAndIds(audit), [
      ['leadership.started', id(4, 'leadership.started', 'pod-a')],
      ['leader.changed', id(4, 'leader.changed', 'pod-a')],
      ['leadership.stopped', id(4, 'leadership.stopped', 'pod-a')],
      ['leader.changed', id(4, 'leader.changed', '')],
    ]);
    await notifier.drain(5_000);
  });

  it('taking its own lock back in its term: the second run has occurrence 2, the leader changes once each way', async () => {
    const audit = await receiver();
    const hook = await receiver();
    const election = new ScriptedElection();
    election.transitions = 3;
    const startsOnly = new Set<EventType>(['leadership.started']);
    const notifier = notifierFor(election, [
      auditTarget(audit),
      testTarget(hook.url, { name: 'hook', scope: 'self', events: startsOnly }),
    ]);
    // As the elector reports it: a step-down at the renew deadline names the holder still (its own record, not read
    // since), then it takes that record back in the same term; at the end of its second run a read shows the lock free.
    election.report('started', 'pod-a', '');
    election.report('leader-changed', 'pod-a', '');
    election.report('stopped', 'pod-a', 'pod-a');
    election.report('started', 'pod-a', 'pod-a');
    election.report('stopped', 'pod-a', 'pod-a');
    election.report('leader-changed', '', 'pod-a');
    await audit.waitFor(6);
    await hook.waitFor(2);
    // No "no leader" between the runs, nor a change to pod-a again; the term's one "no leader" has the id every
    // observer computes for it (occurrence 1).
    assert.deepEqual(typesAndIds(audit), [
      ['leadership.started', id(3, 'leadership.started', 'pod-a')],
      ['leader.changed', id(3, 'leader.changed', 'pod-a')],
      ['leadership.stopped', id(3, 'leadership.stopped', 'pod-a')],
      ['leadership.started', id(3, 'leadership.started', 'pod-a', 2)],
      ['leadership.stopped', id(3, 'leadership.stopped', 'pod-a', 2)],
      ['leader.changed', id(3, 'leader.changed', '')],
    ]);
    assert.deepEqual(typesAndIds(hook), [
      ['leadership.started', id(3, 'leadership.started', 'pod-a')],
      ['leadership.started', id(3, 'leadership.started', 'pod-a', 2)],
    ]);
    await waitFor('the cursor of the settled second run', () =>
      election.written()['leaderhook.io/cursor.audit'] === '3.8' ? true : undefined,
    );
    assert.equal(election.written()['leaderhook.io/notify-term'], undefined, 'a former leader announces no term');
    await notifier.drain(5_000);
  });

  it("a successor re-sends its predecessor's unsettled events with the ids the predecessor used", async () => {
    const audit = await receiver();
    const election = new ScriptedElection();
    election.transitions = 6;
    // pod-b led term 5 twice; the cursor says the target settled its first run and the second run's start.
    election.annotations = {
      'leaderhook.io/notify-object': 'uid-1',
      'leaderhook.io/cursor.audit': '5.5',
      'leaderhook.io/notify-term': '{"t":5,"h":"pod-b"}',
    };
    const notifier = notifierFor(election, [auditTarget(audit)]);
    election.report('started', 'pod-a', '');
    await audit.waitFor(4);
    // pod-b's second run was its own record taken back: the leader did not change to pod-b again (nothing sent for
    // 5.6); the term's "no leader" has occurrence 1, as every observer computes it.
    assert.deepEqual(typesAndIds(audit), [
      ['leadership.stopped', id(5, 'leadership.stopped', 'pod-b', 2)],
      ['leader.changed', id(5, 'leader.changed', '')],
      ['leadership.started', id(6, 'leadership.started', 'pod-a')],
      ['leader.changed', id(6, 'leader.changed', 'pod-a')],
    ]);
    assert.deepEqual(
      audit.json().map((body) => body.data.observer),
      ['pod-a', 'pod-a', 'pod-a', 'pod-a'],
    );
    await notifier.drain(5_000);
  });
});

describe('notifier: a deleted and recreated lock', () => {
  it('two replicas send the same ids; the recreated term 0 never reuses an id of the deleted one', async () => {
    const hooks = [await receiver(), await receiver()];
    const [a, b] = [new ScriptedElection('pod-a'), new ScriptedElection('pod-b')];
    const changesOnly = new Set<EventType>(['leader.changed']);
    const notifiers = [a, b].map((election, index) =>
      notifierFor(election, [testTarget(hooks[index]?.url ?? '', { name: 'all', scope: 'all', events: changesOnly })]),
    );
    // pod-a leads term 0 of the first object; pod-b follows.
    a.report('started', 'pod-a', '');
    a.report('leader-changed', 'pod-a', '');
    b.report('leader-changed', 'pod-a', '');
    // The Lease is deleted: both see no object (no uid, no transitions) and no leader.
    for (const election of [a, b]) {
      election.lockUid = '';
      election.transitions = 0;
    }
    a.report('stopped', '', 'pod-a');
    a.report('leader-changed', '', 'pod-a');
    b.report('leader-changed', '', 'pod-a');
    // pod-a creates it again and leads its term 0: same term number, same leader, another object.
    for (const election of [a, b]) election.lockUid = 'uid-2';
    a.report('started', 'pod-a', '');
    a.report('leader-changed', 'pod-a', '');
    b.report('leader-changed', 'pod-a', '');
    const sent = await Promise.all(
      hooks.map(async (hook) => (await hook.waitFor(3)).map((r) => r.headers['webhook-id'])),
    );
    assert.deepEqual(sent[0], sent[1], 'both replicas send the same ids');
    assert.deepEqual(sent[0], [
      id(0, 'leader.changed', 'pod-a', 1, 'uid-1'),
      // No leader once the object is gone: the end of the deleted object's last term.
      id(0, 'leader.changed', '', 1, 'uid-1'),
      id(0, 'leader.changed', 'pod-a', 1, 'uid-2'),
    ]);
    assert.equal(new Set(sent[0]).size, 3, 'no id names two transitions');
    await Promise.all(notifiers.map((notifier) => notifier.drain(5_000)));
  });
});

describe('notifier: a secret file rotated to something unusable', () => {
  it('keeps signing with the last good secret, logs it once until the file reads well again, counts every re-read', async () => {
    const hook = await receiver();
    const file = join(mkdtempSync(join(tmpdir(), 'leaderhook-rotation-')), 'secret');
    const good = `whsec_${randomBytes(32).toString('base64')}`;
    writeFileSync(file, `${good}\n`);
    const log = captureLog();
    const registry = new Registry();
    const election = new ScriptedElection();
    const target = testTarget(hook.url, { name: 'signed', scope: 'self' });
    // Re-read on every use, so each delivery sees the file as it is now.
    const secrets = new SecretFiles([new FileValue(file, parseSecretFile, 0)]);
    const notifier = new Notifier({ election, targets: [{ target, secrets, headerFiles: new Map() }], log, registry });
    notifier.start();
    const said = () => log.lines.filter((line) => line.msg.startsWith('cannot use the changed file'));
    const failures = () =>
      metricValue(registry, 'leaderhook_notify_file_reload_failures_total', { target: 'signed', file });
    const deliver = async (count: number) => {
      for (let i = 0; i < count; i++) election.report('leader-changed', `pod-${hook.received.length + i}`, '');
      await hook.waitFor(hook.received.length + count);
    };

    writeFileSync(file, 'not-a-secret\n');
    await deliver(3);
    assert.equal(said().length, 1, 'said once');
    assert.deepEqual(said()[0]?.fields, {
      target: 'signed',
      file,
      problem: 'line 1: a secret must have the form whsec_<base64>',
    });
    assert.equal(await failures(), 3, 'counted each time');
    for (const request of hook.received.slice(-3))
      assert.doesNotThrow(() => new Webhook(good).verify(request.body, request.headers as Record<string, string>));

    writeFileSync(file, `${good}\n`);
    await deliver(1);
    writeFileSync(file, '');
    await deliver(1);
    assert.deepEqual(
      said().map((line) => line.fields.problem),
      ['line 1: a secret must have the form whsec_<base64>', 'no secret in the file'],
      'said again after it read well in between',
    );
    assert.ok(!JSON.stringify(log.lines).includes(good.slice(6)), 'the secret never reaches the log');
    await notifier.drain(5_000);
  });
});

describe('notifier: a URL file rotated', () => {
  /** A URL on `receiver` whose path carries a token, as a Slack webhook's does. */
  const tokenUrl = (receiver: Receiver, token: string) => `http://127.0.0.1:${receiver.port}/services/T000/${token}`;

  it('switches to the new URL within the 10 s re-read period; the URL never reaches the log', async () => {
    const [first, second] = [await receiver(), await receiver()];
    const dir = mkdtempSync(join(tmpdir(), 'leaderhook-url-file-'));
    const urlFile = join(dir, 'slack-url');
    writeFileSync(urlFile, `${tokenUrl(first, 'FIRSTSECRET')}\n`);
    const config = join(dir, 'config.yaml');
    writeFileSync(config, `targets:\n  - {name: slack, urlFile: ${urlFile}, scope: all}\n`);
    const { targets } = loadNotifyConfig({ config }, {});
    const log = captureLog();
    const election = new ScriptedElection();
    const notifier = new Notifier({ election, targets, log, registry: new Registry() });
    notifier.start();
    election.report('leader-changed', 'pod-1', '');
    await first.waitFor(1);
    assert.equal(first.received[0]?.url, '/services/T000/FIRSTSECRET');

    writeFileSync(urlFile, `${tokenUrl(second, 'SECONDSECRET')}\n`);
    const rotatedAt = performance.now();
    let sent = 1;
    await waitFor(
      'a delivery to the new URL',
      () => {
        election.report('leader-changed', `pod-${++sent}`, '');
        return second.received.length > 0 || undefined;
      },
      20_000,
      250,
    );
    const switchedAfterMs = performance.now() - rotatedAt;
    assert.ok(switchedAfterMs < 10_000 + 2_000, `switched ${Math.round(switchedAfterMs)} ms after the rotation`);
    await notifier.drain(5_000);
    assert.equal(second.received[0]?.url, '/services/T000/SECONDSECRET');
    assert.equal(first.received.length + second.received.length, sent, 'every event went to one URL or the other');
    const toFirst = first.json().map((body) => body.data.leader);
    const toSecond = second.json().map((body) => body.data.leader);
    assert.deepEqual(
      [...toFirst, ...toSecond],
      Array.from({ length: sent }, (_, i) => `pod-${i + 1}`),
      'in order, nothing sent to the old URL after the switch',
    );
    assert.ok(!/SECRET/.test(JSON.stringify(log.lines)), 'no URL in the log');
  });

  it('rotated to garbage or to a FIFO: keeps the last good URL, logs each problem once, counts every re-read', async () => {
    const [good, next] = [await receiver(), await receiver()];
    const dir = mkdtempSync(join(tmpdir(), 'leaderhook-url-file-'));
    const file = join(dir, 'url');
    writeFileSync(file, `${tokenUrl(good, 'GOODSECRET')}\n`);
    const log = captureLog();
    const registry = new Registry();
    const election = new ScriptedElection();
    const target = testTarget(tokenUrl(good, 'GOODSECRET'), { name: 'slack', scope: 'all' });
    // Re-read on every use, with the parser loadNotifyConfig gives a urlFile of this format.
    const urlFile = new FileValue(file, urlFileText('json'), 0);
    const notifier = new Notifier({
      election,
      targets: [{ target, secrets: new SecretFiles([]), headerFiles: new Map(), urlFile }],
      log,
      registry,
    });
    notifier.start();
    const said = () => log.lines.filter((line) => line.msg.startsWith('cannot use the changed file'));
    const failures = () =>
      metricValue(registry, 'leaderhook_notify_file_reload_failures_total', { target: 'slack', file });
    const deliver = async (to: Receiver, count: number) => {
      const before = to.received.length;
      for (let i = 0; i < count; i++) election.report('leader-changed', `pod-${i}`, '');
      await to.waitFor(before + count);
    };

    writeFileSync(file, 'GARBAGESECRET not a url\n');
    await deliver(good, 3);
    writeFileSync(file, 'ftp://127.0.0.1/FTPSECRET\n');
    await deliver(good, 1);
    rmSync(file);
    execFileSync('mkfifo', [file]);
    await deliver(good, 2);
    assert.deepEqual(
      said().map((line) => line.fields),
      [
        { target: 'slack', file, problem: 'the URL in the file is not a URL (expected http://HOST[:PORT]/PATH)' },
        { target: 'slack', file, problem: 'the URL in the file must be an http:// or https:// URL, not ftp:' },
        { target: 'slack', file, problem: 'not a regular file (a FIFO)' },
      ],
      'each problem said once',
    );
    assert.equal(await failures(), 6, 'every re-read counted');
    assert.ok(good.received.every((request) => request.url === '/services/T000/GOODSECRET'));

    rmSync(file);
    writeFileSync(file, `${tokenUrl(next, 'NEXTSECRET')}\n`);
    await deliver(next, 1);
    assert.equal(next.received[0]?.url, '/services/T000/NEXTSECRET');
    assert.equal(good.received.length, 6);
    assert.ok(!/SECRET/.test(JSON.stringify(log.lines)), 'no URL or file content in the log');
    await notifier.drain(5_000);
  });
});
