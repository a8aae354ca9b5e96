import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { attempt, MAX_RESPONSE_BODY_BYTES } from '../../src/notify/delivery.ts';
import { freePort, waitFor } from '../support/replica.ts';
import { metricValue, testEvent, testQueue, testTarget } from './helpers.ts';
import { Receiver } from './receiver.ts';

const receivers: Receiver[] = [];
async function receiver(options: Parameters<typeof Receiver.start>[0] = {}): Promise<Receiver> {
  const started = await Receiver.start(options);
  receivers.push(started);
  return started;
}
after(async () => {
  await Promise.all(receivers.map((r) => r.close()));
});

describe('delivery to a real receiver', () => {
  test('500 then 200: retried, delivered once, same webhook-id, a current timestamp, one log line per failed attempt', async () => {
    const r = await receiver({ script: [{ status: 500 }, { status: 503 }] });
    const { queue, push, log, registry, deliveries } = testQueue(testTarget(r.url, { name: 'retry' }));
    const event = testEvent(1);
    push(event);
    await queue.idle();
    assert.equal(r.received.length, 3);
    assert.deepEqual(new Set(r.received.map((x) => x.headers['webhook-id'])), new Set([event.id]));
    assert.equal(r.received[2]?.headers['content-type'], 'application/json');
    for (const request of r.received)
      assert.ok(Math.abs(Number(request.headers['webhook-timestamp']) - Date.now() / 1000) < 5);
    assert.deepEqual(
      JSON.parse(r.received[2]?.body ?? ''),
      JSON.parse(JSON.stringify({ type: event.type, timestamp: event.time.toISOString(), data: event.data })),
    );
    const failed = log.lines.filter((line) => line.msg.startsWith('delivery attempt failed'));
    assert.equal(failed.length, 2);
    assert.equal(failed[0]?.fields.reason, 'http-5xx');
    // The event's id has its own key: a log line's `id` is the replica's identity.
    assert.equal(failed[0]?.fields.eventId, event.id);
    assert.equal('id' in (failed[0]?.fields ?? {}), false);
    assert.equal(failed[0]?.fields.status, 500);
    assert.equal(await metricValue(registry, 'leaderhook_notify_attempts_total', { target: 'retry' }), 3);
    assert.equal(
      await metricValue(registry, 'leaderhook_notify_failures_total', { target: 'retry', reason: 'http-5xx' }),
      2,
    );
    assert.equal(await metricValue(registry, 'leaderhook_notify_delivered_total', { target: 'retry' }), 1);
    assert.equal(deliveries.list()[0]?.status, 'delivered');
    assert.equal(deliveries.list()[0]?.attempts, 3);
  });

  test('429 with Retry-After: the next attempt waits at least that long', async () => {
    const r = await receiver({ script: [{ status: 429, headers: { 'retry-after': '1' } }] });
    const { queue, push } = testQueue(testTarget(r.url));
    push(testEvent(1));
    await queue.idle();
    assert.equal(r.received.length, 2);
    const gap = (r.received[1]?.at ?? 0) - (r.received[0]?.at ?? 0);
    assert.ok(gap >= 950, `second attempt after ${gap} ms`);
  });

  test('a receiver that hangs past the timeout: the attempt times out and is retried', async () => {
    const r = await receiver({ script: ['hang', 'hang'] });
    const { queue, push, log } = testQueue(testTarget(r.url, { timeoutMs: 150 }));
    const started = performance.now();
    push(testEvent(1));
    await queue.idle();
    assert.equal(r.received.length, 3);
    assert.deepEqual(
      log.lines.filter((line) => line.level === 'warn').map((line) => line.fields.reason),
      ['timeout', 'timeout'],
    );
    assert.ok(performance.now() - started >= 300);
  });

  test('connection refused, then the receiver comes up: delivered', async () => {
    const port = await freePort();
    const { queue, push, log } = testQueue(
      testTarget(`http://127.0.0.1:${port}/hook`, {
        retry: { attempts: 50, minDelayMs: 20, maxDelayMs: 100, maxElapsedMs: 10_000 },
      }),
    );
    push(testEvent(1));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(log.lines.some((line) => line.fields.reason === 'connection-refused'));
    const r = await receiver({ port });
    await queue.idle();
    assert.equal(r.received.length, 1);
  });

  test('410 Gone disables the target: nothing more is sent, the rest is listed as disabled', async () => {
    const r = await receiver({ script: [{ status: 410 }] });
    const { queue, push, registry, deliveries } = testQueue(testTarget(r.url, { name: 'gone' }));
    push(testEvent(1));
    push(testEvent(2));
    await queue.idle();
    push(testEvent(3));
    await queue.idle();
    assert.equal(r.received.length, 1);
    assert.equal(queue.disabled, true);
    assert.deepEqual(
      deliveries.list().map((d) => d.status),
      ['disabled', 'disabled', 'disabled'],
    );
    assert.equal(await metricValue(registry, 'leaderhook_notify_target_disabled', { target: 'gone' }), 1);
  });

  test('4xx is permanent, 3xx is not followed: given up at once, listed and counted, the next event goes on', async () => {
    const r = await receiver({
      script: [{ status: 400 }, { status: 302, headers: { location: 'http://127.0.0.1:1/elsewhere' } }],
    });
    const { queue, push, registry, deliveries } = testQueue(testTarget(r.url, { name: 'perm' }));
    push(testEvent(1));
    push(testEvent(2));
    push(testEvent(3));
    await queue.idle();
    assert.equal(r.received.length, 3);
    assert.deepEqual(
      deliveries
        .list()
        .reverse()
        .map((d) => [d.status, d.givenUpReason, d.lastStatusCode]),
      [
        ['given-up', 'permanent', 400],
        ['given-up', 'permanent', 302],
        ['delivered', undefined, 200],
      ],
    );
    assert.equal(
      await metricValue(registry, 'leaderhook_notify_given_up_total', { target: 'perm', reason: 'permanent' }),
      2,
    );
  });

  test('retry budget exhausted: given up and counted', async () => {
    const r = await receiver({ fallback: { status: 502 } });
    const { queue, push, registry } = testQueue(
      testTarget(r.url, { name: 'tired', retry: { attempts: 3, minDelayMs: 10, maxDelayMs: 20, maxElapsedMs: 5_000 } }),
    );
    push(testEvent(1));
    await queue.idle();
    assert.equal(r.received.length, 3);
    assert.equal(
      await metricValue(registry, 'leaderhook_notify_given_up_total', { target: 'tired', reason: 'retries-exhausted' }),
      1,
    );
  });

  test('ordering under retries: each event is retried to success before the next is sent', async () => {
    const r = await receiver({
      script: [{ status: 500 }, { status: 200 }, { status: 503 }, 'hang', { status: 200 }, { status: 429 }],
    });
    const { queue, push } = testQueue(testTarget(r.url, { timeoutMs: 100 }));
    for (let i = 1; i <= 5; i++) push(testEvent(i));
    await queue.idle();
    const order = r.json().map((body) => body.data.transitions);
    // Every event arrives, never before the one ahead of it has been answered 2xx.
    const delivered = [...new Set(order)];
    assert.deepEqual(delivered, [1, 2, 3, 4, 5]);
    for (let i = 1; i < order.length; i++)
      assert.ok((order[i] as number) >= (order[i - 1] as number), `out of order: ${order.join(',')}`);
  });

  /** A state hook (`supersede`, as `--hook` targets are) on `port`, retrying quickly and for long. */
  function stateHook(port: number, timeoutMs = 1_000) {
    return testQueue(
      testTarget(`http://127.0.0.1:${port}/hook`, {
        name: 'state',
        supersede: true,
        scope: 'self',
        timeoutMs,
        retry: { attempts: Number.POSITIVE_INFINITY, minDelayMs: 20, maxDelayMs: 50, maxElapsedMs: 60_000 },
      }),
    );
  }

  test('state supersession: while the hook is down, a newer leader.changed replaces a queued one; every start and stop is kept, in order', async () => {
    const port = await freePort();
    const { queue, push, deliveries, registry } = stateHook(port);
    push(testEvent(1, 'leadership.started', 'me'));
    push(testEvent(1, 'leader.changed', 'me'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    push(testEvent(1, 'leadership.stopped', 'me'));
    push(testEvent(1, 'leader.changed', ''));
    push(testEvent(2, 'leader.changed', 'other'));
    const r = await receiver({ port });
    await queue.idle();
    assert.deepEqual(
      r.json().map((body) => [body.type, body.data.transitions, body.data.leader]),
      [
        ['leadership.started', 1, 'me'],
        ['leadership.stopped', 1, 'me'],
        ['leader.changed', 2, 'other'],
      ],
    );
    assert.deepEqual(
      deliveries
        .list()
        .reverse()
        .map((d) => [d.type, d.leader, d.status]),
      [
        ['leadership.started', 'me', 'delivered'],
        ['leader.changed', 'me', 'superseded'],
        ['leadership.stopped', 'me', 'delivered'],
        ['leader.changed', '', 'superseded'],
        ['leader.changed', 'other', 'delivered'],
      ],
    );
    assert.equal(await metricValue(registry, 'leaderhook_notify_superseded_total', { target: 'state' }), 2);
  });

  test('state supersession: a leader.changed at the head that timed out is replaced by a newer one, never by a start or stop', async () => {
    // The first request hangs past the 200 ms timeout; everything after is answered.
    const r = await receiver({ script: ['hang'] });
    const { queue, push, deliveries } = stateHook(r.port, 200);
    push(testEvent(1, 'leader.changed', 'other'));
    await r.waitFor(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    push(testEvent(2, 'leadership.started', 'me'));
    await r.waitFor(2);
    push(testEvent(2, 'leader.changed', 'me'));
    await queue.idle();
    assert.deepEqual(
      deliveries
        .list()
        .reverse()
        .map((d) => [d.type, d.leader, d.status]),
      [
        ['leader.changed', 'other', 'delivered'],
        ['leadership.started', 'me', 'delivered'],
        ['leader.changed', 'me', 'delivered'],
      ],
      'nothing superseded: the head was retried and answered before a newer leader.changed came',
    );

    // Now the hook keeps timing out on a leader.changed while a start and a newer leader.changed are queued.
    r.script.push('hang', 'hang', 'hang');
    push(testEvent(3, 'leader.changed', 'third'));
    await r.waitFor(6);
    push(testEvent(4, 'leadership.started', 'me'));
    push(testEvent(4, 'leader.changed', 'me'));
    await queue.idle();
    const arrived = r
      .json()
      .slice(4)
      .map((body) => `${body.type} ${String(body.data.transitions)}`);
    assert.deepEqual(
      arrived.filter((event, index) => event !== arrived[index - 1]),
      ['leader.changed 3', 'leadership.started 4', 'leader.changed 4'],
      'each attempt in order; the start waited for the timed-out head to end',
    );
    assert.deepEqual(
      deliveries
        .list()
        .slice(0, 3)
        .reverse()
        .map((d) => [d.type, d.leader, d.status]),
      [
        ['leader.changed', 'third', 'superseded'],
        ['leadership.started', 'me', 'delivered'],
        ['leader.changed', 'me', 'delivered'],
      ],
    );
  });

  test('a queue holds at most 256 events: beyond it the oldest are given up (queue-full), the newest 256 delivered in order', async () => {
    const port = await freePort();
    const { queue, push, registry, log } = stateHook(port);
    for (let i = 1; i <= 300; i++) push(testEvent(i, i % 2 ? 'leadership.started' : 'leadership.stopped', 'me'));
    assert.ok(queue.depth <= 257, `depth ${queue.depth}`);
    const givenUp = () =>
      metricValue(registry, 'leaderhook_notify_given_up_total', { target: 'state', reason: 'queue-full' });
    await waitFor('the oldest 44 given up', async () => ((await givenUp()) === 44 ? true : undefined));
    assert.equal(queue.depth, 256);
    const r = await receiver({ port });
    await queue.idle();
    assert.deepEqual(
      r.json().map((body) => body.data.transitions),
      Array.from({ length: 256 }, (_, i) => i + 45),
    );
    assert.equal(await givenUp(), 44);
    assert.equal(log.lines.filter((line) => line.fields.reason === 'queue-full').length, 44);
  });

  test('a state hook that answers gets every event, in order: nothing is superseded while it is healthy', async () => {
    const r = await receiver();
    const { queue, push, deliveries } = testQueue(testTarget(r.url, { supersede: true, scope: 'self' }));
    push(testEvent(1, 'leadership.started', 'me'));
    push(testEvent(1, 'leader.changed', 'me'));
    push(testEvent(1, 'leadership.stopped', 'me'));
    await queue.idle();
    assert.deepEqual(
      r.json().map((body) => body.type),
      ['leadership.started', 'leader.changed', 'leadership.stopped'],
    );
    assert.ok(deliveries.list().every((d) => d.status === 'delivered'));
  });

  test('a hanging target does not delay another target', async () => {
    const slow = await receiver({ fallback: 'hang' });
    const fast = await receiver();
    const a = testQueue(testTarget(slow.url, { timeoutMs: 5_000 }));
    const b = testQueue(testTarget(fast.url));
    const started = performance.now();
    a.push(testEvent(1));
    b.push(testEvent(1));
    await b.queue.idle();
    assert.ok(performance.now() - started < 500);
    assert.equal(a.queue.depth, 1);
    a.queue.abandon();
    await a.queue.idle();
    assert.equal(a.settled[0]?.reason, 'shutdown');
  });
});

describe('stop before release: waiting for a local hook', () => {
  test('settledThrough waits for the 2xx of the last queued leadership.stopped, not for what is queued behind it', async () => {
    const slow = await Receiver.start({ script: [{ status: 200, delayMs: 300 }, 'hang'] });
    try {
      const { queue, push } = testQueue(testTarget(slow.url, { scope: 'self' }));
      push(testEvent(1, 'leadership.stopped'));
      push(testEvent(1, 'leader.changed', ''));
      const startedAt = performance.now();
      await queue.settledThrough('leadership.stopped');
      assert.ok(performance.now() - startedAt >= 250, 'waited for the answer');
      assert.equal(queue.depth, 1, 'the leader.changed behind it, still in delivery, was not waited for');
      queue.abandon();
    } finally {
      await slow.close();
    }

    const { queue, push } = testQueue(
      testTarget(`http://127.0.0.1:${await freePort()}/hook`, {
        scope: 'self',
        retry: { attempts: Number.POSITIVE_INFINITY, minDelayMs: 100, maxDelayMs: 2_000, maxElapsedMs: 60_000 },
      }),
    );
    push(testEvent(2, 'leadership.stopped'));
    const refusedAt = performance.now();
    await queue.settledThrough('leadership.stopped');
    assert.ok(performance.now() - refusedAt < 1_000, 'a refused connection is not waited for');
    assert.equal(queue.depth, 1, 'the event itself is still retried');
    queue.abandon();
  });

  test('settledThrough a stop behind a failing head: the head is retried and answered first, then the stop', async () => {
    // The start at the head fails twice; the stop queued behind it is not superseded and is waited for.
    const r = await receiver({ script: [{ status: 503 }, { status: 503 }] });
    const { queue, push } = testQueue(
      testTarget(r.url, {
        scope: 'self',
        supersede: true,
        retry: { attempts: Number.POSITIVE_INFINITY, minDelayMs: 50, maxDelayMs: 100, maxElapsedMs: 60_000 },
      }),
    );
    push(testEvent(1, 'leadership.started', 'me'));
    await r.waitFor(1);
    r.script.push({ status: 200 }, { status: 200 }, 'hang');
    push(testEvent(1, 'leadership.stopped', 'me'));
    push(testEvent(1, 'leader.changed', ''));
    await queue.settledThrough('leadership.stopped');
    assert.deepEqual(
      r.json().map((body) => body.type),
      ['leadership.started', 'leadership.started', 'leadership.started', 'leadership.stopped'],
    );
    queue.abandon();
  });
});

describe('what a receiver cannot make the sender do', () => {
  const MB = 1024 * 1024;
  const servers: Server[] = [];
  after(() => {
    for (const server of servers) server.closeAllConnections();
    return Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  /** A receiver that answers 200 with `bodyBytes` of body, streamed as the sender reads it, never held in memory. */
  async function hugeAnswer(bodyBytes: number) {
    const sent: number[] = [];
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bodyBytes) });
        const chunk = Buffer.alloc(64 * 1024, 'x');
        let written = 0;
        const index = sent.push(0) - 1;
        const pump = () => {
          while (written < bodyBytes && !response.destroyed) {
            written += chunk.length;
            sent[index] = written;
            if (!response.write(chunk)) return void response.once('drain', pump);
          }
          response.end();
        };
        pump();
      });
    });
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, sent };
  }

  test('200 with a 100 MB body, five times: delivered; the sender cuts each body off and its RSS stays within 16 MB of idle', async () => {
    const { url, sent } = await hugeAnswer(100 * MB);
    // The sender runs in its own process, so its memory is measured apart from the receiver's.
    const sender = `
      import { attempt } from ${JSON.stringify(new URL('../../src/notify/delivery.ts', import.meta.url).href)};
      const send = () => attempt({ url: ${JSON.stringify(url)}, body: '{}', headers: {}, timeoutMs: 20000 });
      await send();
      globalThis.gc();
      const idle = process.memoryUsage.rss();
      let peak = idle;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2);
      const outcomes = [];
      for (let i = 0; i < 5; i++) outcomes.push((await send()).outcome);
      await new Promise((resolve) => setTimeout(resolve, 200));
      clearInterval(sampler);
      console.log(JSON.stringify({ outcomes, idle, peak }));
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--expose-gc', '--input-type=module', '-e', sender],
      { timeout: 60_000 },
    );
    const { outcomes, idle, peak } = JSON.parse(stdout) as { outcomes: string[]; idle: number; peak: number };
    assert.deepEqual(outcomes, ['delivered', 'delivered', 'delivered', 'delivered', 'delivered']);
    assert.ok(peak - idle < 16 * MB, `RSS rose by ${((peak - idle) / MB).toFixed(1)} MB`);
    // The receiver got rid of a few socket buffers' worth at most, never the whole answer.
    assert.equal(sent.length, 6);
    for (const bytes of sent) assert.ok(bytes < 16 * MB, `the receiver wrote ${(bytes / MB).toFixed(1)} MB`);
    assert.equal(MAX_RESPONSE_BODY_BYTES, 64 * 1024);
  });

  test('a request Node.js cannot build is a permanent failure, never sent, naming the header but not its value', async () => {
    const r = await receiver();
    const cases: Array<[string, Record<string, string>, string]> = [
      ['CR/LF', { 'x-note': 'a\r\nInjected: yes' }, 'x-note'],
      ['beyond Latin-1', { 'x-note': 'pod ☃' }, 'x-note'],
      ['a NUL', { 'x-secret-ish': 'abc\u0000def' }, 'x-secret-ish'],
    ];
    for (const [name, headers, header] of cases) {
      const result = await attempt({ url: r.url, body: '{}', headers, timeoutMs: 1000 });
      assert.equal(result.outcome, 'permanent', name);
      assert.ok(result.outcome === 'permanent');
      assert.equal(result.reason, 'invalid-request', name);
      assert.equal(result.status, undefined, name);
      assert.match(result.message, new RegExp(`^the request cannot be built: header "${header}"`), name);
      for (const value of Object.values(headers)) assert.ok(!result.message.includes(value), name);
    }
    assert.equal(r.received.length, 0);

    // In a queue: given up after one attempt, and the next event goes on.
    const { queue, push, deliveries } = testQueue(
      testTarget(r.url, { name: 'bad-header', headers: { 'x-note': 'line\nbreak' } }),
    );
    push(testEvent(1));
    await queue.idle();
    assert.deepEqual(
      deliveries.list().map((d) => [d.status, d.givenUpReason, d.attempts, d.lastError]),
      [['given-up', 'permanent', 1, 'invalid-request']],
    );
    assert.equal(r.received.length, 0);
  });
});
