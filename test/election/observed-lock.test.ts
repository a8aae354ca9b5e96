import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ObservedLock } from '../../src/election/observed-lock.ts';
import type { LockObservation } from '../../src/lock/types.ts';
import { FakeClock } from '../support/fake-clock.ts';

function observation(resourceVersion: string, holderIdentity: string): LockObservation {
  const renewTime = new Date(Date.UTC(2026, 10, 30));
  const record = { holderIdentity, leaseDurationSeconds: 15, acquireTime: renewTime, renewTime, leaderTransitions: 0 };
  return {
    record,
    resourceVersion,
    uid: 'uid-1',
    annotations: {},
    rawRecord: JSON.stringify([holderIdentity, resourceVersion]),
    object: {},
  };
}

describe('observed lock: news placed in the order the server made it', () => {
  it('a read answered after a newer watch event is set aside; one sent after it is applied', () => {
    const observed = new ObservedLock(new FakeClock(), 15_000);
    observed.apply(observation('100', 'a'), 'watch');
    const crossing = observed.stamp();
    observed.apply(observation('102', 'b'), 'watch');
    assert.equal(observed.apply(observation('101', ''), 'read', crossing).applied, false);
    assert.equal(observed.record?.holderIdentity, 'b');
    assert.equal(observed.apply(observation('103', 'c'), 'read', crossing).applied, true, 'a newer answer is news');
    assert.equal(observed.record?.holderIdentity, 'c');
  });

  it('a watch event behind a read is set aside', () => {
    const observed = new ObservedLock(new FakeClock(), 15_000);
    observed.apply(observation('105', 'b'), 'read', observed.stamp());
    assert.equal(observed.apply(observation('104', 'a'), 'watch').applied, false);
    assert.equal(observed.record?.holderIdentity, 'b');
  });

  it('a read that found nothing, answered after the watch brought the object, is set aside; a later one is not', () => {
    const observed = new ObservedLock(new FakeClock(), 15_000);
    const crossing = observed.stamp();
    observed.apply(observation('7', 'b'), 'watch');
    assert.equal(observed.applyDeleted('', crossing), false);
    assert.equal(observed.record?.holderIdentity, 'b');
    assert.equal(observed.applyDeleted('', observed.stamp()), true);
    assert.equal(observed.observation, null);
  });

  it("a read sent after the newest news is the server's word, even with a lower version (etcd restored)", () => {
    const observed = new ObservedLock(new FakeClock(), 15_000);
    observed.apply(observation('9000', 'a'), 'watch');
    assert.equal(observed.apply(observation('12', 'b'), 'read', observed.stamp()).applied, true);
    assert.equal(observed.apply(observation('13', 'c'), 'watch').applied, true, 'and the watch is followed from there');
    assert.equal(observed.record?.holderIdentity, 'c');
  });

  it('opaque versions: a read that crossed other news is set aside unless it is that same version', () => {
    const observed = new ObservedLock(new FakeClock(), 15_000);
    observed.apply(observation('x-1', 'a'), 'watch');
    const crossing = observed.stamp();
    observed.apply(observation('x-3', 'b'), 'watch');
    assert.equal(observed.apply(observation('x-2', ''), 'read', crossing).applied, false);
    assert.equal(observed.apply(observation('x-3', 'b'), 'read', crossing).applied, true);
    assert.equal(observed.apply(observation('x-0', 'c'), 'watch').applied, true, 'watch events keep their order');
  });
});
