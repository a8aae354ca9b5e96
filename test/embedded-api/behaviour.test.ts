// Server behaviours beyond the fixtures: update semantics per resource type, watch lifetimes, the test
// handle's fault injection (closeWatches, stop/start), RBAC changes at run time, the request log, and the
// pod/event resources used by later features.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import {
  call,
  LEASES,
  openWatch,
  parseJson,
  type ObjectBody,
  type StatusBody,
  type WatchEventBody,
} from './helpers.ts';

let api: EmbeddedApi;
const UA = { userAgent: 'leaderhook-test/1.0' };
const CONFIGMAPS = '/api/v1/namespaces/default/configmaps';

before(async () => {
  api = await startEmbeddedApi({ watchHistory: 3, bookmarkIntervalMs: 50 });
});
after(() => api.close());

const post = (path: string, body: object) => call(api.url, 'POST', path, { ...UA, body: JSON.stringify(body) });
const put = (path: string, body: object) => call(api.url, 'PUT', path, { ...UA, body: JSON.stringify(body) });

test('PUT without resourceVersion: 422 for a Lease (AllowUnconditionalUpdate=false), accepted for a ConfigMap', async () => {
  assert.equal((await post(LEASES, { metadata: { name: 'uncond' }, spec: { holderIdentity: 'a' } })).status, 201);
  const res = await put(`${LEASES}/uncond`, { metadata: { name: 'uncond' }, spec: { holderIdentity: 'b' } });
  assert.equal(res.status, 422);
  const status = parseJson<StatusBody>(res.text);
  assert.equal(status.reason, 'Invalid');
  assert.equal(
    status.message,
    'leases.coordination.k8s.io "uncond" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
  );
  assert.deepEqual(status.details, {
    name: 'uncond',
    group: 'coordination.k8s.io',
    kind: 'leases',
    causes: [
      {
        reason: 'FieldValueInvalid',
        message: 'Invalid value: 0x0: must be specified for an update',
        field: 'metadata.resourceVersion',
      },
    ],
  });

  assert.equal((await post(CONFIGMAPS, { metadata: { name: 'uncond' }, data: { a: '1' } })).status, 201);
  const cm = await put(`${CONFIGMAPS}/uncond`, { metadata: { name: 'uncond' }, data: { a: '2' } });
  assert.equal(cm.status, 200);
  assert.equal(parseJson<ObjectBody>(cm.text).data.a, '2');
});

test('PUT to a missing object: a Lease is created (201), a ConfigMap is 404', async () => {
  const lease = await put(`${LEASES}/put-created`, {
    metadata: { name: 'put-created' },
    spec: { holderIdentity: 'a' },
  });
  assert.equal(lease.status, 201);
  const cm = await put(`${CONFIGMAPS}/put-missing`, { metadata: { name: 'put-missing' } });
  assert.equal(cm.status, 404);
  assert.equal(parseJson<StatusBody>(cm.text).message, 'configmaps "put-missing" not found');
});

test('MicroTime: offsets are normalised to UTC, anything but six fractional digits is a 400', async () => {
  const ok = await post(LEASES, {
    metadata: { name: 'offset' },
    spec: { renewTime: '2026-11-23T22:00:00.000001+01:00' },
  });
  assert.equal(ok.status, 201, ok.text);
  assert.equal(parseJson<ObjectBody>(ok.text).spec.renewTime, '2026-11-23T21:00:00.000001Z');
  for (const bad of [
    '2026-11-23T21:00:00Z',
    '2026-11-23T21:00:00.000Z',
    '2026-11-23T21:00:00.0000000Z',
    '2026-11-23 21:00:00.000000',
  ]) {
    const res = await post(LEASES, { metadata: { name: 'bad-time' }, spec: { acquireTime: bad } });
    assert.equal(res.status, 400, bad);
    assert.match(
      parseJson<StatusBody>(res.text).message,
      /^Lease in version "v1" cannot be handled as a Lease: v1\.Lease\.Spec: v1\.LeaseSpec\.AcquireTime: unmarshalerDecoder: parsing time/,
    );
  }
});

