import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import { eventId, type EventType } from '../../src/notify/events.ts';
import { freePort, Replica, waitFor } from '../support/replica.ts';
import { Receiver, type Received, type WebhookBody } from './receiver.ts';

const TIMINGS = ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=500ms'];

let api: EmbeddedApi;
let dir: string;
let kubeconfig: string;
const secret = `whsec_${randomBytes(32).toString('base64')}`;
const receivers: Receiver[] = [];

before(async () => {
  api = await startEmbeddedApi();
  dir = mkdtempSync(join(tmpdir(), 'leaderhook-notify-'));
  kubeconfig = join(dir, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
  writeFileSync(join(dir, 'secret'), `${secret}\n`);
});
after(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await api.close();
});

async function receiver(options: Parameters<typeof Receiver.start>[0] = {}): Promise<Receiver> {
  const started = await Receiver.start(options);
  receivers.push(started);
  return started;
}

/** A leader-scoped JSON target with quick retries, signed. */
function auditConfig(url: string): string {
  const file = join(dir, `config-${randomBytes(4).toString('hex')}.yaml`);
  writeFileSync(
    file,
    [
      'targets:',
      '  - name: audit',
      `    url: ${url}`,
      '    scope: leader',
      `    secretFiles: [${join(dir, 'secret')}]`,
      '    timeout: 1s',
      '    retry: {attempts: unlimited, minDelay: 100ms, maxDelay: 400ms, maxElapsed: 1m}',
    ].join('\n'),
  );
  return file;
}

async function agreedLeader(replicas: Replica[], not?: string): Promise<{ leader: string; transitions: number }> {
  return waitFor('all replicas to agree on a leader', async () => {
    const views = await Promise.all(replicas.map((replica) => replica.leader()));
    const leader = views[0]?.leader;
    if (!leader || leader === not || !views.every((view) => view?.leader === leader)) return undefined;
    return { leader, transitions: views[0]?.transitions ?? -1 };
  });
}

/** The Lease's uid, read from the API as a receiver's operator could. */
async function leaseUid(election: string): Promise<string> {
  const response = await fetch(`${api.url}/apis/coordination.k8s.io/v1/namespaces/default/leases/${election}`);
  return ((await response.json()) as { metadata: { uid: string } }).metadata.uid;
}

/** The README's ids of one term's four canonical events. */
async function ids(
  election: string,
  term: number,
  holder: string,
): Promise<[[EventType, string], [EventType, string], [EventType, string], [EventType, string]]> {
  const lockUid = await leaseUid(election);
  const id = (type: EventType, subject: string) =>
    eventId({ namespace: 'default', election, lockUid, transitions: term, type, subject });
  return [
    ['leadership.started', id('leadership.started', holder)],
    ['leader.changed', id('leader.changed', holder)],
    ['leadership.stopped', id('leadership.stopped', holder)],
    ['leader.changed', id('leader.changed', '')],
  ];
}

/** Distinct webhook-ids in order of first arrival; every copy of one id must be the same event. */
function distinct(
  received: Received[],
): Array<{ id: string; type: string; transitions: number; copies: number; observers: string[] }> {
  const byId = new Map<
    string,
    { id: string; type: string; transitions: number; copies: number; observers: string[] }
  >();
  for (const request of received) {
    const id = String(request.headers['webhook-id']);
    const body = JSON.parse(request.body) as { type: string; data: { transitions: number; observer: string } };
    const seen = byId.get(id);
    if (seen) {
      assert.equal(seen.type, body.type, `two events share the webhook-id ${id}`);
      assert.equal(seen.transitions, body.data.transitions);
      seen.copies++;
      seen.observers.push(body.data.observer);
    } else {
      byId.set(id, {
        id,
        type: body.type,
        transitions: body.data.transitions,
        copies: 1,
        observers: [body.data.observer],
      });
    }
  }
  return [...byId.values()];
}

