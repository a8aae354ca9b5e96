// A "cluster" the integration scenarios run against: the embedded Lease API or a real kube-apiserver
// (scripts/kube-up). Both give an admin and a replica identity (the manifests' ServiceAccount, subject to RBAC),
// a way to change that identity's rights, and the faults the scenarios inject.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { startEmbeddedApi, type EmbeddedApi, type Verb } from '../../embedded-api/server.ts';

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** What the election needs (the manifests' Role, widened to the legacy lock kinds). */
export const ELECTION_RULES: Rule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update'] },
  { apiGroups: [''], resources: ['configmaps', 'endpoints'], verbs: ['get', 'list', 'watch', 'create', 'update'] },
  { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
];

export interface Cluster {
  readonly name: string;
  readonly namespace: string;
  readonly adminKubeconfig: string;
  /** The replica identity: the ServiceAccount, with exactly the rules last granted. */
  readonly replicaKubeconfig: string;
  /** A token the server does not know. */
  readonly unknownTokenKubeconfig: string;
  readonly coordination: CoordinationV1Api;
  readonly core: CoreV1Api;
  /** Replaces the replica identity's rules in the namespace; effective when it resolves. */
  grant(rules: Rule[]): Promise<void>;
  /** kube-apiserver killed: connections reset, then refused. */
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  /** etcd stopped (embedded: the store paused): requests hang until the client gives up. */
  stopStore(): Promise<void>;
  startStore(): Promise<void>;
  /**
   * Makes the server end every watch cleanly about every `seconds` from now on; `undefined` stops it. Only the
   * embedded API can: kube-apiserver ends a watch at the client's `timeoutSeconds`, which leaderhook always sends
   * (5–10 minutes), so its --min-request-timeout no longer applies.
   */
  closeWatchesEvery?(seconds: number | undefined): Promise<void>;
  close(): Promise<void>;
}

const INTEGRATION_NAMESPACE = 'leaderhook-integration';
const SA_USER = 'system:serviceaccount:leaderhook-test:leaderhook';

function clients(kubeconfig: string) {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  return {
    coordination: config.makeApiClient(CoordinationV1Api),
    core: config.makeApiClient(CoreV1Api),
    rbac: config.makeApiClient(RbacAuthorizationV1Api),
    authorization: config.makeApiClient(AuthorizationV1Api),
  };
}

const scratch = (): string => mkdtempSync(join(tmpdir(), 'leaderhook-integration-'));

export async function embeddedCluster(): Promise<Cluster> {
  let rules: Rule[] = ELECTION_RULES;
  const namespace = INTEGRATION_NAMESPACE;
  const allowed = (verb: Verb, resource: string, ns: string): boolean =>
    ns === namespace && rules.some((rule) => rule.resources.includes(resource) && rule.verbs.includes(verb));
  const api: EmbeddedApi = await startEmbeddedApi({
    tokens: { admin: { user: 'admin' }, replica: { user: SA_USER, allowed } },
  });
  const dir = scratch();
  const write = async (file: string, token: string) => {
    const path = join(dir, file);
    await api.writeKubeconfig(path, { token, namespace });
    return path;
  };
  const adminKubeconfig = await write('admin.kubeconfig', 'admin');
  const replicaKubeconfig = await write('replica.kubeconfig', 'replica');
  const unknownTokenKubeconfig = await write('unknown.kubeconfig', 'not-a-token');
  const { coordination, core } = clients(adminKubeconfig);
  let closer: NodeJS.Timeout | undefined;
  return {
    name: 'embedded',
    namespace,
    adminKubeconfig,
    replicaKubeconfig,
    unknownTokenKubeconfig,
    coordination,
    core,
    api,
    grant: (next) => {
      rules = next;
      return Promise.resolve();
    },
    stopApiServer: () => api.stop(),
    startApiServer: () => api.start(),
    stopStore: () => {
      api.pauseStore();
      return Promise.resolve();
    },
    startStore: () => {
      api.resumeStore();
      return Promise.resolve();
    },
    closeWatchesEvery: (seconds) => {
      clearInterval(closer);
      closer = seconds === undefined ? undefined : setInterval(() => api.closeWatches(), seconds * 1000);
      return Promise.resolve();
    },
    close: async () => {
      clearInterval(closer);
      await api.close();
    },
  } as Cluster & { api: EmbeddedApi };
}

const KUBE_UP = fileURLToPath(new URL('../../scripts/kube-up', import.meta.url));

async function kubeUp(command: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  try {
    await promisify(execFile)(KUBE_UP, [command], { env: { ...process.env, ...env }, timeout: 180_000 });
  } catch (error) {
    const failure = error as Error & { stderr?: string };
    throw new Error(`scripts/kube-up ${command} failed: ${failure.message}\n${failure.stderr ?? ''}`, { cause: error });
  }
}

/** The real kube-apiserver of scripts/kube-up (already started; `scripts/kube-up env` exported). */
export async function realCluster(): Promise<Cluster> {
  const dir = process.env.LEADERHOOK_KUBE_DIR ?? '/tmp/leaderhook-kube';
  const adminKubeconfig = process.env.LEADERHOOK_KUBE_ADMIN_KUBECONFIG ?? `${dir}/admin.kubeconfig`;
  const saKubeconfig = process.env.LEADERHOOK_KUBE_SA_KUBECONFIG ?? `${dir}/leaderhook.kubeconfig`;
  const saNamespace = process.env.LEADERHOOK_KUBE_NAMESPACE ?? 'leaderhook-test';
  const saName = process.env.LEADERHOOK_KUBE_SA ?? 'leaderhook';
  const namespace = INTEGRATION_NAMESPACE;
  const scratchDir = scratch();
  const unknownTokenKubeconfig = join(scratchDir, 'unknown.kubeconfig');
  writeFileSync(unknownTokenKubeconfig, readFileSync(saKubeconfig, 'utf8').replace(/token: .*/, 'token: not-a-token'), {
    mode: 0o600,
  });
  const { coordination, core, rbac, authorization } = clients(adminKubeconfig);

  await core.createNamespace({ body: { metadata: { name: namespace } } }).catch((error: { code?: number }) => {
    if (error.code !== 409) throw error;
  });
  const role = 'leaderhook-integration';
  await rbac.deleteNamespacedRole({ name: role, namespace }).catch(() => undefined);
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name: role }, rules: ELECTION_RULES } });
  await rbac
    .createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: role },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role },
        subjects: [{ kind: 'ServiceAccount', name: saName, namespace: saNamespace }],
      },
    })
    .catch((error: { code?: number }) => {
      if (error.code !== 409) throw error;
    });

  /** Until the authorizer (fed by an informer) answers as the rules say. */
  const settled = async (rules: Rule[]): Promise<void> => {
    const probes = [
      ['leases', 'create'],
      ['leases', 'update'],
      ['leases', 'get'],
      ['configmaps', 'create'],
    ] as const;
    const deadline = Date.now() + 10_000;
    for (;;) {
      let agree = true;
      for (const [resource, verb] of probes) {
        const answer = await authorization.createSubjectAccessReview({
          body: {
            spec: {
              user: SA_USER,
              groups: ['system:serviceaccounts', `system:serviceaccounts:${saNamespace}`, 'system:authenticated'],
              resourceAttributes: {
                namespace,
                group: resource === 'leases' ? 'coordination.k8s.io' : '',
                resource,
                verb,
                name: 'x',
              },
            },
          },
        });
        const review = answer.status?.allowed === true;
        const expected = rules.some((rule) => rule.resources.includes(resource) && rule.verbs.includes(verb));
        if (review !== expected) agree = false;
      }
      if (agree) return;
      if (Date.now() > deadline) throw new Error('RBAC change not effective after 10 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  return {
    name: 'kube-apiserver',
    namespace,
    adminKubeconfig,
    replicaKubeconfig: saKubeconfig,
    unknownTokenKubeconfig,
    coordination,
    core,
    grant: async (rules) => {
      await rbac.replaceNamespacedRole({ name: role, namespace, body: { metadata: { name: role, namespace }, rules } });
      await settled(rules);
    },
    stopApiServer: () => kubeUp('kill-apiserver'),
    startApiServer: () => kubeUp('start-apiserver'),
    stopStore: () => kubeUp('stop-etcd'),
    startStore: () => kubeUp('start-etcd'),
    close: async () => {
      await rbac.deleteNamespacedRoleBinding({ name: role, namespace }).catch(() => undefined);
      await rbac.deleteNamespacedRole({ name: role, namespace }).catch(() => undefined);
    },
  };
}
