import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiException } from '@kubernetes/client-node';
import { KubeApiError } from '../../src/kube-api/api-error.ts';
import { readOrNull } from '../../src/kube-api/read-or-null.ts';

/** What client-node throws for an API answer: the status code and the `Status` body. */
function apiException(code: number, reason: string, message: string): ApiException<string> {
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code });
  return new ApiException(code, message, body, {});
}

describe('readOrNull', () => {
  it('answers the object, or null for a missing one (404)', async () => {
    assert.deepEqual(await readOrNull('get', () => Promise.resolve({ name: 'a' })), { name: 'a' });
    const notFound = apiException(404, 'NotFound', 'pods "a" not found');
    assert.equal(await readOrNull('get', () => Promise.reject(notFound)), null);
  });

  it('throws any other failure as a KubeApiError naming the verb, status, reason and message', async () => {
    const forbidden = apiException(403, 'Forbidden', 'pods "a" is forbidden');
    await assert.rejects(
      readOrNull('get', () => Promise.reject(forbidden)),
      (error: unknown) => {
        assert.ok(error instanceof KubeApiError);
        assert.deepEqual(
          { verb: error.verb, kind: error.kind, status: error.status, reason: error.reason, message: error.message },
          { verb: 'get', kind: 'forbidden', status: 403, reason: 'Forbidden', message: 'pods "a" is forbidden' },
        );
        return true;
      },
    );
    const refused = new Error('connect ECONNREFUSED 127.0.0.1:6443');
    await assert.rejects(
      readOrNull('get', () => Promise.reject(refused)),
      { name: 'KubeApiError', kind: 'network' },
    );
  });
});
