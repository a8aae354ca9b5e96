import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Fanout } from '../../src/election/changes.ts';
import type { Candidacy, LeadershipChange } from '../../src/election/leadership.ts';
import { Elector, NEUTRAL_WORDING } from '../../src/election/elector.ts';
import { KubeApiError } from '../../src/kube-api/api-error.ts';
import { FakeClock, settle } from '../support/fake-clock.ts';
import { MemoryStore, memoryLog, record } from '../support/memory-lock.ts';

const timings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

function setup(identity = 'me') {
  const store = new MemoryStore();
  const clock = new FakeClock();
  const { log, lines } = memoryLog();
  const elector = new Elector({ lock: store.lock(), identity, log, clock, random: () => 0.5, ...timings });
  const changes: LeadershipChange[] = [];
  elector.subscribe((change) => changes.push(change));
  return { store, clock, elector, changes, lines };
}

describe('elector', () => {
  it('creates a missing lock and leads, with zero transitions', async () => {
    const { store, clock, elector, changes } = setup();
    elector.start();
    await clock.advance(0);
    assert.equal(store.stored?.record.holderIdentity, 'me');
    assert.equal(store.stored?.record.leaderTransitions, 0);
    assert.deepEqual(
      changes.map((change) => [change.type, change.leader, change.isLeader]),
      [
        ['started', 'me', true],
        ['leader-changed', 'me', true],
      ],
    );
    assert.equal(elector.snapshot().leader, 'me');
    await elector.stop({ release: false });
  });

  it("waits a full lease duration from its own observation, whatever the holder's clock says", async () => {
    const { store, clock, elector } = setup();
    // The holder's clock is an hour behind: its renewTime looks long expired, but the record was only just observed.
    store.writeAsOther(record('other', new Date(clock.date().getTime() - 3_600_000), 3));
    elector.start();
    await clock.advance(0);
    assert.equal(elector.snapshot().leader, 'other');
    await clock.advance(14_000);
    assert.equal(
      store.stored?.record.holderIdentity,
      'other',
      'must not take a lock observed unchanged for less than the lease duration',
    );
    await clock.advance(1_200);
    assert.equal(store.stored?.record.holderIdentity, 'me');
    assert.equal(store.stored?.record.leaderTransitions, 4, 'a new holder counts one transition');
    await elector.stop({ release: false });
  });

  it('never takes a lock whose record keeps changing, and reads nothing while its watch holds', async () => {
    const { store, clock, elector } = setup();
    store.writeAsOther(record('other', clock.date()));
    elector.start();
    await clock.advance(0);
    const reads = store.count('get');
    for (let i = 0; i < 30; i++) {
      await clock.advance(2_000);
      store.writeAsOther(record('other', clock.date()));
    }
    await clock.advance(0);
    assert.equal(store.stored?.record.holderIdentity, 'other');
    assert.equal(store.count('get'), reads, 'a follower with a healthy watch sends no periodic reads');
    assert.equal(elector.snapshot().leader, 'other');
    await elector.stop({ release: false });
  });

  it('rehearses its takeover write once per holder it follows, sending nothing', async () => {
    const { store, clock, elector } = setup();
    store.writeAsOther(record('other', clock.date(), 2));
    elector.start();
    await clock.advance(0);
    const calls = store.calls.length;
    await clock.advance(4_000);
    assert.deepEqual(
      store.rehearsals.map(({ resourceVersion, record }) => [
        resourceVersion,
        record.holderIdentity,
        record.leaderTransitions,
      ]),
      [[store.stored?.resourceVersion, 'me', 3]],
      'the write it would send to take the lock: its own identity, a new term',
    );
    assert.equal(store.stored?.record.holderIdentity, 'other', 'the lock is untouched');
    assert.equal(store.calls.length, calls, 'no API call for it');
    store.writeAsOther(record('third', clock.date(), 3));
    await clock.advance(2_000);
    assert.deepEqual(
      store.rehearsals.map(({ record }) => record.leaderTransitions),
      [3, 4],
      'again for a new holder',
    );
    await elector.stop({ release: false });
  });

  it('takes a released lock at once, from the watch event', async () => {
    const { store, clock, elector, changes } = setup();
    store.writeAsOther(record('other', clock.date(), 2));
    elector.start();
    await clock.advance(0);
    store.writeAsOther({ ...record('', clock.date(), 2), leaseDurationSeconds: 1 });
    await clock.advance(0);
    assert.equal(store.stored?.record.holderIdentity, 'me');
    assert.equal(store.stored?.record.leaderTransitions, 3);
    assert.ok(changes.some((change) => change.type === 'started'));
    await elector.stop({ release: false });
  });

  it("the watch echo of its own acquire, come before the write's answer, waits for it: started first, never itself as leader while not leading", async () => {
    const { store, clock, elector, changes } = setup();
    store.writeAsOther(record('other', clock.date(), 2));
    elector.start();
    await clock.advance(0);
    store.answeringLate.add('update');
    store.writeAsOther({ ...record('', clock.date(), 2), leaseDurationSeconds: 1 });
    await clock.advance(0);
    assert.equal(store.stored?.record.holderIdentity, 'me', 'the acquire is applied');
    await settle();
    assert.equal(store.inFlight, 1, "the write's answer has not come; the watch event has");
    store.answeringLate.delete('update');
    await clock.advance(0);
    assert.deepEqual(
      changes.map(({ type, leader, isLeader, previousLeader }) => [type, leader, isLeader, previousLeader]),
      [
        ['leader-changed', 'other', false, ''],
        ['leader-changed', '', false, 'other'],
        ['started', 'me', true, ''],
        ['leader-changed', 'me', true, ''],
      ],
    );
    await elector.stop({ release: false });
  });

  it("reports no leader once the holder's lease runs out, even before anyone takes it", async () => {
    const { store, clock, elector } = setup();
    store.writeAsOther(record('other', clock.date()));
    store.failures.set('update', [new KubeApiError('update', 'server', 'etcd down', 503)]);
    elector.start();
    await clock.advance(0);
    assert.equal(elector.snapshot().leader, 'other');
    await clock.advance(15_100);
    assert.equal(elector.snapshot().leader, '', 'an expired holder is not reported as leader');
    await elector.stop({ release: false });
  });

  it('renews every retry period and steps down when it cannot renew within the renew deadline, then competes again', async () => {
    const { store, clock, elector, changes } = setup();
    elector.start();
    await clock.advance(0);
    const renewed = store.stored?.record.renewTime?.getTime();
    await clock.advance(2_000);
    assert.ok((store.stored?.record.renewTime?.getTime() ?? 0) > (renewed ?? 0), 'renewed after one retry period');

    const down = Array.from({ length: 8 }, () => new KubeApiError('update', 'server', 'unavailable', 503));
    store.failures.set('update', down);
    store.failures.set('get', [
      ...Array.from({ length: 8 }, () => new KubeApiError('get', 'server', 'unavailable', 503)),
    ]);
    await clock.advance(12_000);
    const stopped = changes.find((change) => change.type === 'stopped');
    assert.equal(stopped?.reason, 'renew-deadline');
    assert.equal(elector.snapshot().isLeader, false);

    store.failures.clear();
    await clock.advance(40_000);
    assert.equal(elector.snapshot().isLeader, true, 'competes again after stepping down');
    await elector.stop({ release: false });
  });

  it('a paused leader reports stopped leading before it answers as leader, and no "no leader" on a guess', async () => {
    const { clock, elector, changes } = setup();
    elector.start();
    await clock.advance(0);
    assert.equal(elector.snapshot().isLeader, true);
    const before = changes.length;
    clock.jump(11_000); // SIGSTOP: no timer ran, no renew happened
    const state = elector.snapshot();
    assert.equal(state.isLeader, false);
    assert.equal(state.leader, 'me', 'the record it last saw still names it: not "no leader" before a read');
    assert.deepEqual(
      changes.slice(before).map((change) => [change.type, change.leader, change.isLeader, change.reason]),
      [['stopped', 'me', false, 'renew-deadline']],
    );
    await elector.stop({ release: false });
  });

  it('a leader cut off past its renew deadline names itself (not leading) until a read shows the new holder', async () => {
    const { store, clock, elector, changes } = setup();
    elector.start();
    await clock.advance(0);
    const cutOff = (verb: 'get' | 'update') =>
      Array.from({ length: 100 }, () => new KubeApiError(verb, 'network', 'connect ETIMEDOUT', undefined));
    store.failures.set('update', cutOff('update'));
    store.failures.set('get', cutOff('get'));
    await clock.advance(30_000);
    assert.equal(changes.find((change) => change.type === 'stopped')?.reason, 'renew-deadline');
    assert.deepEqual(
      [elector.snapshot().leader, elector.snapshot().isLeader],
      ['me', false],
      'still the holder it last saw, not leading',
    );
    // Another replica took the lock meanwhile (a new term); the link heals.
    store.writeAsOther(record('other', clock.date(), 1));
    store.failures.clear();
    await clock.advance(5_000);
    assert.equal(elector.snapshot().leader, 'other');
    assert.deepEqual(
      changes.filter((change) => change.type === 'leader-changed').map((change) => change.leader),
      ['me', 'other'],
      'straight from itself to the new holder: never "no leader" on a guess',
    );
    await elector.stop({ release: false });
  });

  it('a leader paused past its lease, with nobody to take over, reports "no leader" only after a read, then leads a new term', async () => {
    const { store, clock, elector, changes } = setup();
    elector.start();
    await clock.advance(0);
    const before = changes.length;
    clock.jump(20_000); // SIGSTOP past the lease (15 s)
    assert.equal(elector.snapshot().leader, 'me', 'before any read it names the record it last saw');
    const reads = store.count('get');
    await clock.advance(0);
    assert.ok(store.count('get') > reads, 'read the lock');
    assert.deepEqual(
      changes.slice(before).map((change) => [change.type, change.leader, change.transitions]),
      [
        ['stopped', 'me', 0],
        ['leader-changed', '', 0],
        ['started', 'me', 1],
        ['leader-changed', 'me', 1],
      ],
      'its lease ran out, confirmed by the read: a real "no leader", then a new term',
    );
    assert.equal(store.stored?.record.leaderTransitions, 1);
    await elector.stop({ release: false });
  });

  it('a leader paused past its renew deadline but not its lease takes its own record back in the same term, silently for the leader', async () => {
    const { store, clock, elector, changes } = setup();
    elector.start();
    await clock.advance(0);
    clock.jump(12_000); // SIGSTOP past the renew deadline (10 s), below the lease (15 s)
    await clock.advance(0);
    assert.equal(elector.snapshot().isLeader, true, 'leads again after reading its own, still valid, record');
    assert.equal(store.stored?.record.leaderTransitions, 0, 'the same term');
    assert.deepEqual(
      changes.map((change) => [change.type, change.leader]),
      [
        ['started', 'me'],
        ['leader-changed', 'me'],
        ['stopped', 'me'],
        ['started', 'me'],
      ],
      'stopped and started again; the election never was without a leader, nor did its leader change',
    );
    await elector.stop({ release: false });
  });

  it('steps down when another client took the lock (renew conflict)', async () => {
    const { store, clock, elector, changes } = setup();
    elector.start();
    await clock.advance(0);
    store.writeAsOther(record('intruder', clock.date(), 1));
    await clock.advance(2_000);
    assert.equal(elector.snapshot().isLeader, false);
    assert.equal(elector.snapshot().leader, 'intruder');
    assert.equal(changes.find((change) => change.type === 'stopped')?.reason, 'lost');
    await elector.stop({ release: false });
  });

  it('a renew conflict on a lock that is still ours: reads, renews at once on the fresh object (the slow path), keeps leading', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    let slowPaths = 0;
    const elector = new Elector({
      lock: store.lock(),
      identity: 'me',
      log: memoryLog().log,
      clock,
      random: () => 0.5,
      ...timings,
      onSlowPath: () => slowPaths++,
    });
    elector.start();
    await clock.advance(0);
    const updates = store.count('update');
    store.failures.set('update', [
      new KubeApiError('update', 'conflict', 'the object has been modified', 409, 'Conflict'),
    ]);
    await clock.advance(2_000);
    assert.equal(slowPaths, 1);
    assert.equal(store.count('update'), updates + 2, 'the refused renew, then one on the object just read');
    assert.equal(store.stored?.record.renewTime?.getTime(), clock.date().getTime(), 'renewed now');
    assert.equal(elector.snapshot().isLeader, true);
    await elector.stop({ release: false });
  });

  it('on stop, a leader reports stopped (reason shutdown) first, then releases as client-go does: empty holder, one-second lease, transitions kept', async () => {
    const { store, clock, elector, changes } = setup();
    store.writeAsOther({ ...record('', clock.date(), 5), leaseDurationSeconds: 1 });
    elector.start();
    await clock.advance(0);
    assert.equal(store.stored?.record.leaderTransitions, 6);
    let holderWhenStopped: string | undefined;
    elector.subscribe((change) => {
      if (change.type === 'stopped') holderWhenStopped = store.stored?.record.holderIdentity;
    });
    await elector.stop({ release: true });
    assert.equal(holderWhenStopped, 'me', 'stopped is reported while the lock is still held, before the release');
    assert.equal(store.stored?.record.holderIdentity, '');
    assert.equal(store.stored?.record.leaseDurationSeconds, 1);
    assert.equal(store.stored?.record.leaderTransitions, 6);
    assert.equal(changes.find((change) => change.type === 'stopped')?.reason, 'shutdown');
  });

  it('on stop, the watch stream is closed after the release write, which it must not delay; no watch event is acted on once stopping', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const lock = store.lock();
    let holderWhenClosed: string | undefined;
    const elector = new Elector({
      // Closing a real stream costs the HTTP client milliseconds of synchronous work.
      lock: {
        ...lock,
        watch: async (resourceVersion, handlers) => {
          const close = await lock.watch(resourceVersion, handlers);
          return () => {
            holderWhenClosed = store.stored?.record.holderIdentity;
            close();
          };
        },
      },
      identity: 'me',
      log: memoryLog().log,
      clock,
      random: () => 0.5,
      ...timings,
      // Another client writes while the leader stops: the open stream carries it, the stopping elector ignores it.
      beforeRelease: () => Promise.resolve(store.writeAsOther(record('other', clock.date(), 0))),
    });
    const changes: LeadershipChange[] = [];
    elector.subscribe((change) => changes.push(change));
    elector.start();
    await clock.advance(0);
    assert.equal(store.watchCount, 1);
    await elector.stop({ release: true });
    assert.equal(
      holderWhenClosed,
      'other',
      'the release was tried (and lost to the other write) before the watch closed',
    );
    assert.equal(store.watchCount, 0, 'no stream is left open');
    const afterStop = changes.slice(changes.findIndex((change) => change.type === 'stopped') + 1);
    assert.deepEqual(
      afterStop.map((change) => [change.type, change.leader]),
      [['leader-changed', 'other']],
      'the other holder is reported once, from the read after the refused release, not from the stream',
    );
  });

  it('stop before release: beforeRelease runs after stopped and before the release write; past last renew + renew deadline − retry period the release goes ahead', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const order: string[] = [];
    let signal: AbortSignal | undefined;
    const elector = new Elector({
      lock: store.lock(),
      identity: 'me',
      log: memoryLog().log,
      clock,
      random: () => 0.5,
      ...timings,
      beforeRelease: (abort) => {
        signal = abort;
        order.push(`beforeRelease (holder ${store.stored?.record.holderIdentity})`);
        return new Promise(() => {}); // the hook never answers
      },
    });
    elector.subscribe((change) => {
      if (change.type === 'stopped') order.push('stopped');
    });
    elector.start();
    await clock.advance(0);
    await clock.advance(1_000); // last renew at 0: the release must go ahead by 0 + 10 s − 2 s
    const stopping = elector.stop({ release: true });
    await clock.advance(6_900);
    assert.equal(store.stored?.record.holderIdentity, 'me', 'still waiting for the hook');
    assert.equal(signal?.aborted, false);
    await clock.advance(200);
    await stopping;
    assert.equal(signal?.aborted, true);
    assert.deepEqual(order, ['stopped', 'beforeRelease (holder me)']);
    assert.equal(store.stored?.record.holderIdentity, '', 'released at last renew + renew deadline − retry period');
  });

  it('stop with the API unreachable resolves at last renew + lease duration at the latest; the release in flight is ended, nothing is sent or logged after', async () => {
    const { store, clock, elector, lines } = setup();
    elector.start();
    await clock.advance(0);
    await clock.advance(2_000); // renewed at 2 s: our lease runs out for everyone at 17 s
    store.hanging.add('update');
    store.hanging.add('get');
    let stopped = false;
    const stopping = elector.stop({ release: true }).then(() => (stopped = true));
    await clock.advance(14_999);
    assert.equal(stopped, false, 'still trying to release within the lease');
    await clock.advance(1);
    await settle();
    assert.equal(stopped, true, 'given up at last renew + lease duration, the request still hanging');
    assert.ok(lines.some((line) => line.message.includes('could not release the lock')));
    await settle();
    assert.equal(store.inFlight, 0, 'the release request in flight was ended');
    const [calls, logged] = [store.calls.length, lines.length];
    await clock.advance(60_000);
    assert.equal(store.calls.length, calls, 'nothing is sent once stop() resolved');
    assert.deepEqual(lines.slice(logged), [], 'nothing is logged once stop() resolved');
    store.hanging.clear();
    await stopping;
  });

  it('a renew that hangs: stopped is reported from a timer at last renew + renew deadline, not when the request ends', async () => {
    const { store, clock, elector, changes } = setup();
    elector.start();
    await clock.advance(0);
    assert.equal(elector.leadingUntil(), 10_000);
    store.hanging.add('update');
    await clock.advance(9_999);
    assert.equal(changes.filter((change) => change.type === 'stopped').length, 0);
    await clock.advance(1);
    const stopped = changes.find((change) => change.type === 'stopped');
    assert.equal(stopped?.reason, 'renew-deadline');
    assert.equal(stopped?.at.getTime(), clock.date().getTime(), 'at exactly last renew + renew deadline');
    assert.equal(elector.leadingUntil(), undefined);
    store.hanging.clear();
    await elector.stop({ release: false });
  });

  it("a write answered after the renew deadline is no base to lead on; its record then expires as any holder's, is read, and taken", async () => {
    const { store, clock, elector, changes } = setup();
    store.answeringLate.add('create');
    elector.start();
    await clock.advance(10_001);
    store.answeringLate.delete('create');
    await clock.advance(0);
    assert.equal(store.stored?.record.holderIdentity, 'me', 'the server applied the create');
    assert.equal(elector.snapshot().isLeader, false, 'answered past the renew deadline: not led on');
    assert.equal(elector.snapshot().leader, 'me', 'names the holder, itself, until a read');
    assert.equal(changes.filter((change) => change.type === 'started').length, 0);
    // Nobody renews that record, so it is any holder's whose lease runs out: read at its expiry, then taken.
    const reads = store.count('get');
    await clock.advance(15_000 - 1);
    assert.equal(elector.snapshot().isLeader, false);
    await clock.advance(200);
    assert.ok(store.count('get') > reads, 'read at the expiry');
    assert.equal(elector.snapshot().isLeader, true, 'leads once the record it could not lead on has expired');
    assert.equal(store.stored?.record.leaderTransitions, 1, 'a new term');
    await elector.stop({ release: false });
  });

  it('a follower whose watch misses the renewals reads at the expiry it computed, keeps naming the leader, and watches again', async () => {
    const { store, clock, elector, changes } = setup();
    store.writeAsOther(record('other', clock.date()));
    elector.start();
    await clock.advance(0);
    const watches = store.count('watch');
    store.silenceWatches();
    for (let i = 0; i < 10; i++) {
      await clock.advance(2_000);
      store.writeAsOther(record('other', clock.date()));
    }
    assert.ok(store.count('get') >= 2, 'read at the expiry');
    assert.ok(store.count('watch') > watches, 'watched again after the read found a change the watch never delivered');
    assert.equal(store.count('update') + store.count('create'), 0, 'no doomed write');
    assert.deepEqual(
      changes.filter((change) => change.type === 'leader-changed').map((change) => change.leader),
      ['other'],
      'never "no leader"',
    );
    await elector.stop({ release: false });
  });

  it('a crashed holder: "no leader" only after a read at its expiry found the record unchanged; then takes the lock', async () => {
    const { store, clock, elector, changes } = setup();
    store.writeAsOther(record('other', clock.date(), 3));
    elector.start();
    await clock.advance(0);
    const reads = store.count('get');
    let readsWhenNoLeader = -1;
    elector.subscribe((change) => {
      if (change.type === 'leader-changed' && change.leader === '') readsWhenNoLeader = store.count('get');
    });
    await clock.advance(15_200);
    assert.equal(readsWhenNoLeader, reads + 1, 'one read between the expiry and the report');
    assert.equal(store.stored?.record.holderIdentity, 'me');
    assert.equal(store.stored?.record.leaderTransitions, 4);
    assert.ok(changes.some((change) => change.type === 'started'));
    await elector.stop({ release: false });
  });

  it('another process writing under this identity: one error naming the identity and the fix, counted, never leads through it', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const { log, lines } = memoryLog();
    let clashes = 0;
    const elector = new Elector({
      lock: store.lock(),
      identity: 'me',
      log,
      clock,
      random: () => 0.5,
      ...timings,
      onIdentityClash: () => clashes++,
      wording: { ...NEUTRAL_WORDING, identityClashFix: 'Set the identity setting' },
    });
    const changes: LeadershipChange[] = [];
    elector.subscribe((change) => changes.push(change));
    store.writeAsOther(record('me', clock.date(), 2)); // the other process leads as "me"
    elector.start();
    await clock.advance(0);
    for (let i = 0; i < 15; i++) {
      await clock.advance(2_000);
      store.writeAsOther(record('me', clock.date(), 2));
    }
    assert.equal(changes.filter((change) => change.type === 'started').length, 0, 'never leads');
    assert.ok(clashes >= 10, `counted (${clashes})`);
    const errors = lines.filter((line) => line.level === 'error');
    assert.equal(errors.length, 1, 'one error line while the clash lasts');
    // The fix is worded by whoever runs the election (the sidecar names --id, the library its identity option).
    assert.match(
      errors[0]!.message,
      /identity "me": identities must be unique\. Set the identity setting; .*hostNetwork/,
    );
    assert.equal(elector.snapshot().leader, 'me', 'the lock names "me", held by the other process');
    assert.equal(elector.snapshot().isLeader, false);
    await elector.stop({ release: false });
  });

  it('a record left by an earlier run under this identity is taken over after it expires, as a new term', async () => {
    const { store, clock, elector } = setup();
    store.writeAsOther(record('me', clock.date(), 7));
    elector.start();
    await clock.advance(14_000);
    assert.equal(elector.snapshot().isLeader, false, 'waits for it to expire like any holder');
    await clock.advance(1_300);
    assert.equal(elector.snapshot().isLeader, true);
    assert.equal(store.stored?.record.leaderTransitions, 8, 'a new term: event ids of the two runs never collide');
    await elector.stop({ release: false });
  });

  it('leaseTransitions at the int32 limit: the takeover keeps 2147483647 instead of writing a value the API refuses', async () => {
    const { store, clock, elector } = setup();
    store.writeAsOther({ ...record('', clock.date(), 2_147_483_647), leaseDurationSeconds: 1 });
    elector.start();
    await clock.advance(0);
    assert.equal(store.stored?.record.holderIdentity, 'me');
    assert.equal(store.stored?.record.leaderTransitions, 2_147_483_647);
    await elector.stop({ release: false });
  });

  it('watches again when the server closes the stream, and polls while it cannot watch', async () => {
    const { store, clock, elector } = setup();
    store.writeAsOther(record('other', clock.date()));
    elector.start();
    await clock.advance(0);
    assert.equal(store.watchCount, 1);
    store.closeWatches();
    await clock.advance(0);
    assert.equal(store.watchCount, 1, 're-watched at once after a clean close');

    store.watchRefused = new KubeApiError('watch', 'forbidden', 'forbidden', 403);
    store.closeWatches(new KubeApiError('watch', 'server', 'gone', 500));
    const reads = store.count('get');
    for (let i = 0; i < 5; i++) {
      await clock.advance(2_000);
      store.writeAsOther(record('other', clock.date()));
    }
    assert.ok(store.count('get') > reads, 'polls while no watch is possible');
    store.watchRefused = undefined;
    await clock.advance(60_000);
    assert.equal(store.watchCount, 1, 'watches again once allowed');
    await elector.stop({ release: false });
  });

  it('a watch the server closes after a while costs no read; one closed at once, again and again, is backed off and polled', async () => {
    const { store, clock, elector } = setup();
    store.writeAsOther(record('other', clock.date()));
    elector.start();
    await clock.advance(0);
    const reads = store.count('get');
    for (let i = 0; i < 5; i++) {
      await clock.advance(2_000);
      store.writeAsOther(record('other', clock.date()));
      store.closeWatches();
      await clock.advance(0);
    }
    assert.equal(store.count('get'), reads, 'resumed from the last resourceVersion without reading');
    assert.equal(elector.snapshot().leader, 'other');

    const watchesBefore = store.count('watch');
    for (let i = 0; i < 20; i++) {
      store.closeWatches();
      await clock.advance(0);
    }
    assert.ok(
      store.count('watch') - watchesBefore < 20,
      'empty streams closed at once are not re-opened at once every time',
    );
    assert.ok(store.count('get') > reads, 'polls while the watch is backing off');
    await clock.advance(60_000);
    assert.equal(store.watchCount, 1, 'watching again after the back-off');
    await elector.stop({ release: false });
  });

  it('logs one actionable line for an RBAC refusal, keeps retrying with back-off, and recovers', async () => {
    const { store, clock, elector, lines } = setup();
    const forbidden = () =>
      new KubeApiError('get', 'forbidden', 'leases.coordination.k8s.io "demo" is forbidden', 403, 'Forbidden');
    store.failures.set('get', Array.from({ length: 6 }, forbidden));
    store.watchRefused = new KubeApiError('watch', 'forbidden', 'forbidden', 403);
    elector.start();
    await clock.advance(60_000);
    const errors = lines.filter((line) => line.level === 'error');
    assert.equal(errors.length, 1, 'one line, not one per attempt');
    assert.match(
      errors[0]?.message ?? '',
      /RBAC forbids get on resource "leases" \(apiGroup coordination\.k8s\.io\) in namespace "default"/,
    );
    assert.ok(store.count('get') >= 4, 'kept retrying');
    assert.ok(store.count('get') < 30, 'backed off instead of hammering');
    await clock.advance(60_000);
    assert.equal(elector.snapshot().isLeader, true, 'recovered once RBAC allowed it');
    await elector.stop({ release: false });
  });

  it('five candidates on one lock: exactly one leads', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const electors = ['a', 'b', 'c', 'd', 'e'].map(
      (identity, index) =>
        new Elector({ lock: store.lock(), identity, log: memoryLog().log, clock, random: () => index / 5, ...timings }),
    );
    for (const elector of electors) elector.start();
    await clock.advance(30_000);
    await settle();
    const leaders = electors.filter((elector) => elector.snapshot().isLeader).map((elector) => elector.identity);
    assert.equal(leaders.length, 1);
    for (const elector of electors) assert.equal(elector.snapshot().leader, leaders[0]);
    await Promise.all(electors.map((elector) => elector.stop({ release: false })));
  });
});

