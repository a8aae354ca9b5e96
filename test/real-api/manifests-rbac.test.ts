/**
 * manifests/ on a real kube-apiserver (scripts/kube-up): the overlay for clusters before Kubernetes 1.29
 * (overlays/classic-sidecar: the base with leaderhook as an ordinary container) is applied server-side as admin,
 * the base's native sidecar is shown refused by this 1.20 server, and the
 * ServiceAccount it creates, with a real token from the TokenRequest API, has every right the election needs and
 * nothing beyond: compared with a ServiceAccount bound to nothing, its rules differ by exactly the Role; direct
 * requests show watch narrowed by resourceNames through the metadata.name field selector; and a real leaderhook
 * process with that token wins the election.
 *
 * It uses a namespace of its own (not leaderhook-test, whose ServiceAccount other real-API tests bind extra Roles
 * to while they run), so "nothing beyond" is not disturbed by them. Skipped unless LEADERHOOK_REAL_API is set.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { build, setNamespace, type KubeObject } from '../support/kustomize.ts';
import { Replica, waitFor } from '../support/replica.ts';

const enabled = Boolean(process.env.LEADERHOOK_REAL_API);
const dir = process.env.LEADERHOOK_KUBE_DIR ?? '/tmp/leaderhook-kube';
const server = process.env.LEADERHOOK_KUBE_SERVER ?? 'https://127.0.0.1:6443';
const caFile = process.env.LEADERHOOK_KUBE_CA ?? `${dir}/pki/ca.crt`;
const adminKubeconfig = process.env.LEADERHOOK_KUBE_ADMIN_KUBECONFIG ?? `${dir}/admin.kubeconfig`;
const NS = 'leaderhook-manifests';
const MANIFESTS = fileURLToPath(new URL('../../manifests/', import.meta.url));

let ca: Buffer;
let adminToken: string;
let scratch: string;
const applied: KubeObject[] = [];
const tokens: Record<string, string> = {};

interface Answer<Body> {
  status: number;
  /** The JSON body, in the shape the caller expects of it (the text if it is not JSON; undefined for a watch). */
  body: Body;
}

/** One request to the API server; a watch is answered as soon as its status is known. */
function kube<Body = unknown>(
  method: string,
  path: string,
  token: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<Answer<Body>> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, server);
    const req = request(
      url,
      {
        method,
        ca,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': contentType }),
        },
      },
      (response) => {
        if (url.searchParams.get('watch') === 'true' && response.statusCode === 200) {
          response.destroy();
          resolve({ status: 200, body: undefined as Body });
          return;
        }
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: response.statusCode ?? 0, body: parsed as Body });
        });
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  });
}

const PLURALS: Record<string, string> = {
  ServiceAccount: 'serviceaccounts',
  Role: 'roles',
  RoleBinding: 'rolebindings',
  Deployment: 'deployments',
  PodDisruptionBudget: 'poddisruptionbudgets',
  ConfigMap: 'configmaps',
  Service: 'services',
  NetworkPolicy: 'networkpolicies',
};

function objectPath(object: KubeObject): string {
  const plural = PLURALS[object.kind];
  assert.ok(plural, `a path for ${object.kind}`);
  const prefix = object.apiVersion.includes('/') ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
  return `${prefix}/namespaces/${object.metadata.namespace}/${plural}/${object.metadata.name}`;
}

async function servedVersions(): Promise<Set<string>> {
  const served = new Set<string>((await kube<{ versions?: string[] }>('GET', '/api', adminToken)).body.versions ?? []);
  for (const group of (
    await kube<{ groups: Array<{ versions: Array<{ groupVersion: string }> }> }>('GET', '/apis', adminToken)
  ).body.groups) {
    for (const version of group.versions) served.add(version.groupVersion);
  }
  return served;
}

