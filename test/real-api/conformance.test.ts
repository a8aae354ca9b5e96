/**
 * The embedded Lease API against a real kube-apiserver (scripts/kube-up): one request sequence — create, create
 * again, get, update with the current / a stale / no resourceVersion, a bad MicroTime, get missing, PUT of a
 * missing object, list, a watch that sees a PUT and a DELETE, delete, 401, 403, the legacy lock kinds, event
 * field selectors — is sent to both, compact and pretty-printed, and every answer must match: status code,
 * `Status` reason, message and details, and the object bytes after replacing only the values a server generates
 * (uid, resourceVersion, creation and managedFields times). Any difference is a bug in the embedded API.
 * Skipped unless LEADERHOOK_REAL_API is set.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import { raw, rawWatch, type RawOptions, type RawTarget } from '../support/raw-kube.ts';

const enabled = Boolean(process.env.LEADERHOOK_REAL_API);
const dir = process.env.LEADERHOOK_KUBE_DIR ?? '/tmp/leaderhook-kube';
const namespace = process.env.LEADERHOOK_KUBE_NAMESPACE ?? 'leaderhook-test';
const run = Date.now().toString(36);

interface Server {
  label: string;
  target: RawTarget;
  admin: string;
  nobody: string;
}

interface Step {
  step: string;
  status: number;
  body: string;
}

/** Replaces the values a server generates; everything else must match byte for byte. */
function normalise(text: string): string {
  return (
    text
      .replace(/("uid": ?)"[^"]*"/g, '$1"<uid>"')
      .replace(/("resourceVersion": ?)"\d+"/g, '$1"<rv>"')
      .replace(/("creationTimestamp": ?)"[^"]*"/g, '$1"<time>"')
      .replace(/("time": ?)"[^"]*"/g, '$1"<time>"')
      .replace(/("(?:firstTimestamp|lastTimestamp|eventTime)": ?)"[^"]*"/g, '$1"<time>"')
      // Ages in server-printed Table cells (kubectl's AGE, LAST SEEN) depend on when each server was asked.
      .replace(/"\d+[smhdy](?:\d+[smhd])?"/g, '"<age>"')
      .trimEnd()
  );
}

const LEASES = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
const CONFIGMAPS = `/api/v1/namespaces/${namespace}/configmaps`;
const ENDPOINTS = `/api/v1/namespaces/${namespace}/endpoints`;
const EVENTS = `/api/v1/namespaces/${namespace}/events`;
const EVENTS_V1 = `/apis/events.k8s.io/v1/namespaces/${namespace}/events`;
const T0 = '2026-11-23T21:00:00.000000Z';
/** What `kubectl get` sends: a Table (server-side printing) if the server offers one, else the object. */
const TABLE =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
const T1 = '2026-11-23T21:01:00.000000Z';