describe('notifications from replicas as separate processes', () => {
  it('leader scope: one delivery per transition for the election, from the leader; hooks and state files per replica; SIGTERM drains the stop to the hook', async () => {
    const election = 'notify-scope';
    const audit = await receiver();
    const hooks = await Promise.all([receiver(), receiver(), receiver()]);
    const config = auditConfig(audit.url);
    const replicas = await Promise.all(
      hooks.map((hook, index) =>
        Replica.start({
          id: `${election}-${index + 1}`,
          kubeconfig,
          election,
          args: [
            ...TIMINGS,
            `--config=${config}`,
            `--hook=${hook.url}`,
            `--state-file=${join(dir, `${election}-${index + 1}.json`)}`,
          ],
        }),
      ),
    );
    try {
      const first = await agreedLeader(replicas);
      await audit.waitFor(2);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const [started, changedIn, stopped, changedOut] = await ids(election, first.transitions, first.leader);
      assert.deepEqual(
        distinct(audit.received).map((event) => [event.type, event.id, event.copies, event.observers[0]]),
        [
          [...started, 1, first.leader],
          [...changedIn, 1, first.leader],
        ],
        'the leader alone sent one message per transition',
      );
      for (const request of audit.received)
        assert.doesNotThrow(() => new Webhook(secret).verify(request.body, request.headers as Record<string, string>));

      // Every replica's own hook heard its own view; the state files hold GET /leader's body.
      for (const [index, hook] of hooks.entries()) {
        const self = `${election}-${index + 1}`;
        const types = hook.json().map((body) => body.type);
        assert.ok(types.includes('leader.changed'), `${self}'s hook heard of the leader`);
        assert.equal(types.includes('leadership.started'), self === first.leader);
        assert.equal(hook.json().at(-1)?.data.leader, first.leader);
        const state = JSON.parse(readFileSync(join(dir, `${self}.json`), 'utf8')) as {
          leader: string;
          self: string;
          isLeader: boolean;
        };
        assert.deepEqual([state.leader, state.self, state.isLeader], [first.leader, self, self === first.leader]);
      }

      const leader = replicas.find((replica) => replica.id === first.leader) as Replica;
      const deliveries = (await (await fetch(`${leader.url}/deliveries`)).json()) as {
        targets: Array<{ name: string; url: string }>;
        deliveries: Array<{ target: string; status: string }>;
      };
      assert.deepEqual(
        deliveries.targets.map((target) => [target.name, target.url]),
        [
          ['hook-1', `http://127.0.0.1:${hooks[replicas.indexOf(leader)]?.port}/…`],
          ['audit', `http://127.0.0.1:${audit.port}/…`],
        ],
      );
      assert.ok(deliveries.deliveries.some((entry) => entry.target === 'audit' && entry.status === 'delivered'));
      assert.ok(!JSON.stringify(deliveries).includes(secret.slice(6, 20)));

      // SIGTERM: leadership.stopped (reason shutdown) reaches the leader's own hook before it releases and exits.
      const leaderHook = hooks[replicas.indexOf(leader)] as Receiver;
      leader.signal('SIGTERM');
      assert.equal(await leader.exited, 0);
      const last = leaderHook
        .json()
        .filter((body) => body.type === 'leadership.stopped')
        .at(-1);
      assert.equal(last?.data.reason, 'shutdown');
      const live = replicas.filter((replica) => replica !== leader);
      const second = await agreedLeader(live, first.leader);
      assert.equal(second.transitions, first.transitions + 1);
      const [started2, changedIn2] = await ids(election, second.transitions, second.leader);
      await waitFor('the new term on the audit receiver', () => distinct(audit.received).length >= 6);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const events = distinct(audit.received);
      assert.deepEqual(
        events.map((event) => [event.type, event.id]),
        [started, changedIn, stopped, changedOut, started2, changedIn2],
        'each transition once (by id), in order',
      );
      // Copies only for the handover's stop events, which the releasing leader and its successor may both send.
      for (const event of events) {
        assert.ok(
          event.copies === 1 || [stopped[1], changedOut[1]].includes(event.id),
          `${event.type} ${event.id} sent ${event.copies} times`,
        );
        for (const observer of event.observers)
          assert.ok(
            [first.leader, second.leader].includes(observer),
            `a follower (${observer}) sent a leader-scope event`,
          );
      }
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
    }
  });

  it('the leader killed mid-delivery: the new leader re-sends what it did not confirm, with the same webhook-ids', async () => {
    const election = 'notify-crash';
    // Nothing is confirmed while the first leader lives.
    const audit = await receiver({ fallback: { status: 503 } });
    const config = auditConfig(audit.url);
    const replicas = await Promise.all(
      [1, 2, 3].map((index) =>
        Replica.start({ id: `${election}-${index}`, kubeconfig, election, args: [...TIMINGS, `--config=${config}`] }),
      ),
    );
    try {
      const first = await agreedLeader(replicas);
      await audit.waitFor(3);
      const unconfirmed = String(audit.received[0]?.headers['webhook-id']);
      const leader = replicas.find((replica) => replica.id === first.leader) as Replica;
      leader.signal('SIGKILL');
      await leader.exited;
      audit.fallback = { status: 200 };
      const live = replicas.filter((replica) => replica !== leader);
      const second = await agreedLeader(live, first.leader);
      await waitFor(
        'the recovered and the new events',
        () => distinct(audit.received.filter((_, i) => i > 0)).length >= 6 || undefined,
        15_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const [started, changedIn, stopped, changedOut] = await ids(election, first.transitions, first.leader);
      const [started2, changedIn2] = await ids(election, second.transitions, second.leader);
      assert.equal(unconfirmed, started[1], "the first attempt was the first leader's start");
      const recovered = distinct(
        audit.received.filter((request) => (JSON.parse(request.body) as WebhookBody).data.observer === second.leader),
      );
      assert.deepEqual(
        recovered.map((event) => [event.type, event.id]),
        [started, changedIn, stopped, changedOut, started2, changedIn2],
        "the new leader completed the crashed leader's term, then announced its own",
      );
      for (const request of audit.received)
        assert.doesNotThrow(() => new Webhook(secret).verify(request.body, request.headers as Record<string, string>));
      const survivor = live.find((replica) => replica.id === second.leader) as Replica;
      assert.ok(survivor.logs.some((line) => line.msg === 're-sending events a previous leader did not confirm'));
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
    }
  });

  it('the Lease deleted and created again: every replica sends the same ids, and the new object never reuses one', async () => {
    const election = 'notify-recreated';
    const shared = await receiver();
    const config = join(dir, `${election}.yaml`);
    writeFileSync(
      config,
      `targets:\n  - {name: changes, url: "${shared.url}", scope: all, events: [leader.changed]}\n`,
    );
    const replicas = await Promise.all(
      [1, 2].map((index) =>
        Replica.start({ id: `${election}-${index}`, kubeconfig, election, args: [...TIMINGS, `--config=${config}`] }),
      ),
    );
    try {
      const first = await agreedLeader(replicas);
      const firstUid = await leaseUid(election);
      const path = `/apis/coordination.k8s.io/v1/namespaces/default/leases/${election}`;
      assert.equal((await fetch(`${api.url}${path}`, { method: 'DELETE' })).status, 200);
      const second = await waitFor('a new Lease with a leader', async () => {
        const uid = await leaseUid(election).catch(() => undefined);
        return uid && uid !== firstUid ? { ...(await agreedLeader(replicas)), uid } : undefined;
      });
      assert.equal(second.transitions, 0, 'the new object counts from 0 again');
      await shared.waitFor(6);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const id = (lockUid: string, transitions: number, subject: string) =>
        eventId({ namespace: 'default', election, lockUid, transitions, type: 'leader.changed', subject });
      const expected = [
        id(firstUid, first.transitions, first.leader),
        id(firstUid, first.transitions, ''), // no leader once the object is gone: the end of its last term
        id(second.uid, 0, second.leader),
      ];
      assert.equal(new Set(expected).size, 3);
      for (const replica of replicas) {
        const sent = shared.received
          .filter((request) => (JSON.parse(request.body) as WebhookBody).data.observer === replica.id)
          .map((request) => String(request.headers['webhook-id']));
        assert.deepEqual(sent, expected, `${replica.id} sent the recipe's ids`);
      }
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
    }
  });
});

describe('a local hook that fails, as a main container that starts late or stalls', () => {
  /** The Lease's holder, read from the API. */
  async function holder(election: string): Promise<string> {
    const response = await fetch(`${api.url}/apis/coordination.k8s.io/v1/namespaces/default/leases/${election}`);
    return ((await response.json()) as { spec: { holderIdentity?: string } }).spec.holderIdentity ?? '';
  }

  it('down when the replica starts leading, up 2 s later: the hook gets leadership.started, then leader.changed', async () => {
    const election = 'hook-late';
    const port = await freePort();
    const replica = await Replica.start({
      id: `${election}-1`,
      kubeconfig,
      election,
      args: [...TIMINGS, `--hook=http://127.0.0.1:${port}/late`],
    });
    try {
      const { transitions } = await agreedLeader([replica]);
      await waitFor('refused attempts', () =>
        replica.logs.some((line) => line.msg === 'delivery attempt failed: connection refused'),
      );
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const hook = await receiver({ port });
      await hook.waitFor(2, 15_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const [started, changedIn] = await ids(election, transitions, replica.id);
      assert.deepEqual(
        hook.received.map((request) => [(JSON.parse(request.body) as WebhookBody).type, request.headers['webhook-id']]),
        [started, changedIn],
      );
      assert.deepEqual(
        hook.json().map((body) => [body.data.leader, body.data.isLeader]),
        [
          [replica.id, true],
          [replica.id, true],
        ],
      );
      const { deliveries } = (await (await fetch(`${replica.url}/deliveries`)).json()) as {
        deliveries: Array<{ type: string; status: string }>;
      };
      assert.deepEqual(deliveries.map((entry) => [entry.type, entry.status]).reverse(), [
        ['leadership.started', 'delivered'],
        ['leader.changed', 'delivered'],
      ]);
    } finally {
      await replica.stop();
    }
  });

  it('failing when SIGTERM comes: the hook gets leadership.stopped (reason shutdown) before the lock is released', async () => {
    const election = 'hook-stalled';
    // Renew deadline − retry period leaves stop-before-release about 4 s to wait for the hook.
    const timings = ['--lease-duration=8s', '--renew-deadline=5s', '--retry-period=1s'];
    const hook = await receiver({ fallback: { status: 503 } });
    const replica = await Replica.start({
      id: `${election}-1`,
      kubeconfig,
      election,
      args: [...timings, `--hook=${hook.url}`],
    });
    try {
      const { transitions } = await agreedLeader([replica]);
      // leadership.started has failed twice and is being retried when SIGTERM comes.
      await hook.waitFor(2);
      hook.fallback = { status: 200, delayMs: 300 };
      replica.signal('SIGTERM');
      const stopArrived = await waitFor(
        'leadership.stopped at the hook',
        () => hook.json().some((body) => body.type === 'leadership.stopped') || undefined,
      );
      assert.ok(stopArrived);
      assert.equal(await holder(election), replica.id, 'the lock is still held while the hook answers the stop');
      assert.equal(await replica.exited, 0);
      assert.equal(await holder(election), '', 'released after the hook answered');

      const [started, changedIn, stopped, changedOut] = await ids(election, transitions, replica.id);
      const arrived = hook.received.map((request) => [
        (JSON.parse(request.body) as WebhookBody).type,
        request.headers['webhook-id'],
      ]);
      const distinctArrived = arrived.filter((event, index) => event[1] !== arrived[index - 1]?.[1]);
      // The leader.changed to itself is delivered if the start got through before SIGTERM was handled, else the
      // newer leader.changed to no leader supersedes it; the start and the stop are always delivered, in order.
      assert.ok(
        [
          [started, stopped, changedOut],
          [started, changedIn, stopped, changedOut],
        ].some((expected) => JSON.stringify(expected) === JSON.stringify(distinctArrived)),
        `received ${JSON.stringify(distinctArrived)}`,
      );
      const stop = hook.json().find((body) => body.type === 'leadership.stopped');
      // A leader that stops still names the holder of the record, itself, until a read shows the lock free.
      assert.deepEqual([stop?.data.reason, stop?.data.isLeader, stop?.data.leader], ['shutdown', false, replica.id]);
    } finally {
      await replica.stop();
    }
  });
});
