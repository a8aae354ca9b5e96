// The fault proxy does what the fault scenarios rely on: it forwards faithfully, silences open connections without
// closing them, black-holes everything during a partition and delivers what waited on heal, per proxy.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultProxy } from './fault-proxy.ts';

/** A server with `/hello` (a plain answer) and `/stream` (one line now, then one per `tick()`). */
async function upstream(): Promise<{ server: Server; port: number; tick(line: string): void }> {
  const streams = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first\n');
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => res.end(`hello ${req.method} ${body}`));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as { port: number }).port,
    tick: (line) => {
      for (const res of streams) res.write(`${line}\n`);
    },
  };
}

/** One request on a fresh connection; resolves with the body, or `'no answer'` after `waitMs`. */
function ask(port: number, path = '/hello', body = '', waitMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.setTimeout(waitMs, () => {
      req.destroy();
      resolve('no answer');
    });
    req.end(body);
  });
}

/** Opens `/stream` and records what arrives and whether the connection ended. */
async function openStream(port: number): Promise<{ lines: string[]; ended: () => boolean; close(): void }> {
  const lines: string[] = [];
  let ended = false;
  const req = request({ host: '127.0.0.1', port, path: '/stream', agent: false });
  req.on('error', () => (ended = true));
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)));
  res.on('end', () => (ended = true));
  res.on('close', () => (ended = true));
  await waitUntil(() => lines.length > 0);
  return { lines, ended: () => ended, close: () => req.destroy() };
}

async function waitUntil(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('fault proxy', () => {
  let server: Awaited<ReturnType<typeof upstream>>;
  before(async () => {
    server = await upstream();
  });
  after(() => {
    server.server.closeAllConnections();
    server.server.close();
  });

  it('forwards requests, bodies and streamed answers both ways', async () => {
    const proxy = await FaultProxy.start(`http://127.0.0.1:${server.port}`);
    try {
      assert.equal(await ask(proxy.port, '/hello', 'ping'), 'hello POST ping');
      const stream = await openStream(proxy.port);
      server.tick('second');
      await waitUntil(() => stream.lines.length === 2);
      assert.deepEqual(stream.lines, ['first', 'second']);
      stream.close();
    } finally {
      await proxy.close();
    }
  });

  it('silence(): open connections stop forwarding without closing; new connections work', async () => {
    const proxy = await FaultProxy.start(`http://127.0.0.1:${server.port}`);
    try {
      const stream = await openStream(proxy.port);
      assert.equal(proxy.silence(), 1);
      server.tick('lost');
      await sleep(300);
      assert.deepEqual(stream.lines, ['first'], 'nothing arrives on a silenced connection');
      assert.equal(stream.ended(), false, 'no FIN, no RST: the client cannot tell');
      assert.equal(await ask(proxy.port), 'hello GET ', 'a new connection is answered');
      stream.close();
    } finally {
      await proxy.close();
    }
  });

  it('partition(): nothing passes, new connections hang; heal() delivers what waited, in order', async () => {
    const proxy = await FaultProxy.start(`http://127.0.0.1:${server.port}`);
    try {
      const stream = await openStream(proxy.port);
      proxy.partition();
      server.tick('during');
      const pending = ask(proxy.port, '/hello', 'held', 5000);
      await sleep(300);
      assert.deepEqual(stream.lines, ['first'], 'the open stream is held');
      assert.equal(stream.ended(), false);
      assert.equal(await ask(proxy.port, '/hello', '', 300), 'no answer', 'a new connection gets no answer');
      proxy.heal();
      assert.equal(await pending, 'hello POST held', 'the request sent during the partition is answered after heal');
      await waitUntil(() => stream.lines.length === 2);
      server.tick('after');
      await waitUntil(() => stream.lines.length === 3);
      assert.deepEqual(stream.lines, ['first', 'during', 'after']);
      stream.close();
    } finally {
      await proxy.close();
    }
  });

  it('faults are per proxy: partitioning one replica leaves another one working', async () => {
    const [a, b] = await Promise.all([
      FaultProxy.start(`127.0.0.1:${server.port}`),
      FaultProxy.start(`127.0.0.1:${server.port}`),
    ]);
    try {
      a.partition();
      assert.equal(await ask(a.port, '/hello', '', 300), 'no answer');
      assert.equal(await ask(b.port), 'hello GET ');
      a.heal();
      assert.equal(await ask(a.port), 'hello GET ');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a server that is down resets the client (as a direct connection would), it does not hang', async () => {
    const down = createServer();
    down.listen(0, '127.0.0.1');
    await once(down, 'listening');
    const port = (down.address() as { port: number }).port;
    down.close();
    await once(down, 'close');
    const proxy = await FaultProxy.start(`http://127.0.0.1:${port}`);
    try {
      const startedAt = performance.now();
      await assert.rejects(ask(proxy.port, '/hello', '', 5000), /socket hang up|ECONNRESET/);
      assert.ok(performance.now() - startedAt < 1000);
    } finally {
      await proxy.close();
    }
  });
});