/** The sequence, as one server answers it. `variant` changes the names so both variants can run on one server. */
async function sequence(server: Server, variant: 'compact' | 'pretty'): Promise<Step[]> {
  const steps: Step[] = [];
  const opts: RawOptions = {
    token: server.admin,
    userAgent: variant === 'pretty' ? 'curl/7.88.1' : 'leaderhook-conformance/1',
  };
  const name = `conf-${variant}-${run}`;
  const label = `conformance=${run}-${variant}`;
  const lease = (spec: object, meta: object = {}) =>
    JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, labels: { conformance: `${run}-${variant}` }, ...meta },
      spec,
    });
  const record = async (step: string, method: string, path: string, extra: RawOptions = {}) => {
    const answer = await raw(server.target, method, path, { ...opts, ...extra });
    steps.push({ step, status: answer.status, body: normalise(answer.text) });
    return answer;
  };
  /** A request whose answer is not compared (it sets up what a compared request reads). */
  const prepare = (method: string, path: string, extra: RawOptions = {}) =>
    raw(server.target, method, path, { ...opts, ...extra });
  const rvOf = (text: string): string =>
    (JSON.parse(text) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;

  await record('get missing', 'GET', `${LEASES}/${name}`);
  const created = await record('create', 'POST', LEASES, {
    body: lease({ holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: T0, renewTime: T0, leaseTransitions: 0 }),
  });
  const createdRv = rvOf(created.text);
  await record('create again', 'POST', LEASES, { body: lease({ holderIdentity: 'a', leaseDurationSeconds: 15 }) });
  await record('get', 'GET', `${LEASES}/${name}`);
  await record('table get', 'GET', `${LEASES}/${name}`, { accept: TABLE });
  await record('table get, whole object', 'GET', `${LEASES}/${name}?includeObject=Object`, { accept: TABLE });
  await record('table get, no object', 'GET', `${LEASES}/${name}?includeObject=None`, { accept: TABLE });
  await record('table get, v1beta1', 'GET', `${LEASES}/${name}`, {
    accept: 'application/json;as=Table;v=v1beta1;g=meta.k8s.io',
  });
  await record('table list by label', 'GET', `${LEASES}?labelSelector=${encodeURIComponent(label)}`, { accept: TABLE });
  await record('table get missing', 'GET', `${LEASES}/${name}-nope`, { accept: TABLE });
  const tableWatch = await rawWatch(
    server.target,
    `${LEASES}?watch=1&fieldSelector=metadata.name%3D${name}&resourceVersion=${createdRv}`,
    { ...opts, accept: TABLE },
  );

  const watch = await rawWatch(
    server.target,
    `${LEASES}?watch=1&fieldSelector=metadata.name%3D${name}&resourceVersion=${createdRv}`,
    opts,
  );
  steps.push({ step: 'watch status', status: watch.status, body: '' });

  const spec1 = { holderIdentity: 'b', leaseDurationSeconds: 15, acquireTime: T1, renewTime: T1, leaseTransitions: 1 };
  const updated = await record('update with the current resourceVersion', 'PUT', `${LEASES}/${name}`, {
    body: lease(spec1, { resourceVersion: createdRv }),
  });
  const updatedRv = rvOf(updated.text);
  await record('update with a stale resourceVersion', 'PUT', `${LEASES}/${name}`, {
    body: lease(spec1, { resourceVersion: createdRv }),
  });
  await record('update without resourceVersion', 'PUT', `${LEASES}/${name}`, {
    body: lease({ ...spec1, holderIdentity: 'c' }),
  });
  await record('update with a bad MicroTime', 'PUT', `${LEASES}/${name}`, {
    body: `{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"${name}","resourceVersion":"${updatedRv}"},"spec":{"holderIdentity":"b","renewTime":"yesterday"}}`,
  });
  await record('update with a second-precision time', 'PUT', `${LEASES}/${name}`, {
    body: lease({ ...spec1, renewTime: '2026-11-23T21:02:00Z' }, { resourceVersion: updatedRv }),
  });
  // int32 fields beyond their range: json-iterator's decode error, a 400 (a client must never write these).
  await record('update with leaseTransitions beyond int32', 'PUT', `${LEASES}/${name}`, {
    body: lease({ ...spec1, leaseTransitions: 2_147_483_648 }, { resourceVersion: updatedRv }),
  });
  await record('update with leaseDurationSeconds beyond int32', 'PUT', `${LEASES}/${name}`, {
    body: lease({ ...spec1, leaseDurationSeconds: 3_000_000_000 }, { resourceVersion: updatedRv }),
  });
  await record('update with leaseDurationSeconds beyond uint32', 'PUT', `${LEASES}/${name}`, {
    body: lease({ ...spec1, leaseDurationSeconds: 5_000_000_000 }, { resourceVersion: updatedRv }),
  });
  await record('update with leaseTransitions below int32', 'PUT', `${LEASES}/${name}`, {
    body: lease({ ...spec1, leaseTransitions: -2_147_483_649 }, { resourceVersion: updatedRv }),
  });
  await record('update with the same bytes (no new revision)', 'PUT', `${LEASES}/${name}`, {
    body: lease({ ...spec1, renewTime: '2026-11-23T21:02:00Z' }, {}),
  });
  await record('update of a missing object (create on update)', 'PUT', `${LEASES}/${name}-missing`, {
    body: JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: `${name}-missing`, labels: { conformance: `${run}-${variant}` } },
      spec: { holderIdentity: 'z' },
    }),
  });
  await record('update of a missing object with a resourceVersion', 'PUT', `${LEASES}/${name}-missing2`, {
    body: JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: `${name}-missing2`, resourceVersion: '12' },
      spec: { holderIdentity: 'z' },
    }),
  });
  await record('name mismatch', 'PUT', `${LEASES}/${name}`, {
    body: lease(spec1, { name: 'other', resourceVersion: updatedRv }),
  });
  await record('list by label', 'GET', `${LEASES}?labelSelector=${encodeURIComponent(label)}`);
  await record('list by name', 'GET', `${LEASES}?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`);
  await record('list with an unsupported field', 'GET', `${LEASES}?fieldSelector=spec.holderIdentity%3Da`);
  await record('delete', 'DELETE', `${LEASES}/${name}`);
  await record('delete missing', 'DELETE', `${LEASES}/${name}`);
  await record('delete the created-on-update lease', 'DELETE', `${LEASES}/${name}-missing`);

  const events = await watch.waitForLines(2).catch((error: Error) => [error.message]);
  watch.abort();
  for (const [index, line] of events.entries())
    steps.push({ step: `watch event ${index + 1}`, status: 0, body: normalise(line) });
  // kubectl get -w: every event a one-row Table, the column definitions on the first only.
  const tableEvents = await tableWatch.waitForLines(3).catch((error: Error) => [error.message]);
  tableWatch.abort();
  for (const [index, line] of tableEvents.entries())
    steps.push({ step: `table watch event ${index + 1}`, status: 0, body: normalise(line) });

  await record('401', 'GET', `${LEASES}/${name}`, { token: 'not-a-token' });
  await record('403 get', 'GET', `${LEASES}/${name}`, { token: server.nobody });
  await record('403 list', 'GET', LEASES, { token: server.nobody });
  await record('403 watch by name', 'GET', `${LEASES}?watch=1&fieldSelector=metadata.name%3D${name}`, {
    token: server.nobody,
  });
  await record('403 update', 'PUT', `${LEASES}/${name}`, { token: server.nobody, body: lease(spec1) });
  await record('403 create', 'POST', LEASES, { token: server.nobody, body: lease(spec1) });

  // The legacy annotation locks.
  const cm = `conf-cm-${variant}-${run}`;
  const annotation = (holder: string) => ({
    'control-plane.alpha.kubernetes.io/leader': JSON.stringify({
      holderIdentity: holder,
      leaseDurationSeconds: 15,
      acquireTime: '2026-11-23T21:00:00Z',
      renewTime: '2026-11-23T21:00:00Z',
      leaderTransitions: 0,
    }),
  });
  await record('configmap create', 'POST', CONFIGMAPS, {
    body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: cm, annotations: annotation('a') } }),
  });
  await record('configmap update without resourceVersion', 'PUT', `${CONFIGMAPS}/${cm}`, {
    body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: cm, annotations: annotation('b') } }),
  });
  await record('configmap update with a stale resourceVersion', 'PUT', `${CONFIGMAPS}/${cm}`, {
    body: JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: cm, resourceVersion: '1', annotations: annotation('b') },
    }),
  });
  await record('configmap list with an unsupported field', 'GET', `${CONFIGMAPS}?fieldSelector=data.x%3D1`);
  await record('configmap list by name', 'GET', `${CONFIGMAPS}?fieldSelector=metadata.name%3D${cm}`);
  await record('configmap table', 'GET', `${CONFIGMAPS}?fieldSelector=metadata.name%3D${cm}`, { accept: TABLE });
  await record('configmap delete', 'DELETE', `${CONFIGMAPS}/${cm}`);
  const ep = `conf-ep-${variant}-${run}`;
  await record('endpoints create', 'POST', ENDPOINTS, {
    body: JSON.stringify({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: ep, annotations: annotation('a') } }),
  });
  await record('endpoints update without resourceVersion', 'PUT', `${ENDPOINTS}/${ep}`, {
    body: JSON.stringify({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: ep, annotations: annotation('b') } }),
  });
  await record('endpoints list with an unsupported field', 'GET', `${ENDPOINTS}?fieldSelector=subsets%3D1`);
  await record('endpoints table, no subsets', 'GET', `${ENDPOINTS}?fieldSelector=metadata.name%3D${ep}`, {
    accept: TABLE,
  });
  // The embedded API does not default ports' protocol, pods' spec or every managed field as the real server does;
  // these tables are compared by their cells (includeObject=None), what kubectl prints.
  await prepare('PUT', `${ENDPOINTS}/${ep}`, {
    body: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: ep },
      subsets: [
        {
          addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }],
          ports: [
            { name: 'http', port: 80 },
            { name: 'https', port: 443 },
          ],
        },
        { addresses: [{ ip: 'fd00::1' }] },
      ],
    }),
  });
  await record('endpoints table', 'GET', `${ENDPOINTS}?fieldSelector=metadata.name%3D${ep}&includeObject=None`, {
    accept: TABLE,
  });
  await record('endpoints delete', 'DELETE', `${ENDPOINTS}/${ep}`);
  const pod = `conf-pod-${variant}-${run}`;
  await prepare('POST', `/api/v1/namespaces/${namespace}/pods`, {
    body: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod },
      spec: {
        containers: [
          { name: 'a', image: 'a' },
          { name: 'b', image: 'b' },
        ],
      },
    }),
  });
  await record('pod table', 'GET', `/api/v1/namespaces/${namespace}/pods/${pod}?includeObject=None`, {
    accept: TABLE,
  });
  await prepare('DELETE', `/api/v1/namespaces/${namespace}/pods/${pod}?gracePeriodSeconds=0`);
  await record(
    'pods by a field the real server selects on',
    'GET',
    `/api/v1/namespaces/${namespace}/pods?fieldSelector=status.phase%3DNope,spec.nodeName%3Dnone`,
  );
  await record(
    'pods by an unsupported field',
    'GET',
    `/api/v1/namespaces/${namespace}/pods?fieldSelector=spec.nope%3D1`,
  );

  // Events and their field selectors (kubectl get events --field-selector involvedObject.name=...).
  const ev = `conf-ev-${variant}-${run}`;
  await record('event create', 'POST', EVENTS, {
    body: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: ev },
      involvedObject: { kind: 'Lease', apiVersion: 'coordination.k8s.io/v1', namespace, name, uid: 'fixed-uid' },
      reason: 'LeaderElection',
      message: 'a became leader',
      type: 'Normal',
      count: 1,
      source: { component: 'leaderhook' },
      firstTimestamp: '2026-11-23T21:00:00Z',
      lastTimestamp: '2026-11-23T21:00:00Z',
      reportingComponent: 'leaderhook',
      reportingInstance: 'a',
    }),
  });
  for (const selector of [
    `involvedObject.name=${name}`,
    `involvedObject.kind=Lease,involvedObject.name=${name}`,
    `involvedObject.name=${name},reason=LeaderElection,type=Normal,source=leaderhook`,
    `involvedObject.namespace=${namespace},involvedObject.name=${name},involvedObject.uid=fixed-uid,involvedObject.apiVersion=coordination.k8s.io/v1`,
    `involvedObject.name=${name},involvedObject.resourceVersion=,involvedObject.fieldPath=,reportingComponent=leaderhook`,
    `involvedObject.name=${name},reason!=LeaderElection`,
    `involvedObject.name==${name}`,
    `metadata.name=${ev}`,
    `involvedObject.name=${name},spec.nope=1`,
    `involvedObject.name=${name},message=x`,
  ]) {
    await record(`events ?fieldSelector=${selector}`, 'GET', `${EVENTS}?fieldSelector=${encodeURIComponent(selector)}`);
  }
  for (const selector of [
    `regarding.name=${name}`,
    `regarding.kind=Lease,regarding.name=${name},reason=LeaderElection,type=Normal`,
    `reportingController=leaderhook,regarding.name=${name}`,
    `involvedObject.name=${name}`,
  ]) {
    await record(
      `events.k8s.io ?fieldSelector=${selector}`,
      'GET',
      `${EVENTS_V1}?fieldSelector=${encodeURIComponent(selector)}`,
    );
  }
  await prepare('POST', EVENTS_V1, {
    body: JSON.stringify({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: `${ev}-v1` },
      regarding: { kind: 'Lease', apiVersion: 'coordination.k8s.io/v1', namespace, name, fieldPath: 'spec.x' },
      reason: 'Other',
      note: '  trimmed  ',
      type: 'Warning',
      eventTime: '2026-11-23T21:00:00.000000Z',
      reportingController: 'rc',
      reportingInstance: 'ri',
      action: 'Act',
    }),
  });
  await record(
    'events table',
    'GET',
    `${EVENTS}?includeObject=None&fieldSelector=${encodeURIComponent(`involvedObject.name=${name}`)}`,
    {
      accept: TABLE,
    },
  );
  await record(
    'events.k8s.io table',
    'GET',
    `${EVENTS_V1}?includeObject=None&fieldSelector=${encodeURIComponent(`regarding.name=${name}`)}`,
    { accept: TABLE },
  );
  await prepare('DELETE', `${EVENTS_V1}/${ev}-v1`);
  await record('event delete', 'DELETE', `${EVENTS}/${ev}`);
  return steps;
}

