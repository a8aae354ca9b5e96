import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ServerType } from '@hono/node-server';
import { Registry } from 'prom-client';
import type { LeadershipChange, LeadershipSnapshot } from '../../src/election/leadership.ts';
import { Fanout } from '../../src/election/changes.ts';
import { createHttpApp } from '../../src/http/app.ts';
import { close, listen } from '../../src/http/server.ts';
import { readEvents } from '../support/sse.ts';

/** A leadership source the test drives by hand. */
class ScriptedLeadership {
  state: LeadershipSnapshot = {
    election: 'demo',
    namespace: 'team-a',
    lock: 'leases',
    identity: 'pod-b',
    leader: 'pod-a',
    isLeader: false,
    transitions: 3,
    lockUid: 'uid-1',
    acquireTime: new Date('2026-11-24T10:00:00Z'),
    renewTime: new Date('2026-11-24T10:00:04Z'),
    observedAt: new Date('2026-11-24T10:00:04.5Z'),
    ready: true,
  };
  unhealthy: string | undefined;
  readonly changes = new Fanout<LeadershipChange>(() => {});
  snapshot = () => this.state;
  subscribe = (listener: (change: LeadershipChange) => void) => this.changes.subscribe(listener);
  unhealthyReason = () => this.unhealthy;

  change(patch: Partial<LeadershipSnapshot>, type: LeadershipChange['type']): void {
    const previousLeader = this.state.leader;
    this.state = { ...this.state, ...patch };
    this.changes.emit({
      type,
      leader: this.state.leader,
      previousLeader,
      isLeader: this.state.isLeader,
      transitions: this.state.transitions,
      lockUid: this.state.lockUid,
      at: new Date(),
    });
  }
}

describe('HTTP API', () => {
  const leadership = new ScriptedLeadership();
  const registry = new Registry();
  let server: ServerType;
  let base: string;

  before(async () => {
    server = await listen(createHttpApp({ leadership, metrics: registry }), { host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => close(server));

  it("GET / answers exactly leader-elector's body", async () => {
    const response = await fetch(`${base}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(await response.text(), '{"name":"pod-a"}');
  });

  it('GET /leader answers the full state', async () => {
    const body = await (await fetch(`${base}/leader`)).json();
    assert.deepEqual(body, {
      leader: 'pod-a',
      self: 'pod-b',
      isLeader: false,
      election: 'demo',
      namespace: 'team-a',
      lock: 'leases',
      transitions: 3,
      acquireTime: '2026-11-24T10:00:00.000Z',
      renewTime: '2026-11-24T10:00:04.000Z',
      observedAt: '2026-11-24T10:00:04.500Z',
    });
  });

  it('probes: /healthz follows the elector, /readyz waits for the first read', async () => {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    leadership.unhealthy = 'leader has not renewed the lock for 31s';
    const unhealthy = await fetch(`${base}/healthz`);
    assert.equal(unhealthy.status, 503);
    assert.match(await unhealthy.text(), /has not renewed/);
    leadership.unhealthy = undefined;

    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    leadership.state = { ...leadership.state, ready: false };
    assert.equal((await fetch(`${base}/readyz`)).status, 503);
    leadership.state = { ...leadership.state, ready: true };
  });

  it('GET /metrics serves the Prometheus text format', async () => {
    const response = await fetch(`${base}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  });

  it('GET /watch sends the state on connect, then one event per change', async () => {
    const controller = new AbortController();
    type WatchData = { leader: string; isLeader: boolean };
    const events: Array<{ event: string; data: WatchData }> = [];
    const reading = readEvents(
      `${base}/watch`,
      (event, data) => events.push({ event, data: JSON.parse(data) as WatchData }),
      controller.signal,
    );
    const waitForEvents = async (count: number) => {
      for (let i = 0; i < 200 && events.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await waitForEvents(1);
    leadership.change({ leader: '', isLeader: false }, 'leader-changed');
    leadership.change({ leader: 'pod-b', isLeader: true, transitions: 4 }, 'started');
    await waitForEvents(3);
    controller.abort();
    await reading;
    assert.deepEqual(
      events.map(({ event, data }) => [event, data.leader, data.isLeader]),
      [
        ['state', 'pod-a', false],
        ['leader-changed', '', false],
        ['started', 'pod-b', true],
      ],
    );
  });

  it('unknown paths are 404', async () => {
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  });
});
