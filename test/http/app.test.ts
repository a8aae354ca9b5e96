import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ServerType } from '@hono/node-server';
import { Registry } from 'prom-client';
import type { LeadershipChange, LeadershipSnapshot } from '../../src/election/leadership.ts';
import { Fanout } from '../../src/election/changes.ts';
import { createHttpApp } from '../../src/http/app.ts';
import { close, listen } from '../../src/http/server.ts';
import { metricValue } from '../notify/helpers.ts';
import { waitFor } from '../support/replica.ts';
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

describe('GET /watch within bounds', () => {
  /** An app on loopback with these /watch limits. */
  async function serve(watch: Parameters<typeof createHttpApp>[0]['watch']) {
    const leadership = new ScriptedLeadership();
    const registry = new Registry();
    const server = await listen(createHttpApp({ leadership, metrics: registry, watch }), {
      host: '127.0.0.1',
      port: 0,
    });
    const port = (server.address() as { port: number }).port;
    const metric = (name: string, labels: Record<string, string> = {}) => metricValue(registry, name, labels);
    return { leadership, port, metric, close: () => close(server) };
  }

  /** A raw client that sends `GET /watch` and keeps what it receives. */
  function rawWatch(port: number): { socket: Socket; received: () => string; closed: Promise<unknown> } {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.write('GET /watch HTTP/1.1\r\nHost: test\r\n\r\n');
    return { socket, received: () => text, closed: once(socket, 'close') };
  }

  it('beyond --max-watch-clients: 503 naming the flag, counted; a freed place is taken again', async () => {
    const app = await serve({ maxClients: 2 });
    try {
      const [a, b] = [rawWatch(app.port), rawWatch(app.port)];
      await waitFor('two open streams', async () => (await app.metric('leaderhook_watch_clients')) === 2);
      const refused = await fetch(`http://127.0.0.1:${app.port}/watch`);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '5');
      assert.equal(
        await refused.text(),
        'too many /watch clients (at most 2, --max-watch-clients); retry later or poll GET /leader\n',
      );
      assert.equal(await app.metric('leaderhook_watch_rejected_total'), 1);
      a.socket.destroy();
      await waitFor('the place freed', async () => (await app.metric('leaderhook_watch_clients')) === 1);
      const c = rawWatch(app.port);
      await waitFor('the state sent to the new client', () => c.received().includes('event: state'));
      assert.equal(await app.metric('leaderhook_watch_clients'), 2);
      for (const client of [b, c]) client.socket.destroy();
      await waitFor('no stream left', async () => (await app.metric('leaderhook_watch_clients')) === 0);
    } finally {
      await app.close();
    }
  });

  it('on shutdown a /watch stream gets the last change and ends cleanly, new ones are refused, the server closes at once', async () => {
    const leadership = new ScriptedLeadership();
    const closing = new AbortController();
    const server = await listen(
      createHttpApp({ leadership, metrics: new Registry(), closing: closing.signal, watch: { keepAliveMs: 60_000 } }),
      { host: '127.0.0.1', port: 0 },
    );
    const port = (server.address() as { port: number }).port;
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const watch = request({ host: '127.0.0.1', port, path: '/watch' }, resolve);
      watch.on('error', reject);
      watch.end();
    });
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (text += chunk));
    const outcome = new Promise<string>((resolve) => {
      response.on('end', () => resolve('ended'));
      response.on('aborted', () => resolve('aborted'));
      response.on('error', (error) => resolve(`error: ${error.message}`));
    });
    await waitFor('the state event', () => text.includes('event: state'));

    leadership.change({ leader: '', isLeader: false }, 'leader-changed');
    closing.abort();
    const refused = await fetch(`http://127.0.0.1:${port}/watch`);
    assert.equal(refused.status, 503);
    const closingAt = performance.now();
    await close(server, 10_000);
    assert.equal(await outcome, 'ended');
    assert.match(text, /event: leader-changed\ndata: \{"leader":""/);
    assert.ok(performance.now() - closingAt < 5_000, 'closed without waiting for the grace period');
  });

  it('once shutdown starts, answers close their keep-alive connection, and the server goes on answering', async () => {
    const leadership = new ScriptedLeadership();
    const draining = new AbortController();
    const server = await listen(createHttpApp({ leadership, metrics: new Registry(), draining: draining.signal }), {
      host: '127.0.0.1',
      port: 0,
    });
    const port = (server.address() as { port: number }).port;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string) =>
      new Promise<{ status: number | undefined; connection: string | undefined; body: string; socket: Socket }>(
        (resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path, agent }, (response) => {
            let body = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (body += chunk));
            response.on('end', () =>
              resolve({
                status: response.statusCode,
                connection: response.headers.connection,
                body,
                socket: req.socket!,
              }),
            );
          });
          req.on('error', reject);
          req.end();
        },
      );
    try {
      const before = await get('/');
      assert.deepEqual([before.status, before.connection, before.body], [200, 'keep-alive', '{"name":"pod-a"}']);
      draining.abort();
      const during = await get('/');
      assert.equal(during.socket, before.socket, 'the open keep-alive connection was reused for the first answer');
      assert.deepEqual([during.status, during.connection, during.body], [200, 'close', '{"name":"pod-a"}']);
      if (!during.socket.destroyed) await once(during.socket, 'close');
      const missing = await get('/nothing-here');
      assert.notEqual(missing.socket, during.socket, 'a new connection, not the closed one');
      assert.deepEqual([missing.status, missing.connection], [404, 'close']);
    } finally {
      agent.destroy();
      await close(server);
    }
  });

  it('HEAD /watch answers the headers and ends, holding nothing', async () => {
    const app = await serve({});
    try {
      const { status, type } = await new Promise<{ status: number | undefined; type: string | undefined }>(
        (resolve, reject) => {
          const head = request({ host: '127.0.0.1', port: app.port, method: 'HEAD', path: '/watch' }, (response) => {
            response.resume();
            response.on('end', () => resolve({ status: response.statusCode, type: response.headers['content-type'] }));
          });
          head.setTimeout(2_000, () => head.destroy(new Error('HEAD /watch did not end')));
          head.on('error', reject);
          head.end();
        },
      );
      assert.deepEqual([status, type], [200, 'text/event-stream']);
      assert.equal(await app.metric('leaderhook_watch_clients'), 0);
    } finally {
      await app.close();
    }
  });

  it('an idle stream gets keep-alive comments; a client that is gone is found and its place freed', async () => {
    const app = await serve({ keepAliveMs: 50 });
    try {
      const client = rawWatch(app.port);
      await waitFor('two keep-alives', () => client.received().split(': keepalive').length > 2);
      client.socket.destroy();
      await waitFor('the place freed', async () => (await app.metric('leaderhook_watch_clients')) === 0);
    } finally {
      await app.close();
    }
  });

  it('a client that stops reading is disconnected once events pile up for it; others go on', async () => {
    const app = await serve({ maxPending: 64, stallMs: 2_000 });
    try {
      const stuck = rawWatch(app.port);
      const reader = rawWatch(app.port);
      await waitFor('both streams', async () => (await app.metric('leaderhook_watch_clients')) === 2);
      stuck.socket.pause();
      const dropped = async () =>
        (await app.metric('leaderhook_watch_dropped_total', { reason: 'behind' })) +
        (await app.metric('leaderhook_watch_dropped_total', { reason: 'stalled' }));
      let sent = 0;
      // Changes keep coming, a few per tick, until the kernel's buffers for the stuck client are full.
      while ((await dropped()) === 0 && sent < 200_000) {
        for (let i = 0; i < 20; i++, sent++)
          app.leadership.change({ leader: `pod-${sent}`, transitions: sent }, 'leader-changed');
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(await dropped(), 1, `the stuck client was still connected after ${sent} changes`);
      // Its connection is gone: once it reads again, it reads what was buffered, then the end.
      stuck.socket.resume();
      await stuck.closed;
      await waitFor('the reader alone left', async () => (await app.metric('leaderhook_watch_clients')) === 1);
      await waitFor('the reader got the last change', () => reader.received().includes(`"pod-${sent - 1}"`));
      reader.socket.destroy();
    } finally {
      await app.close();
    }
  });
});