/** A candidacy the test sets by hand, as src/candidate/ sets it from the main container's health checks. */
class TestCandidacy implements Candidacy {
  acquire: boolean;
  lead: boolean;
  readonly #listeners = new Set<() => void>();

  constructor(acquire: boolean, lead = acquire) {
    this.acquire = acquire;
    this.lead = lead;
  }

  mayAcquire(): boolean {
    return this.acquire;
  }

  mayLead(): boolean {
    return this.lead;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  set(acquire: boolean, lead = acquire): void {
    this.acquire = acquire;
    this.lead = lead;
    for (const listener of this.#listeners) listener();
  }
}

function candidate(
  store: MemoryStore,
  clock: FakeClock,
  identity: string,
  candidacy: Candidacy,
  beforeRelease?: (signal: AbortSignal) => Promise<void>,
) {
  const elector = new Elector({
    lock: store.lock(),
    identity,
    log: memoryLog().log,
    clock,
    random: () => 0.5,
    ...timings,
    candidacy,
    ...(beforeRelease ? { beforeRelease } : {}),
  });
  const changes: LeadershipChange[] = [];
  elector.subscribe((change) => changes.push(change));
  return { elector, changes };
}

describe('elector candidacy', () => {
  it('a read answered after a newer watch event does not take the follower back: no false "no leader", no old holder again', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    // A replica that may not take the lock: it only follows, as a replica whose candidate check fails would.
    const { elector, changes } = candidate(store, clock, 'c', new TestCandidacy(false));
    store.writeAsOther(record('a', clock.date(), 0));
    elector.start();
    await clock.advance(0);
    const leaders = () => changes.filter((change) => change.type === 'leader-changed').map((change) => change.leader);
    assert.deepEqual(leaders(), ['a']);

    // The watch fails (a gap): c reads; the server answers at once, but the answer is slow to arrive.
    store.writeAsOther(record('', clock.date(), 0));
    await settle();
    assert.deepEqual(leaders(), ['a', ''], 'the release seen on the watch');
    store.answeringLate.add('get');
    store.closeWatches(new KubeApiError('watch', 'network', 'connection reset', undefined));
    await clock.advance(0);
    assert.equal(store.count('get'), 2, 'the read after the gap is in flight');
    // Meanwhile b takes the lock, and the watch (open again) brings it before the read's answer.
    store.writeAsOther(record('b', clock.date(), 1));
    await settle();
    assert.deepEqual(leaders(), ['a', '', 'b']);
    store.answeringLate.delete('get');
    await clock.advance(0);
    assert.deepEqual(leaders(), ['a', '', 'b'], 'the late answer (the lock free) is older than b: set aside');
    assert.equal(elector.snapshot().leader, 'b');
    await elector.stop({ release: false });
  });

  it('a read that found no lock, answered after the watch brought its creation, does not report it gone', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const { elector, changes } = candidate(store, clock, 'c', new TestCandidacy(false));
    store.answeringLate.add('get');
    elector.start();
    await clock.advance(0);
    store.writeAsOther(record('b', clock.date(), 0));
    await settle();
    store.answeringLate.delete('get');
    await clock.advance(0);
    assert.deepEqual(
      changes.filter((change) => change.type === 'leader-changed').map((change) => change.leader),
      ['b'],
      'the late "not found" is older than the creation: set aside',
    );
    assert.equal(elector.snapshot().leader, 'b');
    await elector.stop({ release: false });
  });

  it('a replica that may not acquire never writes the lock, missing or free, and takes it at once when it may', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const candidacy = new TestCandidacy(false);
    const { elector, changes } = candidate(store, clock, 'me', candidacy);
    elector.start();
    await clock.advance(60_000);
    assert.equal(store.count('create'), 0, 'a missing lock is not created');
    store.writeAsOther({ ...record('', clock.date(), 4), leaseDurationSeconds: 1 });
    await clock.advance(60_000);
    assert.equal(store.count('create') + store.count('update'), 0, 'a free lock is not taken');
    assert.ok(store.count('get') <= 2, `no polling meanwhile (${store.count('get')} reads)`);
    assert.equal(elector.snapshot().isLeader, false);
    assert.deepEqual(changes, []);

    candidacy.set(true);
    await clock.advance(0);
    assert.equal(store.stored?.record.holderIdentity, 'me', 'campaigns as soon as it may, without waiting a period');
    assert.equal(store.stored?.record.leaderTransitions, 5);
    assert.equal(elector.snapshot().isLeader, true);
    await elector.stop({ release: false });
  });

