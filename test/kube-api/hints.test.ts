import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ApiException } from '@kubernetes/client-node';
import { KubeApiError, toKubeApiError } from '../../src/kube-api/api-error.ts';
import { accessHint, type ApiAccess } from '../../src/kube-api/hints.ts';

const lease: ApiAccess = {
  resource: 'leases',
  group: 'coordination.k8s.io',
  namespace: 'apps',
  name: 'example',
  meanwhile: 'retrying with back-off',
};
const forbidden = (verb: string) => new KubeApiError(verb, 'forbidden', `${verb} is forbidden`, 403, 'Forbidden');

describe('the hint for a refused API call', () => {
  it('403 on the lock: the verb, resource, API group, namespace and the one name a Role can narrow it to', () => {
    assert.equal(
      accessHint(forbidden('get'), lease),
      'RBAC forbids get on resource "leases" (apiGroup coordination.k8s.io) in namespace "apps": ' +
        'grant verb "get" on "leases" (resourceNames: ["example"]) in a Role bound to this ServiceAccount; ' +
        'retrying with back-off (get is forbidden)',
    );
  });

  it('403 on create: no resourceNames, which RBAC cannot apply to create', () => {
    assert.equal(
      accessHint(forbidden('create'), lease),
      'RBAC forbids create on resource "leases" (apiGroup coordination.k8s.io) in namespace "apps": ' +
        'grant verb "create" on "leases" in a Role bound to this ServiceAccount; ' +
        'retrying with back-off (create is forbidden)',
    );
  });

  it('403 for a feature: every verb it needs, the core group as "", and the flag that asks for it', () => {
    const pods: ApiAccess = {
      resource: 'pods',
      group: '',
      namespace: 'apps',
      verbs: ['get', 'patch'],
      purpose: 'for --leader-label',
      meanwhile: 'retrying with back-off',
    };
    assert.equal(
      accessHint(forbidden('patch'), pods),
      'RBAC forbids patch on resource "pods" (apiGroup "") in namespace "apps": ' +
        'grant verbs "get" and "patch" on "pods" in a Role bound to this ServiceAccount for --leader-label; ' +
        'retrying with back-off (patch is forbidden)',
    );
  });

  it('401: the credentials, not a Role', () => {
    const unauthorized = new KubeApiError('get', 'unauthorized', 'Unauthorized', 401, 'Unauthorized');
    assert.equal(
      accessHint(unauthorized, lease),
      'the API server rejected our credentials (401 Unauthorized) on get ' +
        'resource "leases" (apiGroup coordination.k8s.io) in namespace "apps": ' +
        'check the ServiceAccount token or kubeconfig; retrying with back-off',
    );
  });

  it('no hint for failures that are not about access', () => {
    for (const kind of ['conflict', 'not-found', 'throttled', 'server', 'network', 'rejected'] as const) {
      assert.equal(accessHint(new KubeApiError('update', kind, 'failed'), lease), undefined, kind);
    }
  });

  /** What client-node throws for a response recorded from kube-apiserver 1.20.2. */
  const recorded = (verb: string, status: number, name: string) =>
    toKubeApiError(
      verb,
      new ApiException(
        status,
        `HTTP ${status}`,
        readFileSync(new URL(`../fixtures/kube-api/${name}`, import.meta.url), 'utf8'),
        {},
      ),
    );

  it('403 because the namespace is being deleted: the namespace, not RBAC', () => {
    const failure = recorded('create', 403, 'lease-create-403-namespace-terminating.json');
    assert.deepEqual(failure.details, { kind: 'leases', causes: ['NamespaceTerminating'] });
    assert.equal(
      accessHint(failure, lease),
      'namespace "apps" is being deleted: the API server refuses to create leases in it (403 NamespaceTerminating), ' +
        'which no Role fixes; use another namespace (--election-namespace) or wait for the namespace to be gone and ' +
        'created again; retrying with back-off',
    );
  });

  it('404 naming the namespace on create: the namespace does not exist', () => {
    assert.equal(
      accessHint(recorded('create', 404, 'lease-create-404-namespace-missing.json'), lease),
      'namespace "apps" does not exist: the API server cannot create leases in it; ' +
        'create it or use another namespace (--election-namespace); retrying with back-off',
    );
    // A Lease that does not exist is no access problem.
    assert.equal(accessHint(recorded('get', 404, 'lease-get-404.json'), lease), undefined);
    // An RBAC 403 recorded from the server still names the Role to grant.
    assert.match(accessHint(recorded('get', 403, 'lease-get-403.json'), lease) ?? '', /^RBAC forbids get/);
  });
});
