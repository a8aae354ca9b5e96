/**
 * /metrics as Prometheus' own linter reads it: `promtool check metrics` (Debian's prometheus package) on the scrape of
 * a real leader and a real follower, with notification targets configured so the notifier's metrics are there too.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import { Receiver } from '../notify/receiver.ts';
import { Replica, waitFor } from '../support/replica.ts';
import { requireTool } from '../support/tools.ts';

let api: EmbeddedApi;
let receiver: Receiver;
let scratch: string;
const replicas: Replica[] = [];

before(async () => {
  api = await startEmbeddedApi();
  receiver = await Receiver.start();
  scratch = mkdtempSync(join(tmpdir(), 'leaderhook-promtool-'));
  await api.writeKubeconfig(join(scratch, 'kubeconfig'));
});

after(async () => {
  for (const replica of replicas) await replica.stop();
  await receiver.close();
  await api.close();
  rmSync(scratch, { recursive: true, force: true });
});

test('promtool check metrics accepts /metrics of a leader and of a follower', async (t) => {
  const promtool = requireTool(t, 'promtool', 'apt-get install prometheus');
  if (!promtool) return;
  for (const id of ['lint-a', 'lint-b']) {
    replicas.push(
      await Replica.start({
        id,
        kubeconfig: join(scratch, 'kubeconfig'),
        election: 'lint',
        args: ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=250ms', `--hook=${receiver.url}`],
      }),
    );
  }
  const views = await waitFor('a leader and a follower', async () => {
    const seen = await Promise.all(replicas.map((replica) => replica.leader()));
    return seen.every((view) => view?.leader) && seen.some((view) => view?.isLeader) ? seen : undefined;
  });
  await waitFor('the hooks delivered', () => receiver.received.length >= 3);

  for (const [index, replica] of replicas.entries()) {
    const text = await (await fetch(`${replica.url}/metrics`)).text();
    const role = views[index]?.isLeader ? 'leader' : 'follower';
    // The scrape is the real thing: the election's, the notifier's and the process metrics are all in it.
    for (const family of ['leaderhook_is_leader', 'leaderhook_notify_delivered_total', 'nodejs_active_handles'])
      assert.match(text, new RegExp(`^# TYPE ${family} `, 'm'), `${role} exports ${family}`);
    const check: SpawnSyncReturns<string> = spawnSync(promtool, ['check', 'metrics'], {
      input: text,
      encoding: 'utf8',
    });
    assert.equal(check.status, 0, `promtool check metrics on the ${role}: ${check.stdout}${check.stderr}`);
    assert.equal(`${check.stdout}${check.stderr}`.trim(), '', `promtool has nothing to say about the ${role}`);
  }
});
