import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiException } from '@kubernetes/client-node';
import { KubeApiError } from '../../src/kube-api/api-error.ts';
import { readOrNull } from '../../src/kube-api/read-or-null.ts';

/** What client-node throws for an API answer: the status code and the `Status` body. */
function apiException(code: number, reason: string, message: string): ApiException<string> {
  return new ApiException(code, message, JSON.stringify({ kind: 'Status', status: 'Failure', reason, message, code }), {});
}

describe('readOrNull', () => {
  it('answers the object, or null for a missing one (404)', async () => {
    assert.deepEqual(await readOrNull('get', async () => ({ name: 'a' })), { name: 'a' });
    assert.equal(await readOrNull('get', () => Promise.reject(apiException(404, 'NotFound', 'pods "a" not found'))), null);
  });

  it('throws any other failure as a KubeApiError naming the verb, status, reason and message', async () => {
    const forbidden = apiException(403, 'Forbidden', 'pods "a" is forbidden');
    await assert.rejects(readOrNull('get', () => Promise.reject(forbidden)), (error: unknown) => {
      assert.ok(error instanceof KubeApiError);
      assert.deepEqual(
        { verb: error.verb, kind: error.kind, status: error.status, reason: error.reason, message: error.message },
        { verb: 'get', kind: 'forbidden', status: 403, reason: 'Forbidden', message: 'pods "a" is forbidden' },
      );
      return true;
    });
    await assert.rejects(readOrNull('get', () => Promise.reject(new Error('connect ECONNREFUSED'))), { name: 'KubeApiError', kind: 'network' });
  });
});
