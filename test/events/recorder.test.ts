import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LeadershipChange, LeadershipSnapshot } from '../../src/election/leadership.ts';
import type { EventPatch } from '../../src/events/correlator.ts';
import type { CoreEvent } from '../../src/events/event.ts';
import type { EventSink } from '../../src/events/event-sink.ts';
import { EVENT_WRITE_DELAY_MS, EventRecorder } from '../../src/events/recorder.ts';
import { KubeApiError } from '../../src/kube-api/api-error.ts';
import { lockReference } from '../../src/lock/types.ts';
import { FakeClock } from '../support/fake-clock.ts';

interface Logged {
  level: string;
  msg: string;
}

function memoryLog(lines: Logged[]) {
  const at = (level: string) => (first: unknown, second?: unknown) =>
    lines.push({ level, msg: String(typeof first === 'string' ? first : second) });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as never;
}

class MemorySink implements EventSink {
  readonly calls: Array<{ verb: 'create' | 'patch'; event: CoreEvent; patch?: EventPatch }> = [];
  readonly stored = new Map<string, CoreEvent>();
  failWith: ((verb: 'create' | 'patch') => Error | undefined) | undefined;
  /** While set, a create is answered only once it resolves (a request in flight). */
  inFlight: Promise<void> | undefined;
  #rv = 0;

