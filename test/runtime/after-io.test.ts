import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { afterNextPoll } from '../../src/runtime/after-io.ts';

test('work awaited behind afterNextPoll runs after a request that arrived meanwhile has been handled', async () => {
  const order: string[] = [];
  const server = createServer((_, response) => {
    order.push('request handled');
    response.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    // Start from inside an I/O callback, as a leadership change does (it follows an API answer).
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    const sent = request({ port, host: '127.0.0.1', agent: false });
    sent.end();
    await once(sent, 'socket');
    // The request arrives while this turn is still busy.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    await afterNextPoll();
    order.push('deferred work');
    await once(sent, 'response');
    assert.deepEqual(order, ['request handled', 'deferred work']);
  } finally {
    server.close();
  }
});
