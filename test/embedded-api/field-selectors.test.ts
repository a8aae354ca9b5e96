// Field selectors per resource as kube-apiserver 1.20 serves them: Events by involvedObject.* / reason / type /
// source / reportingComponent (events.k8s.io by regarding.* / reportingController), Pods by their fields, and
// only metadata.name / metadata.namespace elsewhere, with the real server's 400 messages.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import { call, parseJson, type StatusBody } from './helpers.ts';

let api: EmbeddedApi;
before(async () => {
  api = await startEmbeddedApi();
});
after(() => api.close());

const EVENTS = '/api/v1/namespaces/default/events';
const names = async (path: string): Promise<string[]> => {
  const res = await call(api.url, 'GET', path);
  assert.equal(res.status, 200, res.text);
  return (JSON.parse(res.text) as { items: Array<{ metadata: { name: string } }> }).items
    .map((item) => item.metadata.name)
    .sort();
};

test('events are selected by the involved object, reason, type and source', async () => {
  for (const [name, object, reason, component] of [
    ['e1', 'lock-a', 'LeaderElection', 'leaderhook'],
    ['e2', 'lock-b', 'LeaderElection', ''],
    ['e3', 'lock-a', 'Other', 'x'],
  ] as const) {
    const res = await call(api.url, 'POST', EVENTS, {
      body: JSON.stringify({
        metadata: { name },
        involvedObject: { kind: 'Lease', name: object, namespace: 'default' },
        reason,
        type: 'Normal',
        source: component ? { component } : {},
        reportingComponent: 'rc',
      }),
    });
    assert.equal(res.status, 201, res.text);
  }
  const q = (selector: string) => `${EVENTS}?fieldSelector=${encodeURIComponent(selector)}`;
  assert.deepEqual(await names(q('involvedObject.name=lock-a')), ['e1', 'e3']);
  assert.deepEqual(await names(q('involvedObject.kind=Lease,involvedObject.name=lock-a,reason=LeaderElection')), [
    'e1',
  ]);
  assert.deepEqual(await names(q('reason!=Other')), ['e1', 'e2']);
  // source falls back to reportingComponent when source.component is empty.
  assert.deepEqual(await names(q('source=rc')), ['e2']);
  assert.deepEqual(await names(q('reportingComponent=rc,type=Normal')), ['e1', 'e2', 'e3']);
  assert.deepEqual(
    await names(
      `/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=${encodeURIComponent('regarding.name=lock-b,reportingController=rc')}`,
    ),
    ['e2'],
  );

  const bad = await call(api.url, 'GET', q('involvedObject.name=lock-a,message=x'));
  assert.equal(bad.status, 400);
  assert.equal(parseJson<StatusBody>(bad.text).message, 'field label not supported: message');
  const v1 = await call(
    api.url,
    'GET',
    `/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dx`,
  );
  assert.equal(parseJson<StatusBody>(v1.text).message, 'field label not supported: involvedObject.name');
});

test('leases know only metadata.name and metadata.namespace; pods their own fields', async () => {
  const lease = await call(
    api.url,
    'GET',
    '/apis/coordination.k8s.io/v1/namespaces/default/leases?fieldSelector=spec.holderIdentity%3Da',
  );
  assert.equal(lease.status, 400);
  assert.equal(
    parseJson<StatusBody>(lease.text).message,
    '"spec.holderIdentity" is not a known field selector: only "metadata.name", "metadata.namespace"',
  );
  assert.equal(
    (await call(api.url, 'GET', '/api/v1/namespaces/default/pods?fieldSelector=status.phase%3DRunning')).status,
    200,
  );
  const pod = await call(api.url, 'GET', '/api/v1/namespaces/default/pods?fieldSelector=spec.nope%3D1');
  assert.equal(parseJson<StatusBody>(pod.text).message, 'field label not supported: spec.nope');
});
