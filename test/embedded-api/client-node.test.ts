// The real @kubernetes/client-node (v2) against the embedded API: the calls and error shapes the Lease lock
// relies on, watches with a field selector, and a watch resumed from a revision the server no longer has.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiException, CoordinationV1Api, KubeConfig, V1MicroTime, Watch, type V1Lease } from '@kubernetes/client-node';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import { parseJson, type StatusBody } from './helpers.ts';

let api: EmbeddedApi;
let kc: KubeConfig;
let leases: CoordinationV1Api;
const NS = 'client-node';

before(async () => {
  api = await startEmbeddedApi({ tokens: { good: { user: 'leaderhook' } }, watchHistory: 5 });
  kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig({ token: 'good', namespace: NS }));
  leases = kc.makeApiClient(CoordinationV1Api);
});
after(() => api.close());

const lease = (name: string, holder: string): V1Lease => ({
  metadata: { name },
  spec: {
    holderIdentity: holder,
    leaseDurationSeconds: 15,
    acquireTime: new V1MicroTime(),
    renewTime: new V1MicroTime(),
    leaseTransitions: 0,
  },
});

async function apiError(p: Promise<unknown>): Promise<ApiException<string>> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiException, `expected ApiException, got ${String(err)}`);
    return err as ApiException<string>;
  }
  assert.fail('expected the call to fail');
}

interface Seen {
  type: string;
  obj: { metadata?: { resourceVersion?: string }; spec?: { holderIdentity?: string }; code?: number; reason?: string };
}

/** Starts a client-node watch and collects events until `until` is satisfied or the stream ends. */
async function watchUntil(path: string, query: Record<string, string>, until: (seen: Seen[]) => boolean) {
  const seen: Seen[] = [];
  let finish!: (ended: boolean) => void;
  const done = new Promise<boolean>((resolve) => (finish = resolve));
  const controller = await new Watch(kc).watch(
    path,
    query,
    (type, obj) => {
      seen.push({ type, obj: obj as Seen['obj'] });
      if (until(seen)) finish(false);
    },
    () => finish(true),
  );
  return { seen, done, stop: () => controller.abort() };
}

test('create, read, replace, and a 409 on a stale resourceVersion', async () => {
  const created = await leases.createNamespacedLease({ namespace: NS, body: lease('crud', 'a') });
  assert.equal(created.spec?.holderIdentity, 'a');
  assert.match(String(created.spec?.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

  const read = await leases.readNamespacedLease({ name: 'crud', namespace: NS });
  assert.equal(read.metadata?.resourceVersion, created.metadata?.resourceVersion);

  const replaced = await leases.replaceNamespacedLease({
    name: 'crud',
    namespace: NS,
    body: { ...read, spec: { ...read.spec, holderIdentity: 'b', leaseTransitions: 1 } },
  });
  assert.equal(replaced.spec?.holderIdentity, 'b');
  assert.notEqual(replaced.metadata?.resourceVersion, read.metadata?.resourceVersion);

  const stale = await apiError(leases.replaceNamespacedLease({ name: 'crud', namespace: NS, body: read }));
  assert.equal(stale.code, 409);
  assert.equal(parseJson<StatusBody>(stale.body).reason, 'Conflict');

  const exists = await apiError(leases.createNamespacedLease({ namespace: NS, body: lease('crud', 'c') }));
  assert.equal(exists.code, 409);
  assert.equal(parseJson<StatusBody>(exists.body).reason, 'AlreadyExists');

  const missing = await apiError(leases.readNamespacedLease({ name: 'nope', namespace: NS }));
  assert.equal(missing.code, 404);
});

test('a JS Date (three fractional digits) is rejected as the real server rejects it', async () => {
  const body = {
    metadata: { name: 'js-date' },
    spec: { holderIdentity: 'a', renewTime: new Date('2026-11-23T21:00:00.103Z') },
  } as unknown as V1Lease;
  const err = await apiError(leases.createNamespacedLease({ namespace: NS, body }));
  assert.equal(err.code, 400);
  assert.match(parseJson<StatusBody>(err.body).message, /cannot parse "\.103Z" as "\.000000"/);
});

test('a watch with a field selector receives MODIFIED and DELETED for that Lease only', async () => {
  const created = await leases.createNamespacedLease({ namespace: NS, body: lease('watched', 'a') });
  await leases.createNamespacedLease({ namespace: NS, body: lease('other', 'a') });
  const w = await watchUntil(
    `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`,
    { fieldSelector: 'metadata.name=watched', resourceVersion: created.metadata!.resourceVersion! },
    (seen) => seen.some((e) => e.type === 'DELETED'),
  );
  await leases.replaceNamespacedLease({
    name: 'other',
    namespace: NS,
    body: { ...(await leases.readNamespacedLease({ name: 'other', namespace: NS })), spec: { holderIdentity: 'x' } },
  });
  await leases.replaceNamespacedLease({
    name: 'watched',
    namespace: NS,
    body: { ...created, spec: { ...created.spec, holderIdentity: 'b' } },
  });
  await leases.deleteNamespacedLease({ name: 'watched', namespace: NS });
  const ended = await w.done;
  w.stop();
  assert.equal(ended, false, 'the stream stayed open');
  assert.deepEqual(
    w.seen.map((e) => [e.type, e.obj.spec?.holderIdentity]),
    [
      ['MODIFIED', 'b'],
      ['DELETED', 'b'],
    ],
  );
});

test('a watch resumed from a revision older than the retained history gets 410 Expired, then the stream ends', async () => {
  const first = await leases.createNamespacedLease({ namespace: NS, body: lease('churn', 'a') });
  let current = first;
  for (let i = 0; i < 7; i++) {
    current = await leases.replaceNamespacedLease({
      name: 'churn',
      namespace: NS,
      body: { ...current, spec: { ...current.spec, leaseTransitions: i + 1 } },
    });
  }
  const w = await watchUntil(
    `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`,
    { fieldSelector: 'metadata.name=churn', resourceVersion: first.metadata!.resourceVersion! },
    () => false,
  );
  assert.equal(await w.done, true, 'the server ended the stream');
  assert.equal(w.seen.length, 1);
  assert.equal(w.seen[0]!.type, 'ERROR');
  assert.equal(w.seen[0]!.obj.code, 410);
  assert.equal(w.seen[0]!.obj.reason, 'Expired');

  // From the latest revision the same watch works.
  const again = await watchUntil(
    `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`,
    { fieldSelector: 'metadata.name=churn', resourceVersion: current.metadata!.resourceVersion! },
    (seen) => seen.length === 1,
  );
  await leases.replaceNamespacedLease({
    name: 'churn',
    namespace: NS,
    body: { ...current, spec: { ...current.spec, holderIdentity: 'z' } },
  });
  assert.equal(await again.done, false);
  again.stop();
  assert.equal(again.seen[0]!.type, 'MODIFIED');
});

test('a 403 from the RBAC stand-in reaches client-node as ApiException 403, and can be fixed at run time', async () => {
  api.setAllowed('good', (verb, resource) => !(verb === 'get' && resource === 'leases'));
  try {
    const denied = await apiError(leases.readNamespacedLease({ name: 'crud', namespace: NS }));
    assert.equal(denied.code, 403);
    assert.equal(
      parseJson<StatusBody>(denied.body).message,
      `leases.coordination.k8s.io "crud" is forbidden: User "leaderhook" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "${NS}"`,
    );
  } finally {
    api.setAllowed('good', undefined);
  }
  const read = await leases.readNamespacedLease({ name: 'crud', namespace: NS });
  assert.equal(read.metadata?.name, 'crud');
});
