import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventCorrelator } from '../../src/events/correlator.ts';
import type { CoreEvent } from '../../src/events/event.ts';
import { lockReference } from '../../src/lock/types.ts';
import { FakeClock } from '../support/fake-clock.ts';

function makeEvent(clock: FakeClock, message: string, name = `lease.${clock.now()}`): CoreEvent {
  const at = clock.date();
  return {
    name,
    namespace: 'default',
    involvedObject: lockReference('leases', 'default', 'lease', 'uid-1'),
    type: 'Normal',
    reason: 'LeaderElection',
    message,
    source: { component: 'leaderhook' },
    reportingComponent: 'leaderhook',
    reportingInstance: '',
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
  };
}

describe('event correlator (client-go tools/record semantics)', () => {
  it('creates a new event once, then patches count and lastTimestamp of the stored one for repeats', async () => {
    const clock = new FakeClock();
    const correlator = new EventCorrelator(clock);
    const first = correlator.correlate(makeEvent(clock, 'a became leader', 'lease.1'));
    assert.equal(first.skip, false);
    assert.ok(!first.skip && first.patch === undefined && first.event.count === 1);
    correlator.updateState({ ...(first.skip ? assert.fail() : first.event), resourceVersion: '7' });

    await clock.advance(5000);
    const repeat = correlator.correlate(makeEvent(clock, 'a became leader', 'lease.2'));
    assert.ok(!repeat.skip);
    assert.equal(repeat.event.name, 'lease.1', 'the stored event is patched, not a new one created');
    assert.equal(repeat.event.count, 2);
    assert.equal(repeat.event.resourceVersion, '7');
    assert.deepEqual(repeat.patch, { count: 2, lastTimestamp: '2026-11-24T12:00:05Z', message: 'a became leader' });
    assert.equal(repeat.event.firstTimestamp.toISOString(), '2026-11-24T12:00:00.000Z');

    const other = correlator.correlate(makeEvent(clock, 'a stopped leading', 'lease.3'));
    assert.ok(
      !other.skip && other.patch === undefined && other.event.name === 'lease.3',
      'another message is another event',
    );
  });

  it('lets a burst of 25 events about one object through, then one every 5 minutes', async () => {
    const clock = new FakeClock();
    const correlator = new EventCorrelator(clock);
    const results = Array.from({ length: 30 }, (_, index) =>
      correlator.correlate(makeEvent(clock, index % 2 ? 'a stopped leading' : 'a became leader')),
    );
    assert.equal(results.filter((result) => !result.skip).length, 25);
    assert.ok(results.slice(25).every((result) => result.skip));
    await clock.advance(299_000);
    assert.ok(correlator.correlate(makeEvent(clock, 'a became leader')).skip, 'no token before 5 minutes');
    await clock.advance(2_000);
    assert.ok(!correlator.correlate(makeEvent(clock, 'a became leader')).skip, 'one token after 5 minutes');
    assert.ok(correlator.correlate(makeEvent(clock, 'a became leader')).skip);
  });

  it('combines similar events once 10 distinct messages arrive within 10 minutes', async () => {
    const clock = new FakeClock();
    const correlator = new EventCorrelator(clock);
    const messages = Array.from({ length: 12 }, (_, index) => `replica-${index} became leader`);
    const results = messages.map((message) => correlator.correlate(makeEvent(clock, message)));
    const written = results.map((result) => (result.skip ? assert.fail('not skipped') : result.event));
    assert.deepEqual(
      written.slice(0, 9).map((event) => event.message),
      messages.slice(0, 9),
    );
    assert.equal(written[9]?.message, '(combined from similar events): replica-9 became leader');
    assert.equal(written[9]?.count, 1);
    correlator.updateState({ ...written[9], resourceVersion: '9' });
    // The 11th is counted on the combined event (same aggregate key): a patch raising its count.
    const eleventh = correlator.correlate(makeEvent(clock, 'replica-99 became leader'));
    assert.ok(
      !eleventh.skip &&
        eleventh.event.count >= 2 &&
        eleventh.event.message.startsWith('(combined from similar events): '),
    );

    await clock.advance(601_000);
    const fresh = correlator.correlate(makeEvent(clock, 'replica-100 became leader'));
    assert.ok(
      !fresh.skip && fresh.event.message === 'replica-100 became leader',
      'after 10 quiet minutes events are single again',
    );
  });
});