test('int32 fields beyond their range are a 400 as kube-apiserver decodes them (json-iterator, quirks included); the limit itself is accepted', async () => {
  const cases: Array<[string, object, RegExp]> = [
    [
      'transitions-over',
      { leaseTransitions: 2_147_483_648 },
      /v1\.LeaseSpec\.LeaseTransitions: ReadInt32: overflow: 2147483648/,
    ],
    [
      'duration-over',
      { leaseDurationSeconds: 3_000_000_000 },
      /v1\.LeaseSpec\.LeaseDurationSeconds: ReadInt32: overflow: 3000000000/,
    ],
    [
      'transitions-under',
      { leaseTransitions: -2_147_483_649 },
      /v1\.LeaseSpec\.LeaseTransitions: ReadInt32: overflow: 2147483649/,
    ],
  ];
  for (const [name, spec, message] of cases) {
    const res = await post(LEASES, { metadata: { name }, spec: { holderIdentity: 'a', ...spec } });
    assert.equal(res.status, 400, name);
    assert.match(parseJson<StatusBody>(res.text).message, message, name);
  }
  // json-iterator's uint32 read misses this wrap: kube-apiserver stores 5000000000 mod 2^32.
  const wrapped = await post(LEASES, {
    metadata: { name: 'duration-wrapped' },
    spec: { holderIdentity: 'a', leaseDurationSeconds: 5_000_000_000 },
  });
  assert.equal(wrapped.status, 201, wrapped.text);
  assert.equal(parseJson<ObjectBody>(wrapped.text).spec.leaseDurationSeconds, 705_032_704);
  const limit = await post(LEASES, {
    metadata: { name: 'at-the-limit' },
    spec: { holderIdentity: 'a', leaseDurationSeconds: 2_147_483_647, leaseTransitions: 2_147_483_647 },
  });
  assert.equal(limit.status, 201, limit.text);
  assert.equal(parseJson<ObjectBody>(limit.text).spec.leaseTransitions, 2_147_483_647);
});

test('an unchanged PUT writes nothing: same resourceVersion, no watch event', async () => {
  const created = parseJson<ObjectBody>(
    (await post(LEASES, { metadata: { name: 'noop' }, spec: { holderIdentity: 'a' } })).text,
  );
  const same = await put(`${LEASES}/noop`, created);
  assert.equal(same.status, 200);
  assert.equal(parseJson<ObjectBody>(same.text).metadata.resourceVersion, created.metadata.resourceVersion);
});

test('watch: current objects as ADDED without a resourceVersion, then changes; timeoutSeconds ends the stream', async () => {
  await post(CONFIGMAPS, { metadata: { name: 'w1', labels: { app: 'x' } } });
  const w = await openWatch(api.url, `${CONFIGMAPS}?watch=true&labelSelector=app%3Dx&timeoutSeconds=1`, UA);
  const [first] = await w.waitForLines(1);
  assert.equal(parseJson<WatchEventBody>(first!).type, 'ADDED');
  assert.equal(parseJson<WatchEventBody>(first!).object.metadata.name, 'w1');
  await put(`${CONFIGMAPS}/w1`, { metadata: { name: 'w1', labels: { app: 'y' } } });
  const [, second] = await w.waitForLines(2);
  assert.equal(
    parseJson<WatchEventBody>(second!).type,
    'DELETED',
    'leaving the label selector is a DELETED for this watch',
  );
  await w.ended;
  assert.equal(w.lines.length, 2);
});

test('allowWatchBookmarks: BOOKMARK events carry the current resourceVersion', async () => {
  const w = await openWatch(
    api.url,
    `${LEASES}?watch=1&allowWatchBookmarks=true&resourceVersion=${(await call(api.url, 'GET', LEASES, UA)).text.match(/"resourceVersion":"(\d+)"/)![1]}`,
    UA,
  );
  const [line] = await w.waitForLines(1);
  w.abort();
  const event = parseJson<WatchEventBody>(line!);
  assert.equal(event.type, 'BOOKMARK');
  assert.equal(event.object.kind, 'Lease');
  assert.match(event.object.metadata.resourceVersion, /^\d+$/);
});

