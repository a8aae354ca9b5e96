import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import { Replica, waitFor } from '../support/replica.ts';

const MB = 1024 * 1024;
let api: EmbeddedApi;
let kubeconfig: string;

before(async () => {
  api = await startEmbeddedApi();
  kubeconfig = join(mkdtempSync(join(tmpdir(), 'leaderhook-watch-')), 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
});
after(() => api.close());

/** Resident memory of a process, from /proc. */
function rssOf(pid: number): number {
  const kilobytes = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kilobytes) * 1024;
}

describe('a leaderhook process asked for 2,000 /watch streams', () => {
  it('serves 100 (the default --max-watch-clients), answers 503 to the rest, and its RSS grows by less than 32 MB (uncapped, 2,000 streams hold about 60 MB)', async () => {
    const replica = await Replica.start({ id: 'watched', kubeconfig, election: 'watch-clients' });
    const sockets: Socket[] = [];
    try {
      await waitFor('the replica to lead', async () => (await replica.leader())?.isLeader === true);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const pid = replica.process.pid as number;
      const idle = rssOf(pid);
      let peak = idle;
      const answers = { streaming: 0, refused: 0 };
      for (let i = 0; i < 2000; i++) {
        const socket = connect(replica.port, '127.0.0.1');
        let first = true;
        socket.on('data', (chunk: Buffer) => {
          if (!first) return;
          first = false;
          if (chunk.toString('latin1').startsWith('HTTP/1.1 200')) answers.streaming++;
          else if (chunk.toString('latin1').startsWith('HTTP/1.1 503')) answers.refused++;
        });
        socket.on('error', () => {});
        socket.write('GET /watch HTTP/1.1\r\nHost: test\r\n\r\n');
        sockets.push(socket);
        if (i % 100 === 99) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          peak = Math.max(peak, rssOf(pid));
        }
      }
      await waitFor('every request answered', () => answers.streaming + answers.refused === 2000, 30_000);
      peak = Math.max(peak, rssOf(pid));
      assert.deepEqual(answers, { streaming: 100, refused: 1900 });
      assert.ok(peak - idle < 32 * MB, `RSS grew by ${((peak - idle) / MB).toFixed(1)} MB`);
      const metrics = await (await fetch(`${replica.url}/metrics`)).text();
      assert.match(metrics, /^leaderhook_watch_clients 100$/m);
      assert.match(metrics, /^leaderhook_watch_rejected_total 1900$/m);
      for (const socket of sockets) socket.destroy();
      await waitFor('every stream closed', async () =>
        /^leaderhook_watch_clients 0$/m.test(await (await fetch(`${replica.url}/metrics`)).text()),
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await replica.stop();
    }
  });
});