/** What kubectl 1.32 sends to discovery: aggregated discovery first, which a 1.20 server ignores. */
const AGGREGATED_OR_JSON =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';

const DISCOVERY_PATHS = [
  '/api',
  '/apis',
  '/api/v1',
  '/apis/coordination.k8s.io',
  '/apis/coordination.k8s.io/v1',
  '/apis/events.k8s.io',
  '/apis/events.k8s.io/v1',
  '/version',
  '/api/v2',
  '/apis/coordination.k8s.io/v2',
];

interface Discovery {
  groups?: Array<{ name: string; versions: Array<{ version: string }> }>;
  versions?: Array<{ version: string }> | string[];
  resources?: Array<{ name: string }>;
  serverAddressByClientCIDRs?: Array<{ serverAddress: string }>;
  buildDate?: string;
  goVersion?: string;
  [key: string]: unknown;
}

/**
 * The real server's discovery document reduced to the groups, versions and resources of the embedded one (same
 * order as the real server's), with what differs by build or address set to the embedded API's values.
 */
function restrictTo(theirs: Discovery, ours: Discovery): Discovery {
  const copy = structuredClone(theirs);
  if (copy.groups && ours.groups) {
    const served = new Map(ours.groups.map((group) => [group.name, new Set(group.versions.map((v) => v.version))]));
    copy.groups = copy.groups
      .filter((group) => served.has(group.name))
      .map((group) => ({ ...group, versions: group.versions.filter((v) => served.get(group.name)!.has(v.version)) }));
  }
  if (copy.versions && ours.versions && typeof copy.versions[0] === 'object') {
    const served = new Set((ours.versions as Array<{ version: string }>).map((v) => v.version));
    copy.versions = (copy.versions as Array<{ version: string }>).filter((v) => served.has(v.version));
  }
  if (copy.resources && ours.resources) {
    const served = new Set(ours.resources.map((resource) => resource.name));
    copy.resources = copy.resources.filter((resource) => served.has(resource.name));
  }
  if (copy.serverAddressByClientCIDRs && ours.serverAddressByClientCIDRs)
    copy.serverAddressByClientCIDRs = copy.serverAddressByClientCIDRs.map((entry, index) => ({
      ...entry,
      serverAddress: ours.serverAddressByClientCIDRs![index]?.serverAddress ?? '',
    }));
  // /version: the build's date and Go version are the one thing a rebuild of the same release changes.
  if (copy.buildDate !== undefined) copy.buildDate = ours.buildDate;
  if (copy.goVersion !== undefined) copy.goVersion = ours.goVersion;
  return copy;
}

