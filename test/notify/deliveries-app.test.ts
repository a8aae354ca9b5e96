import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ServerType } from '@hono/node-server';
import { Registry } from 'prom-client';
import { Fanout } from '../../src/election/changes.ts';
import type { LeadershipChange, LeadershipSnapshot } from '../../src/election/leadership.ts';
import { createHttpApp } from '../../src/http/app.ts';
import { close, listen } from '../../src/http/server.ts';
import { deliveriesApp, type QueueView } from '../../src/notify/deliveries-app.ts';
import { DeliveryLog, type DeliveryRecord } from '../../src/notify/delivery-log.ts';
import { testTarget } from './helpers.ts';

const snapshot: LeadershipSnapshot = {
  election: 'demo',
  namespace: 'default',
  lock: 'leases',
  identity: 'pod-a',
  leader: 'pod-a',
  isLeader: true,
  transitions: 1,
  lockUid: 'uid-1',
  acquireTime: null,
  renewTime: null,
  observedAt: null,
  ready: true,
};

function record(target: string, id: string, status: DeliveryRecord['status']): DeliveryRecord {
  const queuedAt = '2026-11-24T10:00:00.000Z';
  return { target, id, type: 'leader.changed', transitions: 1, leader: 'pod-a', status, attempts: 1, queuedAt };
}

describe('GET /deliveries, mounted on the HTTP API with app.route', () => {
  const slackUrl = 'https://hooks.slack.com/services/T000/B000/XXXXSECRET';
  const queues: QueueView[] = [
    { target: testTarget(slackUrl, { name: 'slack', scope: 'leader' }), url: slackUrl, depth: 2, disabled: false },
    {
      target: testTarget('http://127.0.0.1:8080/', { name: 'hook-1', scope: 'self' }),
      url: 'http://127.0.0.1:8080/',
      depth: 0,
      disabled: true,
    },
  ];
  const log = new DeliveryLog();
  log.add(record('slack', 'lh2_a', 'delivered'));
  log.add(record('hook-1', 'lh2_b', 'given-up'));
  log.add(record('slack', 'lh2_c', 'given-up'));
  let server: ServerType;
  let base: string;

  before(async () => {
    const changes = new Fanout<LeadershipChange>(() => {});
    const leadership = {
      snapshot: () => snapshot,
      subscribe: (listener: (change: LeadershipChange) => void) => changes.subscribe(listener),
      unhealthyReason: () => undefined,
    };
    const app = createHttpApp({ leadership, metrics: new Registry() });
    app.route('/deliveries', deliveriesApp(queues, log));
    server = await listen(app, { host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => close(server));

  it('lists the targets without the URL path and the deliveries newest first', async () => {
    const response = await fetch(`${base}/deliveries`);
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.ok(!text.includes('XXXXSECRET'), 'the URL path, which may be a token, is not shown');
    const body = JSON.parse(text) as { targets: unknown[]; deliveries: DeliveryRecord[] };
    assert.deepEqual(body.targets, [
      {
        name: 'slack',
        url: 'https://hooks.slack.com/…',
        scope: 'leader',
        format: 'json',
        events: ['leadership.started', 'leadership.stopped', 'leader.changed'],
        queueDepth: 2,
        disabled: false,
      },
      {
        name: 'hook-1',
        url: 'http://127.0.0.1:8080',
        scope: 'self',
        format: 'json',
        events: ['leadership.started', 'leadership.stopped', 'leader.changed'],
        queueDepth: 0,
        disabled: true,
      },
    ]);
    assert.deepEqual(
      body.deliveries.map((entry) => entry.id),
      ['lh2_c', 'lh2_b', 'lh2_a'],
    );
  });

  it('?target= and ?status= filter the deliveries', async () => {
    const ids = async (query: string) =>
      ((await (await fetch(`${base}/deliveries${query}`)).json()) as { deliveries: DeliveryRecord[] }).deliveries.map(
        (entry) => entry.id,
      );
    assert.deepEqual(await ids('?target=slack'), ['lh2_c', 'lh2_a']);
    assert.deepEqual(await ids('?status=given-up'), ['lh2_c', 'lh2_b']);
    assert.deepEqual(await ids('?target=slack&status=given-up'), ['lh2_c']);
  });

  it('the HTTP API without a notifier has no /deliveries', async () => {
    const app = createHttpApp({
      leadership: { snapshot: () => snapshot, subscribe: () => () => {}, unhealthyReason: () => undefined },
      metrics: new Registry(),
    });
    assert.equal((await app.request('/deliveries')).status, 404);
  });
});
