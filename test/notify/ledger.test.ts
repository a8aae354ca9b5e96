import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LeadershipChange } from '../../src/election/leadership.ts';
import type { LeaderElectionRecord, LockObservation } from '../../src/lock/types.ts';
import { LeaderLedger } from '../../src/notify/ledger.ts';
import { captureLog } from './helpers.ts';

const TERM = 'leaderhook.io/notify-term';
const CURSOR = 'leaderhook.io/cursor.audit';
const OBJECT = 'leaderhook.io/notify-object';
const UID = 'uid-1';

function leaderChanged(leader: string, transitions: number, lockUid = UID): LeadershipChange {
  return { type: 'leader-changed', leader, previousLeader: '', isLeader: false, transitions, lockUid, at: new Date() };
}

function record(holder: string, transitions: number): LeaderElectionRecord {
  const at = new Date(0);
  return {
    holderIdentity: holder,
    leaseDurationSeconds: 15,
    acquireTime: at,
    renewTime: at,
    leaderTransitions: transitions,
  };
}

/** The lock object a write replaces: its annotations and record. */
function lockObject(
  annotations: Record<string, string>,
  held: LeaderElectionRecord | null,
  uid = UID,
): LockObservation {
  return { record: held, resourceVersion: '1', uid, annotations, rawRecord: '', object: {} };
}

/** What `unsettled` returns, as `term.index holder<-previous` lines. */
function listed(events: ReturnType<LeaderLedger['unsettled']>): string[] {
  return events.map(({ position, holder, previousHolder: previous }) => {
    return `${position.term}.${position.index} ${holder}<-${previous}`;
  });
}

