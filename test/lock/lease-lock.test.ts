// The Lease lock against the embedded API: a rehearsed update builds the request and sends nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import { loadKubeConfig } from '../../src/kube-api/kubeconfig.ts';
import { LeaseLock } from '../../src/lock/lease-lock.ts';
import type { LeaderElectionRecord } from '../../src/lock/types.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let api: EmbeddedApi;
let directory: string;
let lock: LeaseLock;

before(async () => {
  api = await startEmbeddedApi();
  directory = mkdtempSync(join(tmpdir(), 'leaderhook-lease-lock-'));
  await api.writeKubeconfig(join(directory, 'kubeconfig'));
  lock = new LeaseLock(loadKubeConfig(join(directory, 'kubeconfig'), '--kubeconfig', {}), 'default', 'lock', 5000);
});
after(async () => {
  await api.close();
  rmSync(directory, { recursive: true, force: true });
});

const record = (holderIdentity: string, leaderTransitions: number): LeaderElectionRecord => ({
  holderIdentity,
  leaseDurationSeconds: 15,
  acquireTime: new Date(),
  renewTime: new Date(),
  leaderTransitions,
});

test('a rehearsed update sends nothing and changes nothing; the real update after it is written', async () => {
  await lock.create(record('other', 0), {});
  const observed = await lock.get();
  assert.ok(observed);
  api.clearRequests();
  await lock.rehearseUpdate(observed, record('me', 1), {});
  assert.deepEqual(api.requests, [], 'no request reached the API server');
  assert.equal((await lock.get())?.resourceVersion, observed.resourceVersion);
  const written = await lock.update(observed, record('me', 1), {});
  assert.equal(written.record?.holderIdentity, 'me');
  assert.equal(written.record?.leaderTransitions, 1);
});