  async create(event: CoreEvent): Promise<CoreEvent> {
    this.calls.push({ verb: 'create', event });
    await this.inFlight;
    const error = this.failWith?.('create');
    if (error) throw error;
    const stored = { ...event, resourceVersion: String(++this.#rv) };
    this.stored.set(event.name, stored);
    return stored;
  }

  patch(event: CoreEvent, patch: EventPatch): Promise<CoreEvent> {
    this.calls.push({ verb: 'patch', event, patch });
    const error = this.failWith?.('patch');
    if (error) return Promise.reject(error);
    const old = this.stored.get(event.name);
    if (!old) return Promise.reject(new KubeApiError('patch', 'not-found', 'events not found', 404, 'NotFound'));
    const stored = {
      ...old,
      count: patch.count,
      message: patch.message,
      lastTimestamp: new Date(patch.lastTimestamp),
      resourceVersion: String(++this.#rv),
    };
    this.stored.set(event.name, stored);
    return Promise.resolve(stored);
  }
}

function feed() {
  const listeners = new Set<(change: LeadershipChange) => void>();
  return {
    snapshot: (): LeadershipSnapshot => ({
      election: 'election',
      namespace: 'ns',
      lock: 'leases',
      identity: 'pod-a',
      leader: '',
      isLeader: false,
      transitions: 0,
      lockUid: 'uid-1',
      acquireTime: null,
      renewTime: null,
      observedAt: null,
      ready: true,
    }),
    subscribe(listener: (change: LeadershipChange) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit(type: LeadershipChange['type'], isLeader: boolean) {
      for (const listener of listeners)
        listener({
          type,
          isLeader,
          leader: isLeader ? 'pod-a' : '',
          previousLeader: '',
          transitions: 0,
          lockUid: 'uid-1',
          at: new Date(),
        });
    },
  };
}

/** Each written event's message and when it was made, in ms after `since`, in the order written. */
function writtenSince(sink: MemorySink, since: number): Array<[string, number]> {
  return sink.calls.map((call) => [call.event.message, call.event.firstTimestamp.getTime() - since]);
}

function setup() {
  const clock = new FakeClock();
  const sink = new MemorySink();
  const lines: Logged[] = [];
  const recorder = new EventRecorder({
    sink,
    involvedObject: () => lockReference('leases', 'ns', 'election', 'uid-1'),
    source: { component: 'leaderhook', host: 'node-1' },
    log: memoryLog(lines),
    clock,
    random: () => 0.5,
  });
  const election = feed();
  recorder.recordLeadership(election);
  return { clock, sink, lines, recorder, election };
}

describe('event recorder', () => {
  it("records client-go's leader-election events on the lock, and counts repeats with a patch", async () => {
    const { clock, sink, recorder, election } = setup();
    election.emit('started', true);
    election.emit('leader-changed', true);
    await clock.advance(10);
    election.emit('stopped', false);
    await clock.advance(10);
    election.emit('started', true);
    await clock.advance(EVENT_WRITE_DELAY_MS);

    assert.deepEqual(
      sink.calls.map((call) => `${call.verb} ${call.event.message} ×${call.event.count}`),
      ['create pod-a became leader ×1', 'create pod-a stopped leading ×1', 'patch pod-a became leader ×2'],
    );
    const first = sink.calls[0]?.event as CoreEvent;
    assert.equal(first.reason, 'LeaderElection');
    assert.equal(first.type, 'Normal');
    assert.equal(first.namespace, 'ns');
    assert.match(first.name, /^election\.[0-9a-f]+$/);
    assert.deepEqual(first.involvedObject, {
      kind: 'Lease',
      apiVersion: 'coordination.k8s.io/v1',
      namespace: 'ns',
      name: 'election',
      uid: 'uid-1',
    });
    assert.deepEqual(first.source, { component: 'leaderhook', host: 'node-1' });
    assert.equal(first.reportingComponent, 'leaderhook');
    assert.equal(first.reportingInstance, 'node-1');
    assert.equal(sink.calls[2]?.event.name, first.name, 'the repeat patches the first event');
    assert.equal(await recorder.shutdown(100), true);
  });

  it("writes an event 25 ms after its change, so the change's own requests go first, with the time it was made", async () => {
    const { clock, sink, recorder, election } = setup();
    const startedAt = clock.date().getTime();
    election.emit('started', true);
    await clock.advance(10);
    election.emit('stopped', false);
    await clock.advance(14);
    assert.equal(sink.calls.length, 0, 'nothing written 24 ms after the change');
    await clock.advance(1);
    assert.deepEqual(writtenSince(sink, startedAt), [['pod-a became leader', 0]], 'the first at 25 ms');
    await clock.advance(9);
    assert.equal(sink.calls.length, 1, 'the second not before 25 ms after its own change');
    await clock.advance(1);
    assert.deepEqual(
      writtenSince(sink, startedAt),
      [
        ['pod-a became leader', 0],
        ['pod-a stopped leading', 10],
      ],
      'each written 25 ms after it was made, with that time',
    );
    assert.equal(EVENT_WRITE_DELAY_MS, 25);
    election.emit('started', true);
    const done = recorder.shutdown(1000);
    await clock.advance(24);
    assert.equal(sink.calls.length, 2, 'a shutdown waits out the delay too');
    await clock.advance(1);
    assert.equal(await done, true);
    assert.equal(sink.calls.at(-1)?.event.message, 'pod-a became leader');
  });

  it('an event made while another is being written still waits 25 ms from its own change', async () => {
    const { clock, sink, election } = setup();
    let answer = () => {};
    sink.inFlight = new Promise<void>((resolve) => (answer = resolve));
    election.emit('started', true);
    await clock.advance(EVENT_WRITE_DELAY_MS);
    assert.equal(sink.calls.length, 1, 'the first is in flight');
    await clock.advance(5);
    election.emit('stopped', false);
    sink.inFlight = undefined;
    answer();
    await clock.advance(EVENT_WRITE_DELAY_MS - 1);
    assert.equal(sink.calls.length, 1, 'the second not before 25 ms after its change');
    await clock.advance(1);
    assert.deepEqual(
      sink.calls.map((call) => call.event.message),
      ['pod-a became leader', 'pod-a stopped leading'],
    );
  });

  it('an event whose 25 ms ran out while writes were held is written 25 ms after the resume (the release)', async () => {
    const { clock, sink, recorder, election } = setup();
    election.emit('started', true);
    await clock.advance(10);
    recorder.hold();
    election.emit('stopped', false);
    await clock.advance(30);
    assert.equal(sink.calls.length, 0, 'nothing written while held');
    recorder.resume();
    await clock.advance(EVENT_WRITE_DELAY_MS - 1);
    assert.equal(sink.calls.length, 0, 'not at the resume, nor within 25 ms of it');
    await clock.advance(1);
    assert.deepEqual(
      sink.calls.map((call) => call.event.message),
      ['pod-a became leader', 'pod-a stopped leading'],
    );
  });

  it('held, makes events at once but writes none until resumed, then writes them in order with their own times', async () => {
    const { clock, sink, recorder, election } = setup();
    recorder.hold();
    const stoppedAt = clock.date().getTime();
    election.emit('stopped', false);
    await clock.advance(50);
    election.emit('started', true);
    await clock.advance(50);
    assert.equal(sink.calls.length, 0, 'nothing written while held');
    recorder.resume();
    await clock.advance(EVENT_WRITE_DELAY_MS - 1);
    assert.equal(sink.calls.length, 0, 'written 25 ms after the resume (the release), not before');
    await clock.advance(1);
    assert.deepEqual(writtenSince(sink, stoppedAt), [
      ['pod-a stopped leading', 0],
      ['pod-a became leader', 50],
    ]);
  });

  it('shutting down lets held events be written', async () => {
    const { clock, sink, recorder, election } = setup();
    recorder.hold();
    election.emit('stopped', false);
    await clock.advance(1);
    const done = recorder.shutdown(100);
    await clock.advance(EVENT_WRITE_DELAY_MS);
    assert.equal(await done, true);
    assert.deepEqual(
      sink.calls.map((call) => call.event.message),
      ['pod-a stopped leading'],
    );
  });

  it('logs a missing "create events" right once, never throws, and keeps going', async () => {
    const { clock, sink, lines, recorder, election } = setup();
    sink.failWith = () => new KubeApiError('create', 'forbidden', 'events is forbidden', 403, 'Forbidden');
    for (let index = 0; index < 5; index++) {
      election.emit(index % 2 ? 'stopped' : 'started', index % 2 === 0);
      await clock.advance(EVENT_WRITE_DELAY_MS);
    }
    assert.equal(sink.calls.length, 5, 'each event tried once, not retried');
    assert.equal(
      lines.filter((line) => line.level === 'warn' && line.msg.includes('RBAC forbids create on resource "events"'))
        .length,
      1,
    );
    sink.failWith = undefined;
    election.emit('started', true);
    await clock.advance(EVENT_WRITE_DELAY_MS);
    assert.equal(recorder.stats.created, 1, 'events are written once the right is granted');
  });

  it('retries while the API server cannot be reached (10 s apart, first wait randomised), up to 12 tries', async () => {
    const { clock, sink, recorder, election } = setup();
    let failures = 3;
    sink.failWith = () => (failures-- > 0 ? new KubeApiError('create', 'network', 'ECONNREFUSED') : undefined);
    election.emit('started', true);
    await clock.advance(EVENT_WRITE_DELAY_MS);
    assert.equal(sink.calls.length, 1);
    await clock.advance(5_000); // 10 s × random 0.5
    assert.equal(sink.calls.length, 2);
    await clock.advance(20_000);
    assert.equal(sink.calls.length, 4);
    assert.equal(recorder.stats.created, 1);

    sink.failWith = () => new KubeApiError('create', 'network', 'ECONNREFUSED');
    election.emit('stopped', false);
    await clock.advance(200_000);
    assert.equal(sink.calls.length, 4 + 12);
    assert.equal(recorder.stats.failed, 1);
  });

  it('does not retry an event the server rejects; a repeat whose event expired is created again', async () => {
    const { clock, sink, recorder, election } = setup();
    election.emit('started', true);
    await clock.advance(EVENT_WRITE_DELAY_MS);
    sink.stored.clear(); // the event expired on the server
    election.emit('started', true);
    await clock.advance(EVENT_WRITE_DELAY_MS);
    assert.deepEqual(
      sink.calls.map((call) => call.verb),
      ['create', 'patch', 'create'],
    );
    assert.equal(sink.calls[2]?.event.count, 2);
    assert.equal(sink.calls[2]?.event.resourceVersion, undefined);

    sink.failWith = () => new KubeApiError('create', 'rejected', 'Event is invalid', 422, 'Invalid');
    election.emit('stopped', false);
    await clock.advance(60_000);
    assert.equal(sink.calls.length, 4);
    assert.equal(recorder.stats.failed, 1);
  });

  it('on shutdown tries queued events once and gives up after the timeout', async () => {
    const { clock, sink, recorder, election } = setup();
    sink.failWith = () => new KubeApiError('create', 'network', 'ECONNREFUSED');
    election.emit('started', true);
    election.emit('stopped', false);
    await clock.advance(1);
    const done = recorder.shutdown(1000);
    await clock.advance(1000);
    assert.equal(await done, true);
    assert.equal(sink.calls.length, 2, 'one try each once shutting down');
  });
});
