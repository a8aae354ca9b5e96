import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { Fanout } from '../../src/election/changes.ts';
import type { LeadershipChange, LeadershipSnapshot } from '../../src/election/leadership.ts';
import { eventId, type EventType } from '../../src/notify/events.ts';
import { Notifier, type NotifierElection } from '../../src/notify/notifier.ts';
import { SecretFiles } from '../../src/notify/signing.ts';
import type { Target } from '../../src/notify/targets.ts';
import { waitFor } from '../support/replica.ts';
import { captureLog, testTarget } from './helpers.ts';
import { Receiver, type WebhookBody } from './receiver.ts';

const receivers: Receiver[] = [];
after(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
});

/** An election the test drives by hand: it reports the changes it is told to, in the order it is told to. */
class ScriptedElection implements NotifierElection {
  readonly identity = 'pod-a';
  readonly lock = { kind: 'leases', namespace: 'default', name: 'demo' } as const;
  readonly changes = new Fanout<LeadershipChange>((error) => {
    throw error;
  });
  annotations: Record<string, string> = {};
  readonly written: Array<Record<string, string>> = [];
  transitions = 0;
  leader = '';

  subscribe = (listener: (change: LeadershipChange) => void) => this.changes.subscribe(listener);
  snapshot = (): LeadershipSnapshot => ({
    election: 'demo',
    namespace: 'default',
    lock: 'leases',
    identity: this.identity,
    leader: this.leader,
    isLeader: this.leader === this.identity,
    transitions: this.transitions,
    acquireTime: null,
    renewTime: null,
    observedAt: null,
    ready: true,
  });
  observedAnnotations = () => this.annotations;
  setOwnAnnotations = (annotations: Record<string, string>) => {
    this.written.push(annotations);
  };

  report(type: LeadershipChange['type'], leader: string, previousLeader: string): void {
    this.leader = leader;
    const isLeader = type === 'started' || (type === 'leader-changed' && leader === this.identity);
    this.changes.emit({ type, leader, previousLeader, isLeader, transitions: this.transitions, at: new Date() });
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
function id(term: number, type: EventType, subject: string, occurrence = 1): string {
  return eventId({ namespace: 'default', election: 'demo', transitions: term, type, subject, occurrence });
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

  it('taking its own lock again in its term: the second run has occurrence 2 in every scope', async () => {
    const audit = await receiver();
    const hook = await receiver();
    const election = new ScriptedElection();
    election.transitions = 3;
    const startsOnly = new Set<EventType>(['leadership.started']);
    const notifier = notifierFor(election, [
      auditTarget(audit),
      testTarget(hook.url, { name: 'hook', scope: 'self', events: startsOnly }),
    ]);
    for (let run = 1; run <= 2; run++) {
      election.report('started', 'pod-a', '');
      election.report('leader-changed', 'pod-a', '');
      election.report('stopped', '', 'pod-a');
      election.report('leader-changed', '', 'pod-a');
    }
    await audit.waitFor(8);
    await hook.waitFor(2);
    const second = [
      ['leadership.started', id(3, 'leadership.started', 'pod-a', 2)],
      ['leader.changed', id(3, 'leader.changed', 'pod-a', 2)],
      ['leadership.stopped', id(3, 'leadership.stopped', 'pod-a', 2)],
      ['leader.changed', id(3, 'leader.changed', '', 2)],
    ];
    assert.deepEqual(typesAndIds(audit).slice(4), second);
    assert.deepEqual(typesAndIds(hook), [
      ['leadership.started', id(3, 'leadership.started', 'pod-a')],
      ['leadership.started', id(3, 'leadership.started', 'pod-a', 2)],
    ]);
    await waitFor('the cursor of the settled second run', () =>
      election.written.at(-1)?.['leaderhook.io/cursor.audit'] === '3.8' ? true : undefined,
    );
    assert.equal(election.written.at(-1)?.['leaderhook.io/notify-term'], undefined, 'no term once stopped');
    await notifier.drain(5_000);
  });

  it("a successor re-sends its predecessor's unsettled events with the ids the predecessor used", async () => {
    const audit = await receiver();
    const election = new ScriptedElection();
    election.transitions = 6;
    // pod-b led term 5 twice; the cursor says the target settled its first run and the second run's start.
    election.annotations = {
      'leaderhook.io/cursor.audit': '5.5',
      'leaderhook.io/notify-term': '{"t":5,"h":"pod-b"}',
    };
    const notifier = notifierFor(election, [auditTarget(audit)]);
    election.report('started', 'pod-a', '');
    await audit.waitFor(5);
    assert.deepEqual(typesAndIds(audit), [
      ['leader.changed', id(5, 'leader.changed', 'pod-b', 2)],
      ['leadership.stopped', id(5, 'leadership.stopped', 'pod-b', 2)],
      ['leader.changed', id(5, 'leader.changed', '', 2)],
      ['leadership.started', id(6, 'leadership.started', 'pod-a')],
      ['leader.changed', id(6, 'leader.changed', 'pod-a')],
    ]);
    assert.deepEqual(
      audit.json().map((body) => body.data.observer),
      ['pod-a', 'pod-a', 'pod-a', 'pod-a', 'pod-a'],
    );
    await notifier.drain(5_000);
  });
});
