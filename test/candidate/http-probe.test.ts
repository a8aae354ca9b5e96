import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MAX_PROBE_BODY_BYTES, MAX_PROBE_HEADER_BYTES, probe } from '../../src/candidate/http-probe.ts';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** A real HTTP server on loopback whose answer each test sets. */
async function startServer(): Promise<{ server: Server; port: number; handle(handler: Handler): void }> {
  let handler: Handler = (_request, response) => response.end();
  const server = createServer((request, response) => handler(request, response));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as AddressInfo).port,
    handle: (next) => {
      handler = next;
    },
  };
}

describe('candidate check: one probe (kubelet httpGet semantics)', () => {
  let app: Awaited<ReturnType<typeof startServer>>;
  const url = (path = '/ready') => new URL(`http://127.0.0.1:${app.port}${path}`);
  before(async () => {
    app = await startServer();
  });
  after(() => {
    app.server.closeAllConnections();
    app.server.close();
  });

  it('200 is healthy; a GET with its own user agent, Accept */*, no Accept-Encoding, a new connection each time', async () => {
    const seen: Array<{
      method?: string;
      agent?: string;
      accept?: string;
      encoding?: string;
      connection?: string;
      port?: number;
    }> = [];
    app.handle((request, response) => {
      seen.push({
        method: request.method,
        agent: request.headers['user-agent'],
        accept: request.headers.accept,
        encoding: request.headers['accept-encoding'],
        connection: request.headers.connection,
        port: request.socket.remotePort,
      });
      response.end('ok');
    });
    assert.deepEqual(await probe(url(), 1000), { healthy: true, result: 'success', status: 200, message: 'HTTP 200' });
    await probe(url(), 1000);
    assert.equal(seen[0]?.method, 'GET');
    assert.equal(seen[0]?.agent, 'leaderhook-candidate-check');
    assert.equal(seen[0]?.accept, '*/*');
    assert.equal(seen[0]?.encoding, undefined, 'kubelet asks for no compression');
    assert.equal(seen[0]?.connection, 'close');
    assert.notEqual(seen[0]?.port, seen[1]?.port, 'no kept-alive connection');
  });

  it("response headers beyond Node.js's 16 KiB are read as kubelet reads them (up to 10 MiB)", async () => {
    app.handle((_request, response) => {
      response.setHeader('x-large', 'a'.repeat(64 * 1024));
      response.end('ok');
    });
    assert.deepEqual(await probe(url(), 2000), { healthy: true, result: 'success', status: 200, message: 'HTTP 200' });
    app.handle((request, response) => {
      // Past the bound: the connection is cut by the parser, an error, as kubelet fails such a probe.
      request.socket.write(`HTTP/1.1 200 OK\r\nx-large: ${'a'.repeat(MAX_PROBE_HEADER_BYTES + 1024)}\r\n\r\n`);
      response.destroy();
    });
    const outcome = await probe(url(), 5000);
    assert.equal(outcome.healthy, false);
    assert.equal(outcome.result, 'error');
  });

  it('200–399 healthy, anything else unhealthy, by the status alone', async () => {
    for (const [status, healthy] of [
      [200, true],
      [204, true],
      [304, true],
      [399, true],
      [400, false],
      [404, false],
      [500, false],
      [503, false],
    ] as const) {
      app.handle((_request, response) => {
        response.statusCode = status;
        response.end();
      });
      const outcome = await probe(url(), 1000);
      assert.equal(outcome.healthy, healthy, `HTTP ${status}`);
      assert.equal(outcome.status, status);
      assert.equal(outcome.result, healthy ? 'success' : 'http-status');
      assert.equal(outcome.message, `HTTP ${status}`);
    }
  });

  it('follows a redirect to the same host and judges where it ends; a redirect to another host is judged by its 3xx', async () => {
    app.handle((request, response) => {
      if (request.url === '/moved') {
        response.writeHead(302, { location: '/down' }).end();
      } else if (request.url === '/elsewhere') {
        // localhost is another host name than 127.0.0.1, as kubelet compares them.
        response.writeHead(302, { location: `http://localhost:${app.port}/down` }).end();
      } else if (request.url === '/loop') {
        response.writeHead(302, { location: '/loop' }).end();
      } else {
        response.writeHead(503).end();
      }
    });
    assert.deepEqual(await probe(url('/moved'), 1000), {
      healthy: false,
      result: 'http-status',
      status: 503,
      message: 'HTTP 503',
    });
    assert.deepEqual(await probe(url('/elsewhere'), 1000), {
      healthy: true,
      result: 'success',
      status: 302,
      message: 'HTTP 302',
    });
    assert.deepEqual(await probe(url('/loop'), 1000), {
      healthy: false,
      result: 'error',
      message: 'more than 10 redirects',
    });
  });

  it('an app that never answers: unhealthy at the timeout', async () => {
    app.handle(() => {});
    const startedAt = performance.now();
    const outcome = await probe(url(), 300);
    const tookMs = performance.now() - startedAt;
    assert.deepEqual(outcome, { healthy: false, result: 'timeout', message: 'no response within 300 ms' });
    assert.ok(tookMs >= 290 && tookMs < 1300, `took ${Math.round(tookMs)} ms`);
  });

  it('a huge body: decided at the status line, at most a small prefix read, the connection closed', async () => {
    let written = 0;
    const closed = new Promise<void>((resolve) => {
      app.handle((_request, response) => {
        response.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 'x');
        const write = () => {
          while (!response.destroyed && written < 1024 ** 3) {
            written += chunk.length;
            if (!response.write(chunk)) return void response.once('drain', write);
          }
        };
        response.once('close', () => resolve());
        write();
      });
    });
    const startedAt = performance.now();
    const outcome = await probe(url(), 5000);
    assert.deepEqual(outcome, { healthy: true, result: 'success', status: 200, message: 'HTTP 200' });
    await closed;
    const tookMs = performance.now() - startedAt;
    assert.ok(tookMs < 2000, `the connection was closed after ${Math.round(tookMs)} ms, not at the timeout`);
    // What the server wrote before it saw the close: the probe's prefix plus the kernel's socket buffers.
    assert.ok(written < 16 * 1024 ** 2, `the server wrote ${written} bytes of 1 GiB`);
    assert.equal(MAX_PROBE_BODY_BYTES, 10 * 1024);
  });

  it('a body that never ends after a 200: healthy at once, not at the timeout', async () => {
    app.handle((_request, response) => {
      response.writeHead(200);
      response.write('still thinking');
    });
    const startedAt = performance.now();
    assert.equal((await probe(url(), 2000)).healthy, true);
    assert.ok(performance.now() - startedAt < 1000);
  });

  it('connection refused: unhealthy, saying so', async () => {
    const closedServer = createServer();
    closedServer.listen(0, '127.0.0.1');
    await once(closedServer, 'listening');
    const { port } = closedServer.address() as AddressInfo;
    closedServer.close();
    await once(closedServer, 'close');
    assert.deepEqual(await probe(new URL(`http://127.0.0.1:${port}/ready`), 1000), {
      healthy: false,
      result: 'connection-refused',
      message: 'connection refused',
    });
  });

  it('a connection reset before any answer: unhealthy, and the message never quotes the URL', async () => {
    app.handle((request) => request.socket.destroy());
    const outcome = await probe(url('/ready?token=s3cret'), 1000);
    assert.equal(outcome.healthy, false);
    assert.equal(outcome.result, 'error');
    assert.doesNotMatch(outcome.message, /s3cret|127\.0\.0\.1/);
  });
});
