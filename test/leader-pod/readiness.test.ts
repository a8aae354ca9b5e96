import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { LeadershipSnapshot } from '../../src/election/leadership.ts';
import { createHttpApp } from '../../src/http/app.ts';

function appWith(state: Partial<LeadershipSnapshot>, readyOnlyWhenLeader: boolean) {
  const snapshot = {
    election: 'demo',
    identity: 'pod-b',
    leader: 'pod-a',
    isLeader: false,
    ready: true,
    ...state,
  } as LeadershipSnapshot;
  return createHttpApp({
    leadership: { snapshot: () => snapshot, subscribe: () => () => {}, unhealthyReason: () => undefined },
    metrics: new Registry(),
    readyOnlyWhenLeader,
  });
}

async function readyz(state: Partial<LeadershipSnapshot>, readyOnlyWhenLeader: boolean): Promise<[number, string]> {
  const response = await appWith(state, readyOnlyWhenLeader).request('/readyz');
  return [response.status, await response.text()];
}

describe('/readyz with --ready-only-when-leader', () => {
  it('answers 200 only on the leader', async () => {
    assert.deepEqual(await readyz({ isLeader: true, leader: 'pod-b' }, true), [200, 'ok\n']);
    assert.deepEqual(await readyz({}, true), [503, 'not ready: not the leader (the leader is pod-a)\n']);
    assert.deepEqual(await readyz({ leader: '' }, true), [503, 'not ready: not the leader (the leader is unknown)\n']);
    assert.equal((await readyz({ ready: false }, true))[0], 503);
  });

  it('without the flag: ready once the lock has been read, leader or not', async () => {
    assert.equal((await readyz({}, false))[0], 200);
    assert.equal((await readyz({ ready: false }, false))[0], 503);
  });
});