function compare(real: Step[], embedded: Step[]): string[] {
  const differences: string[] = [];
  const count = Math.max(real.length, embedded.length);
  for (let index = 0; index < count; index++) {
    const r = real[index];
    const e = embedded[index];
    if (!r || !e || r.step !== e.step) {
      differences.push(`step ${index}: ${r?.step} vs ${e?.step}`);
      continue;
    }
    if (r.status !== e.status || r.body !== e.body) {
      differences.push(`${r.step}:\n  real     ${r.status} ${r.body}\n  embedded ${e.status} ${e.body}`);
    }
  }
  return differences;
}

describe(
  'the embedded API answers as kube-apiserver 1.20.2 does',
  { skip: !enabled && 'set LEADERHOOK_REAL_API=1 (after scripts/kube-up)' },
  () => {
    let real: Server;
    let embedded: Server;
    let api: EmbeddedApi;

    before(async () => {
      real = {
        label: 'kube-apiserver',
        target: {
          base: process.env.LEADERHOOK_KUBE_SERVER ?? 'https://127.0.0.1:6443',
          ca: readFileSync(process.env.LEADERHOOK_KUBE_CA ?? `${dir}/pki/ca.crt`),
        },
        admin: process.env.LEADERHOOK_KUBE_ADMIN_TOKEN ?? '',
        nobody: process.env.LEADERHOOK_KUBE_NOBODY_TOKEN ?? '',
      };
      assert.ok(
        real.admin && real.nobody,
        'LEADERHOOK_KUBE_ADMIN_TOKEN and LEADERHOOK_KUBE_NOBODY_TOKEN (eval "$(scripts/kube-up env)")',
      );
      api = await startEmbeddedApi({
        tokens: { admin: { user: 'admin' }, nobody: { user: 'nobody', allowed: () => false } },
      });
      embedded = { label: 'embedded', target: { base: api.url }, admin: 'admin', nobody: 'nobody' };
    });
    after(() => api?.close());

    it('discovery: /api, /apis and the resource lists kubectl reads are the real ones, for what the embedded API serves', async () => {
      const differences: string[] = [];
      for (const userAgent of ['kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07', 'curl/8.1.2']) {
        for (const path of DISCOVERY_PATHS) {
          const options = { token: real.admin, userAgent, accept: AGGREGATED_OR_JSON };
          const [theirs, ours] = await Promise.all([
            raw(real.target, 'GET', path, options),
            raw(embedded.target, 'GET', path, { ...options, token: embedded.admin }),
          ]);
          const label = `${path} (${userAgent.split('/')[0]})`;
          if (theirs.status !== ours.status || theirs.contentType !== ours.contentType) {
            differences.push(`${label}: ${theirs.status} ${theirs.contentType} vs ${ours.status} ${ours.contentType}`);
            continue;
          }
          if (theirs.status !== 200) {
            if (normalise(theirs.text) !== normalise(ours.text))
              differences.push(`${label}:\n  real     ${theirs.text}\n  embedded ${ours.text}`);
            continue;
          }
          // The real server serves many more groups, versions and resources: keep those the embedded API has.
          const expected = JSON.stringify(
            restrictTo(JSON.parse(theirs.text) as Discovery, JSON.parse(ours.text) as Discovery),
          );
          const actual = JSON.stringify(JSON.parse(ours.text));
          if (expected !== actual) differences.push(`${label}:\n  real     ${expected}\n  embedded ${actual}`);
          // Both indented, or both compact, as each server writes for this client.
          if (theirs.text.startsWith('{\n') !== ours.text.startsWith('{\n')) differences.push(`${label}: layout`);
        }
      }
      assert.deepEqual(differences, [], differences.join('\n'));
    });

    it('discovery: a nobody (authenticated, no RBAC rights) still reads discovery', async () => {
      for (const server of [real, embedded]) {
        const answer = await raw(server.target, 'GET', '/apis/coordination.k8s.io/v1', { token: server.nobody });
        assert.equal(answer.status, 200, server.label);
      }
    });

    for (const variant of ['compact', 'pretty'] as const) {
      it(`the same request sequence gives the same answers (${variant} JSON)`, async () => {
        const realSteps = await sequence(real, variant);
        const embeddedSteps = await sequence(embedded, variant);
        assert.ok(realSteps.length > 40);
        const differences = compare(realSteps, embeddedSteps);
        if (process.env.LEADERHOOK_CONFORMANCE_REPORT)
          writeFileSync(`${process.env.LEADERHOOK_CONFORMANCE_REPORT}.${variant}`, differences.join('\n'));
        assert.deepEqual(
          differences,
          [],
          `differences between kube-apiserver and the embedded API:\n${differences.join('\n')}`,
        );
      });
    }
  },
);