test('closeWatches ends every open watch; stop/start keeps objects and revisions but not the watch history', async () => {
  const created = parseJson<ObjectBody>(
    (await post(LEASES, { metadata: { name: 'restart' }, spec: { holderIdentity: 'a' } })).text,
  );
  const w1 = await openWatch(api.url, `${LEASES}?watch=1&resourceVersion=${created.metadata.resourceVersion}`, UA);
  const w2 = await openWatch(api.url, `${CONFIGMAPS}?watch=1`, UA);
  assert.ok(api.openWatches >= 2);
  api.closeWatches();
  await Promise.all([w1.ended, w2.ended]);
  assert.equal(api.openWatches, 0);

  // One more write, so that `created`'s revision is older than the revision the restarted server lists at.
  const before = parseJson<ObjectBody>(
    (await put(`${LEASES}/restart`, { ...created, spec: { holderIdentity: 'b' } })).text,
  );
  const port = api.port;
  await api.stop();
  await assert.rejects(fetch(`${api.url}${LEASES}/restart`));
  await api.start();
  assert.equal(api.port, port);
  const read = await call(api.url, 'GET', `${LEASES}/restart`, UA);
  assert.equal(read.status, 200);
  assert.equal(parseJson<ObjectBody>(read.text).metadata.resourceVersion, before.metadata.resourceVersion);
  const next = await put(`${LEASES}/restart`, { ...parseJson<ObjectBody>(read.text), spec: { holderIdentity: 'c' } });
  assert.ok(
    Number(parseJson<ObjectBody>(next.text).metadata.resourceVersion) > Number(before.metadata.resourceVersion),
  );

  // Resuming from the last revision before the restart is fine (the rebuilt cache starts there) ...
  const fromLast = await openWatch(api.url, `${LEASES}?watch=1&resourceVersion=${before.metadata.resourceVersion}`, UA);
  const [modified] = await fromLast.waitForLines(1);
  fromLast.abort();
  assert.equal(parseJson<WatchEventBody>(modified!).type, 'MODIFIED');
  assert.equal(parseJson<WatchEventBody>(modified!).object.spec.holderIdentity, 'c');
  // ... but anything older is gone.

  const resumed = await openWatch(api.url, `${LEASES}?watch=1&resourceVersion=${created.metadata.resourceVersion}`, UA);
  await resumed.ended;
  assert.equal(resumed.lines.length, 1);
  const error = parseJson<WatchEventBody<StatusBody>>(resumed.lines[0]!);
  assert.equal(error.type, 'ERROR');
  assert.equal(error.object.code, 410);
  assert.equal(error.object.reason, 'Expired');
});

test('tokens: 401 without a valid token, 403 messages for named and unnamed requests, RBAC changed at run time', async () => {
  const secured = await startEmbeddedApi({
    tokens: { t: { user: 'system:serviceaccount:default:lh', allowed: () => false } },
  });
  try {
    assert.equal((await call(secured.url, 'GET', `${LEASES}/x`)).status, 401);
    const list = await call(secured.url, 'GET', LEASES, { token: 't' });
    assert.equal(list.status, 403);
    assert.equal(
      parseJson<StatusBody>(list.text).message,
      'leases.coordination.k8s.io is forbidden: User "system:serviceaccount:default:lh" cannot list resource "leases" in API group "coordination.k8s.io" in the namespace "default"',
    );
    const cm = await call(secured.url, 'GET', `${CONFIGMAPS}/x`, { token: 't' });
    assert.equal(
      parseJson<StatusBody>(cm.text).message,
      'configmaps "x" is forbidden: User "system:serviceaccount:default:lh" cannot get resource "configmaps" in API group "" in the namespace "default"',
    );
    assert.deepEqual(parseJson<StatusBody>(cm.text).details, { name: 'x', kind: 'configmaps' });
    const watch = await call(secured.url, 'GET', `${LEASES}?watch=1&fieldSelector=metadata.name%3Dfx`, { token: 't' });
    assert.match(
      parseJson<StatusBody>(watch.text).message,
      /^leases\.coordination\.k8s\.io "fx" is forbidden: User .* cannot watch resource "leases"/,
    );

    const calls: Array<[string, string, string, string | undefined]> = [];
    secured.setAllowed('t', (verb, resource, namespace, name) => {
      calls.push([verb, resource, namespace, name]);
      return true;
    });
    assert.equal((await call(secured.url, 'GET', `${LEASES}/x`, { token: 't' })).status, 404);
    assert.deepEqual(calls, [['get', 'leases', 'default', 'x']]);
  } finally {
    await secured.close();
  }
});