async function tokenFor(serviceAccount: string): Promise<string> {
  const answer = await kube<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${NS}/serviceaccounts/${serviceAccount}/token`,
    adminToken,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 3600 },
    },
  );
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body.status.token;
}

type RuleKey = string;
type ResourceRule = { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] };

/**
 * `kubectl auth can-i --list` for a token: the namespace's resource rules, one key per (group, resource, name, verb).
 */
async function rulesOf(token: string): Promise<Set<RuleKey>> {
  const answer = await kube<{ status: { incomplete: boolean; resourceRules: ResourceRule[] } }>(
    'POST',
    '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
    token,
    {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectRulesReview',
      spec: { namespace: NS },
    },
  );
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  assert.equal(answer.body.status.incomplete, false);
  const keys = new Set<RuleKey>();
  for (const rule of answer.body.status.resourceRules) {
    for (const group of rule.apiGroups) {
      for (const resource of rule.resources) {
        for (const name of rule.resourceNames?.length ? rule.resourceNames : ['*any*']) {
          for (const verb of rule.verbs) keys.add(`${group}/${resource}/${name}/${verb}`);
        }
      }
    }
  }
  return keys;
}

function kubectlAvailable(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe(
  'manifests/ on a real kube-apiserver: least-privilege RBAC',
  { skip: !enabled && 'set LEADERHOOK_REAL_API=1 (after scripts/kube-up start)' },
  () => {
    before(async () => {
      ca = readFileSync(caFile);
      adminToken = /token: (\S+)/.exec(readFileSync(adminKubeconfig, 'utf8'))![1]!;
      scratch = mkdtempSync(join(tmpdir(), 'leaderhook-rbac-'));
      const created = await kube('POST', '/api/v1/namespaces', adminToken, {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: NS },
      });
      assert.ok([201, 409].includes(created.status), JSON.stringify(created.body));
      // Left over from an earlier run: the lock and the Lease that the create check makes.
      for (const name of ['example', 'not-the-election'])
        await kube('DELETE', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${name}`, adminToken);
      // A ServiceAccount bound to nothing: the rules every ServiceAccount has anyway.
      await kube('POST', `/api/v1/namespaces/${NS}/serviceaccounts`, adminToken, {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'baseline' },
      });
    });

    after(async () => {
      for (const object of applied.reverse())
        await kube('DELETE', objectPath(object), adminToken).catch(() => undefined);
      for (const name of ['example', 'not-the-election'])
        await kube('DELETE', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${name}`, adminToken).catch(
          () => undefined,
        );
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    it('applies server-side as admin (what this 1.20 server serves), and rejects an unknown field', async (t) => {
      const objects = build(join(MANIFESTS, 'overlays', 'classic-sidecar'));
      setNamespace(objects, NS);
      const served = await servedVersions();
      for (const object of objects) {
        if (!served.has(object.apiVersion)) {
          t.diagnostic(
            `not applied: ${object.kind} ${object.metadata.name} (this kube-apiserver does not serve ${object.apiVersion})`,
          );
          continue;
        }
        const answer = await kube(
          'PATCH',
          `${objectPath(object)}?fieldManager=leaderhook-tests&force=true`,
          adminToken,
          object,
          'application/apply-patch+yaml',
        );
        assert.ok(
          [200, 201].includes(answer.status),
          `${object.kind} ${object.metadata.name}: ${answer.status} ${JSON.stringify(answer.body)}`,
        );
        applied.push(object);
      }
      assert.ok(
        applied.some((object) => object.kind === 'Role') && applied.some((object) => object.kind === 'Deployment'),
      );

      // Server-side apply checks the objects against the server's schema: a misspelt field is refused.
      type Deployment = KubeObject & { spec: { template: { spec: { containers: Array<Record<string, unknown>> } } } };
      const deployment = structuredClone(applied.find((object) => object.kind === 'Deployment')!) as Deployment;
      deployment.spec.template.spec.containers[1]!.securityContxt = { runAsNonRoot: true };
      const typo = await kube(
        'PATCH',
        `${objectPath(deployment)}?fieldManager=leaderhook-tests&force=true&dryRun=All`,
        adminToken,
        deployment,
        'application/apply-patch+yaml',
      );
      assert.ok(typo.status >= 400, `a misspelt field is rejected (got ${typo.status})`);
      assert.match(JSON.stringify(typo.body), /securityContxt/);

      // The base's native sidecar (an init container with restartPolicy) is a field this 1.20 server does not know:
      // why older clusters need the classic-sidecar overlay.
      const native = build(MANIFESTS).find((object) => object.kind === 'Deployment')!;
      setNamespace([native], NS);
      const refused = await kube(
        'PATCH',
        `${objectPath(native)}?fieldManager=leaderhook-tests&force=true&dryRun=All`,
        adminToken,
        native,
        'application/apply-patch+yaml',
      );
      assert.ok(refused.status >= 400, `the native sidecar is refused by 1.20 (got ${refused.status})`);
      assert.match(JSON.stringify(refused.body), /restartPolicy/);

      tokens.leaderhook = await tokenFor('leaderhook');
      tokens.baseline = await tokenFor('baseline');
    });

    it('the ServiceAccount has exactly the Role beyond what every ServiceAccount has', async () => {
      const mine = await rulesOf(tokens.leaderhook!);
      const baseline = await rulesOf(tokens.baseline!);
      const extra = [...mine].filter((key) => !baseline.has(key)).sort();
      assert.deepEqual(extra, [
        '/events/*any*/create',
        '/events/*any*/patch',
        'coordination.k8s.io/leases/*any*/create',
        'coordination.k8s.io/leases/example/get',
        'coordination.k8s.io/leases/example/update',
        'coordination.k8s.io/leases/example/watch',
      ]);
    });

    it('requests as the ServiceAccount: the one Lease only, watch only with its name as field selector', async () => {
      const token = tokens.leaderhook!;
      const leases = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;
      const status = async (method: string, path: string, body?: unknown, type?: string) =>
        (await kube(method, path, token, body, type)).status;
      const lease = (name: string) => ({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name },
        spec: {},
      });

      assert.equal(await status('GET', `${leases}/example`), 404, 'get the lock: allowed (not there yet)');
      assert.equal(await status('GET', `${leases}/someone-elses`), 403, 'get another Lease: forbidden');
      assert.equal(
        await status('GET', `${leases}?watch=true&fieldSelector=metadata.name%3Dexample`),
        200,
        'watch the lock by name: allowed',
      );
      assert.equal(await status('GET', `${leases}?watch=true`), 403, 'watch every Lease: forbidden');
      assert.equal(
        await status('GET', `${leases}?watch=true&fieldSelector=metadata.name%3Dsomeone-elses`),
        403,
        'watch another Lease: forbidden',
      );
      assert.equal(await status('GET', leases), 403, 'list: forbidden');
      assert.equal(
        await status('GET', `${leases}?fieldSelector=metadata.name%3Dexample`),
        403,
        'list even by name: forbidden (not granted)',
      );

      assert.equal(await status('POST', leases, lease('example')), 201, 'create the lock: allowed');
      const current = (await kube<Record<string, unknown>>('GET', `${leases}/example`, token)).body;
      assert.equal(
        await status('PUT', `${leases}/example`, { ...current, spec: { holderIdentity: 'probe' } }),
        200,
        'update the lock: allowed',
      );
      assert.equal(
        await status('PATCH', `${leases}/example`, { spec: { holderIdentity: 'x' } }, 'application/merge-patch+json'),
        403,
        'patch: forbidden',
      );
      assert.equal(await status('DELETE', `${leases}/example`), 403, 'delete: forbidden');
      // create cannot be narrowed by name (Kubernetes decides before the name is known): documented in role.yaml.
      assert.equal(
        await status('POST', leases, lease('not-the-election')),
        201,
        'create another Lease: allowed, as documented',
      );
      assert.equal(
        await status('PUT', `${leases}/not-the-election`, lease('not-the-election')),
        403,
        '… but never touch it afterwards',
      );

      assert.equal(await status('GET', `/api/v1/namespaces/${NS}/pods`), 403, 'pods: forbidden');
      assert.equal(await status('GET', `/api/v1/namespaces/${NS}/secrets`), 403, 'secrets: forbidden');
      assert.equal(await status('GET', `/api/v1/namespaces/${NS}/configmaps`), 403, 'configmaps: forbidden');
      assert.equal(
        await status('GET', `/api/v1/namespaces/default/endpoints/example`),
        403,
        'other namespaces: forbidden',
      );
      assert.equal(await kube('DELETE', `${leases}/example`, adminToken).then((answer) => answer.status), 200);
    });

    it('kubectl auth can-i --as the ServiceAccount agrees', (t) => {
      if (!kubectlAvailable()) {
        t.skip('kubectl is not installed: the same checks ran through the API above');
        return;
      }
      const as = `--as=system:serviceaccount:${NS}:leaderhook`;
      const canI = (...args: string[]) => {
        try {
          return execFileSync('kubectl', ['--kubeconfig', adminKubeconfig, 'auth', 'can-i', '-n', NS, as, ...args], {
            encoding: 'utf8',
          }).trim();
        } catch (error) {
          return ((error as { stdout?: string }).stdout ?? '').trim();
        }
      };
      for (const verb of ['get', 'watch', 'update', 'create'])
        assert.equal(canI(verb, 'leases.coordination.k8s.io/example'), 'yes', `${verb} leases/example`);
      for (const verb of ['list', 'patch', 'delete'])
        assert.equal(canI(verb, 'leases.coordination.k8s.io/example'), 'no', `${verb} leases/example`);
      for (const verb of ['get', 'watch', 'update'])
        assert.equal(canI(verb, 'leases.coordination.k8s.io/other'), 'no', `${verb} leases/other`);
      assert.equal(canI('create', 'events'), 'yes');
      assert.equal(canI('get', 'pods'), 'no');
      const list = canI('--list');
      const lines = list
        .split('\n')
        .filter((line) => /^(leases|events)/.test(line))
        .map((line) => line.replace(/\s+/g, ' ').trim())
        .sort();
      assert.deepEqual(lines, [
        'events [] [] [create patch]',
        'leases.coordination.k8s.io [] [] [create]',
        'leases.coordination.k8s.io [] [example] [get watch update]',
      ]);
    });

    it('a leaderhook process with only this ServiceAccount token wins the election and follows the lock', async () => {
      const kubeconfig = join(scratch, 'kubeconfig');
      writeFileSync(
        kubeconfig,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'real', cluster: { server, 'certificate-authority': caFile } }],
          users: [{ name: 'leaderhook', user: { token: tokens.leaderhook } }],
          contexts: [{ name: 'real', context: { cluster: 'real', user: 'leaderhook', namespace: NS } }],
          'current-context': 'real',
        }),
        { mode: 0o600 },
      );
      const timings = ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=500ms'];
      const a = await Replica.start({
        id: 'rbac-a',
        kubeconfig,
        election: 'example',
        args: [`--election-namespace=${NS}`, ...timings],
      });
      const b = await Replica.start({
        id: 'rbac-b',
        kubeconfig,
        election: 'example',
        args: [`--election-namespace=${NS}`, ...timings],
      });
      try {
        const leader = await waitFor(
          'a leader both agree on',
          async () => {
            const [va, vb] = await Promise.all([a.leader(), b.leader()]);
            return va?.leader && va.leader === vb?.leader ? va.leader : undefined;
          },
          30_000,
        );
        const [departing, staying] = leader === 'rbac-a' ? [a, b] : [b, a];
        departing.signal('SIGTERM');
        assert.equal(await departing.exited, 0);
        await waitFor('the other replica to take over', async () => (await staying.leader())?.isLeader, 15_000);
        // A refused request is logged at error (RBAC hint) or warn (retrying); matching the text instead caught
        // a random port such as 24033.
        const problems = [...a.logs, ...b.logs].filter((line) => line.level === 'warn' || line.level === 'error');
        assert.deepEqual(problems, [], 'no request was refused');
      } finally {
        await a.stop();
        await b.stop();
      }
    });
  },
);