  it("a replica that may not acquire confirms a dead holder's expiry with one read, reports no leader, writes nothing", async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    store.writeAsOther(record('other', clock.date()));
    const { elector } = candidate(store, clock, 'me', new TestCandidacy(false));
    elector.start();
    await clock.advance(0);
    assert.equal(elector.snapshot().leader, 'other');
    await clock.advance(60_000);
    assert.equal(elector.snapshot().leader, '', 'the expired holder is no longer reported');
    assert.equal(store.count('get'), 2, 'the start read and the read that confirmed the expiry');
    assert.equal(store.count('update'), 0);
    await elector.stop({ release: false });
  });

  it('a leader that may no longer lead: stopped (candidate-unhealthy) at once, hooks, then the release; a candidate takes over at once; it does not take the lock back', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const order: string[] = [];
    const sick = new TestCandidacy(true);
    const leader = candidate(store, clock, 'a', sick, () => {
      order.push(`beforeRelease (holder ${store.stored?.record.holderIdentity})`);
      return Promise.resolve();
    });
    leader.elector.subscribe((change) => {
      if (change.type === 'stopped') order.push(`stopped (holder ${store.stored?.record.holderIdentity})`);
    });
    leader.elector.start();
    await clock.advance(0);
    assert.equal(leader.elector.snapshot().isLeader, true);
    const follower = candidate(store, clock, 'b', new TestCandidacy(true));
    follower.elector.start();
    await clock.advance(3_000);
    assert.equal(follower.elector.snapshot().leader, 'a');

    sick.set(true, false); // one failure too many: may still campaign later, but not lead now
    assert.equal(leader.elector.snapshot().isLeader, false, 'stepped down synchronously');
    // Stopped, and no "no leader" yet: the lock still names it until its release (a write of its own) frees it.
    assert.equal(leader.changes.at(-1)?.type, 'stopped');
    assert.equal(leader.changes.at(-1)?.reason, 'candidate-unhealthy');
    assert.equal(leader.elector.snapshot().leader, 'a');
    sick.set(false);
    await clock.advance(0);
    assert.deepEqual(order, ['stopped (holder a)', 'beforeRelease (holder a)']);
    assert.equal(store.stored?.record.holderIdentity, 'b', 'the release was taken at once by the healthy replica');
    assert.equal(store.stored?.record.leaderTransitions, 1);
    assert.equal(follower.elector.snapshot().isLeader, true);

    await clock.advance(30_000);
    assert.equal(leader.elector.snapshot().leader, 'b');
    assert.equal(leader.elector.snapshot().isLeader, false);
    sick.set(true);
    await clock.advance(30_000);
    assert.equal(store.stored?.record.holderIdentity, 'b', 'a recovered replica follows the leader it finds');
    assert.equal(leader.elector.snapshot().leader, 'b');
    await Promise.all([leader.elector.stop({ release: false }), follower.elector.stop({ release: false })]);
  });

  it('a resigning leader waits for beforeRelease at most until last renew + renew deadline − retry period; stopped comes first', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const sick = new TestCandidacy(true);
    let signal: AbortSignal | undefined;
    const { elector, changes } = candidate(store, clock, 'me', sick, (abort) => {
      signal = abort;
      return new Promise(() => {}); // the main container never answers its hook
    });
    elector.start();
    await clock.advance(0);
    await clock.advance(1_000); // last renew at 0: the release must go ahead by 0 + 10 s − 2 s
    sick.set(false);
    assert.equal(changes.find((change) => change.type === 'stopped')?.at.getTime(), clock.date().getTime());
    await clock.advance(6_900);
    assert.equal(store.stored?.record.holderIdentity, 'me', 'still waiting for the hooks');
    assert.equal(signal?.aborted, false);
    assert.equal(store.count('update'), 0, 'no renew while resigned');
    await clock.advance(200);
    assert.equal(signal?.aborted, true);
    assert.equal(store.stored?.record.holderIdentity, '', 'released at last renew + renew deadline − retry period');
    assert.equal(store.stored?.record.leaseDurationSeconds, 1);
    await elector.stop({ release: true });
    assert.equal(changes.filter((change) => change.type === 'stopped').length, 1, 'stop() reports nothing twice');
  });

  it('a candidacy lost while the acquire is in flight: leads, then resigns and hands back at once', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const candidacy = new TestCandidacy(true);
    const lock = store.lock();
    const create = lock.create.bind(lock);
    lock.create = async (...args) => {
      const written = await create(...args);
      candidacy.lead = false; // the answer comes back after the check failed (no listener call needed)
      return written;
    };
    const elector = new Elector({
      lock,
      identity: 'me',
      log: memoryLog().log,
      clock,
      random: () => 0.5,
      ...timings,
      candidacy,
    });
    const changes: LeadershipChange[] = [];
    elector.subscribe((change) => changes.push(change));
    elector.start();
    await clock.advance(0);
    assert.deepEqual(
      changes.filter((change) => change.type !== 'leader-changed').map((change) => [change.type, change.reason]),
      [
        ['started', undefined],
        ['stopped', 'candidate-unhealthy'],
      ],
    );
    assert.equal(store.stored?.record.holderIdentity, '', 'handed back');
    await clock.advance(30_000);
    assert.equal(store.count('create') + store.count('update'), 2, 'the create and the release, and nothing since');
    await elector.stop({ release: false });
  });

  it('a replica that may acquire but not lead does not take the lock', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const { elector } = candidate(store, clock, 'me', new TestCandidacy(true, false));
    elector.start();
    await clock.advance(30_000);
    assert.equal(store.stored, undefined);
    await elector.stop({ release: false });
  });

  it('the renew-deadline bound holds for a candidate leader whose renew hangs', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const { elector, changes } = candidate(store, clock, 'me', new TestCandidacy(true));
    elector.start();
    await clock.advance(0);
    store.hanging.add('update');
    await clock.advance(10_000);
    assert.equal(changes.find((change) => change.type === 'stopped')?.reason, 'renew-deadline');
    store.hanging.clear();
    await elector.stop({ release: false });
  });
});

describe('leadership change fan-out', () => {
  it('delivers a change emitted from inside a listener after the current one, to every listener in the same order', () => {
    const fanout = new Fanout<string>(() => {});
    const first: string[] = [];
    const second: string[] = [];
    fanout.subscribe((value) => {
      first.push(value);
      if (value === 'a') fanout.emit('b');
    });
    fanout.subscribe((value) => second.push(value));
    fanout.emit('a');
    assert.deepEqual(first, ['a', 'b']);
    assert.deepEqual(second, ['a', 'b']);
  });
});