test('the request log records verb, resource, name and User-Agent', async () => {
  api.clearRequests();
  await call(api.url, 'GET', `${LEASES}/logged`, { userAgent: 'follower/1' });
  await call(api.url, 'GET', `${LEASES}?fieldSelector=metadata.name%3Dlogged`, { userAgent: 'follower/1' });
  assert.deepEqual(
    api.requests.map((r) => [r.verb, r.resource, r.namespace, r.name, r.userAgent]),
    [
      ['get', 'leases', 'default', 'logged', 'follower/1'],
      ['list', 'leases', 'default', 'logged', 'follower/1'],
    ],
  );
});

test('pods: labels patched with merge and strategic merge patches; DELETE returns the pod', async () => {
  const pods = '/api/v1/namespaces/default/pods';
  assert.equal(
    (
      await post(pods, {
        metadata: { name: 'p1', labels: { app: 'a' } },
        spec: { containers: [{ name: 'c', image: 'x' }] },
      })
    ).status,
    201,
  );
  const merge = await call(api.url, 'PATCH', `${pods}/p1`, {
    ...UA,
    contentType: 'application/merge-patch+json',
    body: JSON.stringify({ metadata: { labels: { leader: 'true' } } }),
  });
  assert.equal(merge.status, 200, merge.text);
  assert.deepEqual(parseJson<ObjectBody>(merge.text).metadata.labels, { app: 'a', leader: 'true' });
  const smp = await call(api.url, 'PATCH', `${pods}/p1`, {
    ...UA,
    contentType: 'application/strategic-merge-patch+json',
    body: JSON.stringify({ metadata: { labels: { leader: null } } }),
  });
  assert.deepEqual(parseJson<ObjectBody>(smp.text).metadata.labels, { app: 'a' });
  const unsupported = await call(api.url, 'PATCH', `${pods}/p1`, {
    ...UA,
    contentType: 'application/json',
    body: '{}',
  });
  assert.equal(unsupported.status, 415);
  const deleted = await call(api.url, 'DELETE', `${pods}/p1`, UA);
  assert.equal(parseJson<ObjectBody>(deleted.text).kind, 'Pod');
  assert.equal((await call(api.url, 'GET', `${pods}/p1`, UA)).status, 404);
});

test('events: events.k8s.io/v1 and core v1 share one store; v1 validation applies', async () => {
  const ev = {
    metadata: { name: 'e1' },
    eventTime: '2026-11-23T21:00:00.000000Z',
    reportingController: 'leaderhook.io/elector',
    reportingInstance: 'r1',
    action: 'Elect',
    reason: 'LeaderElection',
    type: 'Normal',
    note: 'r1 became leader',
    regarding: { kind: 'Lease', namespace: 'default', name: 'fx' },
  };
  const created = await post('/apis/events.k8s.io/v1/namespaces/default/events', ev);
  assert.equal(created.status, 201, created.text);
  const core = parseJson<{ message: string; reportingComponent: string; involvedObject: { name: string } }>(
    (await call(api.url, 'GET', '/api/v1/namespaces/default/events/e1', UA)).text,
  );
  assert.equal(core.message, 'r1 became leader');
  assert.equal(core.reportingComponent, 'leaderhook.io/elector');
  assert.equal(core.involvedObject.name, 'fx');
  const invalid = await post('/apis/events.k8s.io/v1/namespaces/default/events', { metadata: { name: 'e2' } });
  assert.equal(invalid.status, 422);
  assert.match(
    parseJson<StatusBody>(invalid.text).message,
    /^Event\.events\.k8s\.io "e2" is invalid: \[eventTime: Required value/,
  );
});
