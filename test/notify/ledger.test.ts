import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LeadershipChange, LeadershipSnapshot } from '../../src/election/leadership.ts';
import { LeaderLedger } from '../../src/notify/ledger.ts';
import { captureLog } from './helpers.ts';

const TERM = 'leaderhook.io/notify-term';
const CURSOR = 'leaderhook.io/cursor.audit';

function leaderChanged(leader: string, transitions: number): LeadershipChange {
  return { type: 'leader-changed', leader, previousLeader: '', isLeader: false, transitions, at: new Date() };
}

function snapshot(patch: Partial<LeadershipSnapshot> = {}): () => LeadershipSnapshot {
  return () => ({
    election: 'demo',
    namespace: 'default',
    lock: 'leases',
    identity: 'pod-a',
    leader: '',
    isLeader: false,
    transitions: 0,
    acquireTime: null,
    renewTime: null,
    observedAt: null,
    ready: true,
    ...patch,
  });
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
      slots.map((slot) => ledger.positionOf({ term: 7, run: 1 }, slot)),
      [1, 2, 3, 4].map((index) => ({ term: 7, index })),
    );
    assert.deepEqual(
      slots.map((slot) => ledger.positionOf({ term: 7, run: 2 }, slot)),
      [5, 6, 7, 8].map((index) => ({ term: 7, index })),
    );
  });

  it('a new leader owes the rest of the cursor term and the whole terms after it, with their holders', () => {
    const log = captureLog();
    const ledger = new LeaderLedger('pod-c', log);
    const cursor = ledger.track('audit', 'audit');
    ledger.observe(leaderChanged('pod-a', 4));
    ledger.observe(leaderChanged('pod-b', 5));
    const observed = { [CURSOR]: '4.2' };
    const led = ledger.start(6, observed);
    assert.deepEqual(led, { term: 6, run: 1 });
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
    const led = ledger.start(6, observed);
    assert.deepEqual(listed(ledger.unsettled(cursor, led, observed)), ['5.2 pod-b<-', '5.3 pod-b<-', '5.4 pod-b<-']);
  });

  it('a replica taking its own lock again in its term owes the earlier runs of that term first', () => {
    const ledger = new LeaderLedger('pod-a', captureLog());
    const cursor = ledger.track('audit', 'audit');
    assert.deepEqual(ledger.start(3, {}), { term: 3, run: 1 });
    cursor.settle({ term: 3, index: 2 }, true);
    assert.deepEqual(ledger.stop(), { term: 3, run: 1 });
    const again = ledger.start(3, {});
    assert.deepEqual(again, { term: 3, run: 2 }, 'the second run of term 3');
    assert.deepEqual(listed(ledger.unsettled(cursor, again, {})), ['3.3 pod-a<-', '3.4 pod-a<-']);
    ledger.stop();
    assert.deepEqual(ledger.start(4, {}), { term: 4, run: 1 }, 'a new term starts at its first run');
  });

  it('terms whose holder is unknown are left out with one warning; at most 8 earlier terms are re-sent', () => {
    const log = captureLog();
    const ledger = new LeaderLedger('pod-z', log);
    const cursor = ledger.track('audit', 'audit');
    for (let term = 0; term < 20; term++) if (term !== 15) ledger.observe(leaderChanged(`pod-${term}`, term));
    const observed = { [CURSOR]: '1.4' };
    const owed = ledger.unsettled(cursor, ledger.start(20, observed), observed);
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

  it('publishes the cursors (seeded, then moved by what settles) and, while leading, its term', () => {
    const ledger = new LeaderLedger('pod-a', captureLog());
    const cursor = ledger.track('audit', 'audit');
    const foreign = { 'example.com/other': 'kept' };
    assert.deepEqual(ledger.annotations(foreign, snapshot()), { ...foreign, [CURSOR]: '-1.4' }, 'a lock never held');
    const held = snapshot({ leader: 'pod-b', transitions: 2, renewTime: new Date() });
    assert.deepEqual(ledger.annotations({}, held), { [CURSOR]: '2.4' }, 'nothing before the current term is owed');
    assert.deepEqual(ledger.annotations({ [CURSOR]: '1.3' }, held), { [CURSOR]: '1.3' }, "the lock's cursor is kept");

    ledger.start(3, {});
    cursor.settle({ term: 3, index: 1 }, false);
    // An event with nothing to send for this target waits for the one queued before it.
    cursor.skip({ term: 3, index: 3 }, false);
    assert.deepEqual(ledger.annotations({ [CURSOR]: '2.4' }, held), { [CURSOR]: '3.1', [TERM]: '{"t":3,"h":"pod-a"}' });
    cursor.settle({ term: 3, index: 2 }, true);
    ledger.stop();
    assert.deepEqual(ledger.annotations({ [CURSOR]: '2.4' }, held), { [CURSOR]: '3.3' }, 'no term once stopped');
  });
});
