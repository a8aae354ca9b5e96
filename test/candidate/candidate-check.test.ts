import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { CandidateCheck } from '../../src/candidate/candidate-check.ts';
import { waitFor } from '../support/replica.ts';
import { memoryLog } from '../support/memory-lock.ts';

/** The main container's readiness endpoint, as a real HTTP server the test turns healthy or not. */
async function app() {
  let status = 200;
  let requests = 0;
  const server = createServer((_request, response) => {
    requests++;
    response.writeHead(status).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/ready?token=hidden`),
    setStatus: (next: number) => {
      status = next;
    },
    requests: () => requests,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

async function metric(registry: Registry, name: string, labels = ''): Promise<number | undefined> {
  const line = (await registry.metrics()).split('\n').find((text) => text.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('candidate check: the periodic check and the candidacy it gives the elector', () => {
  it('not a candidate before its first check passes; one failure stops campaigning, N in a row stop leading; one success restores both; one log line per change', async () => {
    const main = await app();
    const { log, lines } = memoryLog();
    const registry = new Registry();
    const check = new CandidateCheck({
      url: main.url,
      // Generous for loopback: a check that times out on a busy machine would count as a failure.
      intervalMs: 300,
      timeoutMs: 300,
      failureThreshold: 3,
      log,
      registry,
    });
    let notified = 0;
    check.subscribe(() => notified++);
    try {
      assert.equal(check.mayAcquire(), false, 'no campaign before the first check');
      assert.deepEqual(check.state(), {
        healthy: false,
        consecutiveFailures: 0,
        failureThreshold: 3,
        checkedAt: null,
        lastResult: null,
      });
      check.start();
      await waitFor('a passing check', () => check.state().healthy, 5000, 5);
      assert.equal(check.mayAcquire(), true);
      assert.equal(check.mayLead(), true);
      assert.equal(check.state().lastResult, 'HTTP 200');
      // 1, unless a first check timed out while the machine was busy (then 3: failed, passed)
      const base = notified;
      const logged = lines.length;
      assert.ok(base === 1 || base === 3, `${base} notifications`);
      assert.equal(await metric(registry, 'leaderhook_candidate_healthy'), 1);

      main.setStatus(503);
      await waitFor('one failed check', () => check.state().consecutiveFailures === 1, 5000, 5);
      assert.equal(check.mayAcquire(), false, 'a failed check: no campaigning');
      assert.equal(check.mayLead(), true, 'a leader tolerates one failure');
      assert.equal(notified, base + 1);
      await waitFor('three failed checks', () => check.state().consecutiveFailures === 3, 5000, 5);
      assert.equal(check.mayLead(), false, 'three in a row: step down');
      assert.equal(notified, base + 2);
      await waitFor('a fifth failed check', () => check.state().consecutiveFailures === 5, 5000, 5);
      assert.equal(notified, base + 2, 'the listener hears changes, not every check');
      assert.equal(check.state().lastResult, 'HTTP 503');
      assert.equal(await metric(registry, 'leaderhook_candidate_healthy'), 0);
      assert.equal(await metric(registry, 'leaderhook_candidate_consecutive_failures'), 5);
      assert.ok(((await metric(registry, 'leaderhook_candidate_checks_total', '{result="http-status"}')) ?? 0) >= 5);

      main.setStatus(200);
      await waitFor('a passing check', () => check.state().healthy, 5000, 5);
      assert.equal(check.state().consecutiveFailures, 0);
      assert.equal(check.mayAcquire() && check.mayLead(), true);
      assert.equal(notified, base + 3);

      assert.equal(lines[logged - 1]?.message, 'candidate check passed: campaigning for leadership');
      const messages = lines.slice(logged).map((line) => [line.level, line.message]);
      assert.deepEqual(messages, [
        [
          'warn',
          'candidate check failed: not campaigning; a leader steps down after --candidate-check-failures in a row',
        ],
        ['info', 'candidate check passed: campaigning for leadership'],
      ]);
      assert.equal(lines[logged]?.fields.url, `http://${main.url.host}/ready`, 'the URL without its query');
    } finally {
      check.stop();
      main.close();
    }
  });

  it('checks every interval, not more often, and stops checking when stopped', async () => {
    const main = await app();
    const check = new CandidateCheck({
      url: main.url,
      intervalMs: 200,
      timeoutMs: 200,
      failureThreshold: 1,
      log: memoryLog().log,
      registry: new Registry(),
    });
    try {
      check.start();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const count = main.requests();
      assert.ok(count >= 3 && count <= 6, `${count} checks in 1 s at a 200 ms interval`);
      check.stop();
      // A check already on its way may still arrive; none is sent after that.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const stoppedAt = main.requests();
      assert.ok(stoppedAt <= count + 1);
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(main.requests(), stoppedAt, 'no check after stop()');
    } finally {
      check.stop();
      main.close();
    }
  });
});