describe('the leader-scope ledger', () => {
  it('a run of a term holds positions 1-4, the next run of the same term 5-8', () => {
    const ledger = new LeaderLedger('pod-a', captureLog());
    const slots = ['started', 'changed-in', 'stopped', 'changed-out'] as const;
    assert.deepEqual(
      slots.map((slot) => ledger.positionOf({ term: 7, run: 1, lockUid: UID }, slot)),
      [1, 2, 3, 4].map((index) => ({ term: 7, index, lockUid: UID })),
    );
    assert.deepEqual(
      slots.map((slot) => ledger.positionOf({ term: 7, run: 2, lockUid: UID }, slot)),
      [5, 6, 7, 8].map((index) => ({ term: 7, index, lockUid: UID })),
    );
  });

  it('a new leader owes the rest of the cursor term and the whole terms after it, with their holders', () => {
    const log = captureLog();
    const ledger = new LeaderLedger('pod-c', log);
    const cursor = ledger.track('audit', 'audit');
    ledger.observe(leaderChanged('pod-a', 4));
    ledger.observe(leaderChanged('pod-b', 5));
    const observed = { [CURSOR]: '4.2' };
    const led = ledger.start(6, UID, observed);
    assert.deepEqual(led, { term: 6, run: 1, lockUid: UID });
    assert.deepEqual(listed(ledger.unsettled(cursor, led, observed)), [
      '4.3 pod-a<-',
      '4.4 pod-a<-',
      '5.1 pod-b<-pod-a',
      '5.2 pod-b<-pod-a',
      '5.3 pod-b<-pod-a',
      '5.4 pod-b<-pod-a',
    ]);
    assert.deepEqual(
      log.lines.map((line) => [line.level, line.msg, line.fields.count]),
      [['info', 're-sending events a previous leader did not confirm', 6]],
    );
  });

  it("the lock's term annotation names a predecessor never observed here", () => {
    const ledger = new LeaderLedger('pod-c', captureLog());
    const cursor = ledger.track('audit', 'audit');
    const observed = { [CURSOR]: '5.1', [TERM]: '{"t":5,"h":"pod-b"}' };
    const led = ledger.start(6, UID, observed);
    assert.deepEqual(listed(ledger.unsettled(cursor, led, observed)), ['5.2 pod-b<-', '5.3 pod-b<-', '5.4 pod-b<-']);
  });

  it('a replica taking its own lock again in its term owes the earlier runs of that term first', () => {
    const ledger = new LeaderLedger('pod-a', captureLog());
    const cursor = ledger.track('audit', 'audit');
    assert.deepEqual(ledger.start(3, UID, {}), { term: 3, run: 1, lockUid: UID });
    cursor.settle({ term: 3, index: 2, lockUid: UID }, true);
    assert.deepEqual(ledger.stop(), { term: 3, run: 1, lockUid: UID });
    const again = ledger.start(3, UID, {});
    assert.deepEqual(again, { term: 3, run: 2, lockUid: UID }, 'the second run of term 3');
    assert.deepEqual(listed(ledger.unsettled(cursor, again, {})), ['3.3 pod-a<-', '3.4 pod-a<-']);
    ledger.stop();
    assert.deepEqual(ledger.start(4, UID, {}), { term: 4, run: 1, lockUid: UID }, 'a new term starts at its first run');
  });

  it('terms whose holder is unknown are left out with one warning; at most 8 earlier terms are re-sent', () => {
    const log = captureLog();
    const ledger = new LeaderLedger('pod-z', log);
    const cursor = ledger.track('audit', 'audit');
    for (let term = 0; term < 20; term++) if (term !== 15) ledger.observe(leaderChanged(`pod-${term}`, term));
    const observed = { [CURSOR]: '1.4' };
    const owed = ledger.unsettled(cursor, ledger.start(20, UID, observed), observed);
    assert.deepEqual([...new Set(owed.map((event) => event.position.term))], [12, 13, 14, 16, 17, 18, 19]);
    assert.deepEqual(
      log.lines.map((line) => [line.level, line.msg]),
      [
        ['warn', 'the delivery cursor is too far behind; older terms are not re-sent'],
        ['warn', 'cannot re-send the events of terms whose holder was never observed here'],
        ['info', 're-sending events a previous leader did not confirm'],
      ],
    );
    assert.deepEqual(log.lines[1]?.fields.terms, [15]);
  });

  it("each write's annotations come from the object it replaces: cursors seeded, kept, moved by what settles; the term of a record naming this replica", () => {
    const ledger = new LeaderLedger('pod-a', captureLog());
    const cursor = ledger.track('audit', 'audit');
    const foreign = { 'leaderhook.io/cursor.other-target': '0.2' };
    const onIt = { [OBJECT]: UID };
    assert.deepEqual(
      ledger.annotations(lockObject(foreign, null), record('', 0)),
      { ...foreign, ...onIt, [CURSOR]: '-1.4' },
      'a lock never held',
    );
    assert.deepEqual(
      ledger.annotations(lockObject({}, record('pod-b', 2)), record('pod-a', 3)),
      { ...onIt, [CURSOR]: '2.4', [TERM]: '{"t":3,"h":"pod-a"}' },
      'nothing before the replaced term is owed; the write that takes the lock announces its term',
    );
    assert.deepEqual(
      ledger.annotations(lockObject({ [CURSOR]: '1.3' }, record('pod-b', 2)), record('pod-b', 2)),
      { ...onIt, [CURSOR]: '1.3' },
      'the cursor is kept; a record naming another replica gets no term from this one',
    );

    ledger.start(3, UID, {});
    cursor.settle({ term: 3, index: 1, lockUid: UID }, false);
    // An event with nothing to send for this target waits for the one queued before it.
    cursor.skip({ term: 3, index: 3, lockUid: UID }, false);
    const ours = lockObject({ [CURSOR]: '2.4', [TERM]: '{"t":3,"h":"pod-a"}' }, record('pod-a', 3));
    assert.deepEqual(ledger.annotations(ours, record('pod-a', 3)), {
      ...onIt,
      [CURSOR]: '3.1',
      [TERM]: '{"t":3,"h":"pod-a"}',
    });
    cursor.settle({ term: 3, index: 2, lockUid: UID }, true);
    ledger.stop();
    assert.deepEqual(
      ledger.annotations(ours, record('', 3)),
      { ...onIt, [CURSOR]: '3.3', [TERM]: '{"t":3,"h":"pod-a"}' },
      'the release keeps the term it ends, for the successor',
    );
  });

  it('a holder killed before its first renew, its term never reported here: the replaced record names it, and its events are re-sent', () => {
    const ledger = new LeaderLedger('pod-a', captureLog());
    const cursor = ledger.track('audit', 'audit');
    ledger.observe(leaderChanged('pod-c', 7));
    // pod-b took term 8 with a write computed before it led (no term of its own), and died before renewing; pod-a's
    // watch was silent meanwhile, so it never reported pod-b as the leader.
    const replaced = lockObject({ [OBJECT]: UID, [CURSOR]: '7.4', [TERM]: '{"t":7,"h":"pod-c"}' }, record('pod-b', 8));
    const written = ledger.annotations(replaced, record('pod-a', 9));
    assert.equal(written[CURSOR], '7.4', 'the cursor as the replaced object carried it, never an older copy');
    const led = ledger.start(9, UID, written);
    assert.deepEqual(listed(ledger.unsettled(cursor, led, written)), [
      '8.1 pod-b<-pod-c',
      '8.2 pod-b<-pod-c',
      '8.3 pod-b<-pod-c',
      '8.4 pod-b<-pod-c',
    ]);
  });

  it('a deleted and recreated lock: cursors and terms carried over from the old object are ignored, never reused', () => {
    const ledger = new LeaderLedger('pod-a', captureLog());
    const cursor = ledger.track('audit', 'audit');
    ledger.observe(leaderChanged('pod-b', 5, 'uid-old'));
    ledger.start(6, 'uid-old', {});
    cursor.settle({ term: 6, index: 2, lockUid: 'uid-old' }, true);
    ledger.stop();
    const written = ledger.annotations(lockObject({}, record('pod-c', 7), 'uid-old'), record('', 7));
    assert.deepEqual(written, { [OBJECT]: 'uid-old', [CURSOR]: '6.2' });

    // The lock is deleted and created again: a write of the old annotations lands on the new object.
    const onNew = lockObject(written, record('pod-c', 0), 'uid-new');
    assert.deepEqual(ledger.annotations(onNew, record('', 0)), { [OBJECT]: 'uid-new', [CURSOR]: '0.4' });
    // A position settled on the old object moves nothing on the new one.
    cursor.settle({ term: 6, index: 4, lockUid: 'uid-old' }, true);
    assert.deepEqual(ledger.annotations(onNew, record('', 0)), { [OBJECT]: 'uid-new', [CURSOR]: '0.4' });
    // This replica leads the new object's term 0: its first run (the old object's runs do not count), and it owes
    // nothing of the old object's terms.
    const led = ledger.start(0, 'uid-new', written);
    assert.deepEqual(led, { term: 0, run: 1, lockUid: 'uid-new' });
    assert.deepEqual(ledger.unsettled(cursor, led, written), []);
    // Annotations written to create the object (before its uid is known) belong to it.
    const forCreate = ledger.annotations(null, record('pod-a', 0));
    assert.equal(forCreate[OBJECT], '');
    const created = { ...forCreate, [CURSOR]: '0.2' };
    const next = ledger.start(1, 'uid-new', created);
    assert.deepEqual(listed(ledger.unsettled(cursor, next, created)), ['0.3 pod-a<-', '0.4 pod-a<-']);
  });
});
