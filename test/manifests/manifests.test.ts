/**
 * manifests/: every variant (the base and each overlay) builds, every object validates against the Kubernetes
 * OpenAPI schemas (kubernetes-models, offline), and the security and RBAC properties hold. With kubectl installed,
 * `kubectl kustomize` must build the same objects as the tests' own builder.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parseAllDocuments } from 'yaml';
import { FLAGS } from '../../src/config/flags.ts';
import { readConfigFile } from '../../src/notify/config-file.ts';
import { build, containersOf, podSpec, type KubeObject } from '../support/kustomize.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MANIFESTS = join(ROOT, 'manifests');
const OVERLAYS = readdirSync(join(MANIFESTS, 'overlays')).sort();
const VARIANTS: Record<string, string> = {
  base: MANIFESTS,
  ...Object.fromEntries(OVERLAYS.map((overlay) => [overlay, join(MANIFESTS, 'overlays', overlay)])),
};
const built = new Map(Object.entries(VARIANTS).map(([name, dir]) => [name, build(dir)]));

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

/** The kinds read below, in the API's shapes: those of the models every object is validated against. */
interface Kinds {
  Deployment: IDeployment;
  NetworkPolicy: INetworkPolicy;
  PodMonitor: IPodMonitor;
  PrometheusRule: IPrometheusRule;
  PodDisruptionBudget: IPodDisruptionBudget;
  Role: IRole;
  RoleBinding: IRoleBinding;
  ServiceAccount: IServiceAccount;
}

function one<K extends keyof Kinds>(objects: KubeObject[], kind: K): KubeObject & Kinds[K] {
  const found = objects.filter((object): object is KubeObject & Kinds[K] => object.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]!;
}

function sidecar(objects: KubeObject[]): IContainer {
  return containersOf(objects).find((container) => container.name === 'leaderhook')!;
}

/** `--name=value` arguments as a map (repeatable flags keep the last value). */
function flags(container: IContainer): Map<string, string> {
  const map = new Map<string, string>();
  for (const arg of container.args ?? []) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    assert.ok(match, `argument ${arg} is --flag or --flag=value`);
    map.set(match[1]!, match[2] ?? 'true');
  }
  return map;
}

function seconds(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text);
  assert.ok(match, `duration ${text}`);
  return Number(match[1]) * { ms: 0.001, s: 1, m: 60 }[match[2] as 'ms' | 's' | 'm'];
}

async function validateSchema(object: KubeObject): Promise<void> {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  // The Prometheus Operator's kinds come from its CRDs' schemas, the rest from Kubernetes' OpenAPI.
  const models = group === 'monitoring.coreos.com' ? '@kubernetes-models/prometheus-operator' : 'kubernetes-models';
  const module = (await import(`${models}/${group ? `${group}/` : ''}${version}/${object.kind}`)) as Record<
    string,
    new (data: unknown) => { validate(): void }
  >;
  const Model = module[object.kind];
  assert.ok(Model, `kubernetes-models has ${object.apiVersion} ${object.kind}`);
  try {
    new Model(object).validate();
  } catch (error) {
    throw new Error(`${object.kind} ${object.metadata.name}: ${(error as Error).message}`, { cause: error });
  }
}

test('every YAML file under manifests/ parses', () => {
  const files = readdirSync(MANIFESTS, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.yaml'));
  assert.ok(files.length >= 10, `found ${files.length} YAML files`);
  for (const file of files) {
    for (const document of parseAllDocuments(readFileSync(join(MANIFESTS, file), 'utf8'))) {
      assert.deepEqual(document.errors, [], file);
      assert.deepEqual(document.warnings, [], file);
    }
  }
});

for (const [variant, objects] of built) {
  test(`${variant}: every object validates against the Kubernetes schemas`, async () => {
    assert.ok(objects.length >= 6);
    for (const object of objects) await validateSchema(object);
  });

  test(`${variant}: the Role grants exactly what the election needs, on its one lock`, () => {
    const role = one(objects, 'Role');
    const binding = one(objects, 'RoleBinding');
    const account = one(objects, 'ServiceAccount');
    const deployment = one(objects, 'Deployment');
    const args = flags(sidecar(objects));
    const election = args.get('election')!;
    const lock = args.get('lock') ?? 'leases';
    const [group, resource] = lock === 'leases' ? ['coordination.k8s.io', 'leases'] : ['', lock];

    const expected: Rule[] = [
      { apiGroups: [group], resources: [resource], resourceNames: [election], verbs: ['get', 'watch', 'update'] },
      { apiGroups: [group], resources: [resource], verbs: ['create'] },
    ];
    if (args.get('events') !== 'false')
      expected.push({ apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] });
    if (args.has('leader-label')) expected.push({ apiGroups: [''], resources: ['pods'], verbs: ['get', 'patch'] });
    assert.deepEqual(role.rules, expected);
    for (const rule of role.rules) {
      assert.ok(![...rule.verbs, ...rule.resources, ...rule.apiGroups].includes('*'), 'no wildcards');
      assert.ok(
        !rule.verbs.some((verb) =>
          ['list', 'delete', 'deletecollection', 'escalate', 'bind', 'impersonate'].includes(verb),
        ),
      );
    }

    assert.deepEqual(binding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: role.metadata.name,
    });
    assert.deepEqual(binding.subjects, [
      { kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace },
    ]);
    assert.equal(deployment.spec?.template.spec?.serviceAccountName, account.metadata.name);
    assert.equal(objects.filter((object) => object.kind.startsWith('Cluster')).length, 0, 'nothing cluster-wide');
    for (const object of objects)
      assert.equal(object.metadata.namespace, account.metadata.namespace, `${object.kind} in the one namespace`);
  });

  test(`${variant}: the pods are hardened, probed and sized`, () => {
    const deployment = one(objects, 'Deployment');
    const pod = podSpec(deployment)!;
    assert.equal(deployment.spec?.replicas, 3);
    assert.equal(pod.automountServiceAccountToken, false, 'no token unless mounted explicitly');
    assert.deepEqual(
      pod.securityContext && {
        runAsNonRoot: pod.securityContext.runAsNonRoot,
        seccompProfile: pod.securityContext.seccompProfile,
      },
      {
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      },
    );
    assert.ok((pod.securityContext?.runAsUser ?? 0) > 0, 'a non-root uid');
    for (const container of containersOf(objects)) {
      assert.deepEqual(
        container.securityContext,
        { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        container.name,
      );
      assert.ok(
        container.resources?.requests?.cpu &&
          container.resources?.requests?.memory &&
          container.resources?.limits?.memory,
        `${container.name} resources`,
      );
      const mounts = (container.volumeMounts ?? []).map((mount) => mount.mountPath);
      const token = mounts.includes('/var/run/secrets/kubernetes.io/serviceaccount');
      assert.equal(
        token,
        container.name === 'leaderhook',
        `${container.name}: the API token is mounted into the sidecar only`,
      );
    }
    const tokenVolume = pod.volumes?.find((volume) => volume.name === 'kube-api-access');
    assert.ok(
      tokenVolume?.projected?.sources?.some(
        (source) =>
          source.serviceAccountToken?.path === 'token' &&
          (source.serviceAccountToken.expirationSeconds ?? Infinity) <= 3607,
      ),
    );

    const leaderhook = sidecar(objects);
    const args = flags(leaderhook);
    assert.match(leaderhook.image ?? '', /leaderhook:\d+\.\d+\.\d+$/);
    assert.equal(args.get('http'), '0.0.0.0:4040');
    assert.equal(args.get('election-namespace'), '$(POD_NAMESPACE)');
    const env = Object.fromEntries(
      (leaderhook.env ?? []).map((entry) => [entry.name, entry.valueFrom?.fieldRef?.fieldPath]),
    );
    assert.deepEqual(env, { POD_NAME: 'metadata.name', POD_NAMESPACE: 'metadata.namespace' });
    const port = leaderhook.ports?.find((entry) => entry.containerPort === 4040);
    assert.deepEqual(
      [leaderhook.livenessProbe?.httpGet?.path, leaderhook.livenessProbe?.httpGet?.port],
      ['/healthz', port!.name],
    );
    assert.deepEqual(
      [leaderhook.readinessProbe?.httpGet?.path, leaderhook.readinessProbe?.httpGet?.port],
      ['/readyz', port!.name],
    );

    // SIGTERM → release (up to the renew deadline) → drain (up to the drain timeout): both fit in the grace period.
    const renewDeadline = args.has('renew-deadline')
      ? seconds(args.get('renew-deadline')!)
      : args.has('ttl')
        ? seconds(args.get('ttl')!) / 2
        : 10;
    const drain = args.has('drain-timeout') ? seconds(args.get('drain-timeout')!) : 5;
    assert.ok(
      (pod.terminationGracePeriodSeconds as number) >= renewDeadline + drain + 5,
      `grace ${String(pod.terminationGracePeriodSeconds)}s ≥ ${renewDeadline}s + ${drain}s + 5s`,
    );

    const pdb = one(objects, 'PodDisruptionBudget');
    assert.deepEqual(pdb.spec?.selector?.matchLabels, deployment.spec.selector.matchLabels);
    assert.equal(pdb.spec?.maxUnavailable, 1);
    for (const [key, value] of Object.entries(deployment.spec.selector.matchLabels as Record<string, string>)) {
      assert.equal(deployment.spec.template.metadata?.labels?.[key], value);
    }
  });

  test(`${variant}: the recommended labels on every object, and the pods' version is the image's`, () => {
    for (const object of objects) {
      const labels = object.metadata.labels ?? {};
      for (const key of ['name', 'instance', 'part-of', 'managed-by'])
        assert.ok(
          labels[`app.kubernetes.io/${key}`],
          `${object.kind} ${object.metadata.name}: app.kubernetes.io/${key}`,
        );
    }
    const deployment = one(objects, 'Deployment');
    const pod = deployment.spec?.template.metadata?.labels ?? {};
    assert.equal(pod['app.kubernetes.io/name'], 'example');
    assert.equal(pod['app.kubernetes.io/instance'], deployment.metadata?.labels?.['app.kubernetes.io/instance']);
    assert.equal(pod['app.kubernetes.io/part-of'], 'leaderhook');
    assert.equal(pod['app.kubernetes.io/version'], sidecar(objects).image?.split(':').at(-1));
  });

  test(`${variant}: replicas spread over zones and over nodes`, () => {
    const deployment = one(objects, 'Deployment');
    const constraints = podSpec(deployment)?.topologySpreadConstraints ?? [];
    assert.deepEqual(
      constraints.map((constraint) => constraint.topologyKey),
      ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'],
    );
    for (const constraint of constraints) {
      assert.equal(constraint.maxSkew, 1);
      assert.equal(constraint.whenUnsatisfiable, 'ScheduleAnyway', 'a one-zone cluster still runs all replicas');
      assert.deepEqual(constraint.labelSelector?.matchLabels, deployment.spec?.selector.matchLabels);
    }
  });

  test(`${variant}: the NetworkPolicy lets only probes and the metrics namespace reach leaderhook's port`, () => {
    const policy = one(objects, 'NetworkPolicy');
    const deployment = one(objects, 'Deployment');
    assert.deepEqual(policy.spec?.podSelector?.matchLabels, deployment.spec?.selector.matchLabels);
    assert.deepEqual(policy.spec?.policyTypes, ['Ingress']);
    const leaderhookPort = sidecar(objects).ports?.[0]?.name;
    const appPort = containersOf(objects).find((container) => container.name === 'app')?.ports?.[0]?.name;
    const rules = policy.spec?.ingress ?? [];
    // leaderhook's port appears in exactly one rule, and that rule admits the metrics namespace alone.
    const toLeaderhook = rules.filter((rule) => rule.ports?.some((port) => port.port === leaderhookPort));
    assert.equal(toLeaderhook.length, 1);
    assert.deepEqual(toLeaderhook[0]!.from, [
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
    ]);
    // Every other rule names its ports (none opens the whole pod), and none of them is leaderhook's.
    for (const rule of rules.filter((entry) => !toLeaderhook.includes(entry))) {
      assert.ok(rule.ports?.length, 'a rule without ports would open leaderhook too');
      assert.ok(rule.ports.every((port) => port.port === appPort));
    }
    // The kubelet's probes come from the node, which NetworkPolicy always admits: they use leaderhook's port.
    for (const probe of [sidecar(objects).livenessProbe, sidecar(objects).readinessProbe])
      assert.equal(probe?.httpGet?.port, leaderhookPort);
  });

  test(`${variant}: every flag is one leaderhook knows, and every mounted ConfigMap is built`, () => {
    const known = new Set<string>(FLAGS.map((flag) => flag.name));
    for (const name of flags(sidecar(objects)).keys()) assert.ok(known.has(name), `--${name}`);
    const configMaps = new Set(
      objects.filter((object) => object.kind === 'ConfigMap').map((object) => object.metadata.name),
    );
    for (const volume of podSpec(one(objects, 'Deployment'))!.volumes ?? []) {
      if (volume.configMap)
        assert.ok(configMaps.has(volume.configMap.name ?? ''), `ConfigMap ${volume.configMap.name} is built`);
    }
    const app = containersOf(objects).find((container) => container.name === 'app')!;
    const script = app.command!.at(-1)!.replace('/example/', '');
    const code = objects.find(
      (object) => object.kind === 'ConfigMap' && (object.data as Record<string, string> | undefined)?.[script],
    );
    assert.ok(code, `the main container's ${script} is in a ConfigMap`);
  });
}

test('native sidecar in the base; classic-sidecar moves the same container among the app containers', () => {
  const base = podSpec(one(built.get('base')!, 'Deployment'))!;
  assert.deepEqual(
    base.initContainers?.map((container) => [container.name, container.restartPolicy]),
    [['leaderhook', 'Always']],
  );
  assert.deepEqual(
    base.containers.map((container) => container.name),
    ['app'],
  );
  const native = base.initContainers[0]!;
  // It answers before the app starts: the kubelet starts the app once the sidecar's startup probe passes.
  assert.equal(native.startupProbe?.httpGet?.path, '/healthz');

  const classic = podSpec(one(built.get('classic-sidecar')!, 'Deployment'))!;
  assert.equal(classic.initContainers, undefined);
  assert.deepEqual(
    classic.containers.map((container) => container.name),
    ['app', 'leaderhook'],
  );
  const { restartPolicy, ...rest } = native;
  assert.equal(restartPolicy, 'Always');
  assert.deepEqual(classic.containers[1], rest, 'the same container, without restartPolicy');
  for (const [variant, objects] of built) {
    if (variant === 'classic-sidecar') continue;
    assert.equal(podSpec(one(objects, 'Deployment'))!.initContainers?.[0]?.name, 'leaderhook', variant);
  }
});

test('monitoring: the PodMonitor scrapes the sidecar port of the pods, and the rules are there', () => {
  const objects = built.get('monitoring')!;
  const monitor = one(objects, 'PodMonitor');
  const deployment = one(objects, 'Deployment');
  assert.deepEqual(monitor.spec.selector.matchLabels, deployment.spec?.selector.matchLabels);
  const [endpoint] = monitor.spec.podMetricsEndpoints ?? [];
  assert.equal(endpoint?.port, sidecar(objects).ports?.[0]?.name);
  assert.equal(endpoint?.path, '/metrics');
  // The rules select job="leaderhook": the PodMonitor sets it.
  assert.deepEqual(endpoint?.relabelings, [{ action: 'replace', targetLabel: 'job', replacement: 'leaderhook' }]);
  const rules = one(objects, 'PrometheusRule').spec.groups?.flatMap((group) => group.rules ?? []) ?? [];
  for (const rule of rules) assert.match(String(rule.expr), /job="leaderhook"/, String(rule.alert));
  assert.ok(rules.length >= 5);
});

test('the commented optional flags in the manifests are real flags too', () => {
  const known = new Set<string>(FLAGS.map((flag) => flag.name));
  const files = readdirSync(MANIFESTS, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.yaml'));
  let seen = 0;
  for (const file of files) {
    for (const match of readFileSync(join(MANIFESTS, file), 'utf8').matchAll(/^\s*#\s*- --([a-z-]+)/gm)) {
      assert.ok(known.has(match[1]!), `${file}: --${match[1]}`);
      seen++;
    }
  }
  assert.ok(seen >= 5);
});

test('the example code in manifests/base/example is the examples/ code, byte for byte', () => {
  for (const file of readdirSync(join(MANIFESTS, 'base', 'example'))) {
    const name = file.replace(/\.mjs$/, '');
    assert.equal(
      readFileSync(join(MANIFESTS, 'base', 'example', file), 'utf8'),
      readFileSync(join(ROOT, 'examples', name, 'server.mjs'), 'utf8'),
      file,
    );
  }
});

test('overlays: legacy-endpoints uses the Endpoints lock, hooks pushes to the main container with a valid --config', () => {
  const legacy = flags(sidecar(built.get('legacy-endpoints')!));
  assert.equal(legacy.get('lock'), 'endpoints');

  const hooks = built.get('hooks')!;
  const args = flags(sidecar(hooks));
  assert.equal(args.get('hook'), 'http://localhost:8080/leaderhook');
  const app = containersOf(hooks).find((container) => container.name === 'app')!;
  assert.deepEqual(app.command, ['node', '/example/push-consumer.mjs']);
  const targets = readConfigFile(join(MANIFESTS, 'overlays', 'hooks', 'targets.yaml'));
  assert.ok(targets.length >= 1);
  const mounts = sidecar(hooks).volumeMounts!.map((mount) => mount.mountPath);
  for (const file of [
    args.get('config')!,
    ...targets.flatMap((target) => [target.urlFile, ...(target.secretFiles ?? [])]),
  ].filter(Boolean) as string[]) {
    assert.ok(
      mounts.some((mount) => file.startsWith(`${mount}/`)),
      `${file} is on a mounted volume`,
    );
  }
  const secret = podSpec(one(hooks, 'Deployment'))!.volumes!.find((volume) => volume.secret);
  assert.equal(secret?.secret?.secretName, 'leaderhook-webhook');

  // The hooks are signed, with the secret the main container checks: the same key of the same Secret.
  const hookSecret = args.get('hook-secret-file')!;
  const sidecarVolume = sidecar(hooks).volumeMounts!.find((mount) => hookSecret.startsWith(`${mount.mountPath}/`))!;
  const consumerFile = app.env?.find((entry) => entry.name === 'WEBHOOK_SECRET_FILE')?.value ?? '';
  const appVolume = app.volumeMounts?.find((mount) => consumerFile.startsWith(`${mount.mountPath}/`));
  assert.ok(appVolume, `the main container mounts ${consumerFile}`);
  const volumes = podSpec(one(hooks, 'Deployment'))!.volumes!;
  const sidecarSecret = volumes.find((volume) => volume.name === sidecarVolume.name)!.secret!;
  const appSecret = volumes.find((volume) => volume.name === appVolume.name)!.secret!;
  assert.equal(appSecret.secretName, sidecarSecret.secretName);
  const key = hookSecret.slice(sidecarVolume.mountPath.length + 1);
  assert.deepEqual(appSecret.items, [{ key, path: consumerFile.slice(appVolume.mountPath.length + 1) }]);
  // The main container sees that key only, not the external receiver's URL and secret.
  assert.equal(appSecret.items?.length, 1);
  assert.equal(hooks.filter((object) => object.kind === 'Secret').length, 0, 'no Secret in the repository');
});

function kubectl(): string | undefined {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return 'kubectl';
  } catch {
    return undefined;
  }
}

/** Objects keyed by kind/name with generated name suffixes removed, for comparing two builds. */
function normalized(objects: KubeObject[]): Record<string, unknown> {
  const text = JSON.stringify(objects).replace(/(example-consumers|leaderhook-config)-[a-z0-9]{10}/g, '$1');
  return Object.fromEntries(
    (JSON.parse(text) as KubeObject[]).map((object) => [`${object.kind}/${object.metadata.name}`, object]),
  );
}

for (const [variant, dir] of Object.entries(VARIANTS)) {
  test(`${variant}: kubectl kustomize builds the same objects`, (t) => {
    const command = kubectl();
    if (!command) {
      t.skip('kubectl is not installed: the build was checked with test/support/kustomize.ts only');
      return;
    }
    const output = execFileSync(command, ['kustomize', dir], { encoding: 'utf8' });
    const theirs = parseAllDocuments(output).map((document) => document.toJS() as KubeObject);
    assert.deepEqual(normalized(built.get(variant)!), normalized(theirs));
  });
}

/** Mebibytes in a Kubernetes memory quantity (`96Mi`, `0.5Gi`, `128M`). */
function mebibytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(quantity);
  assert.ok(match, `memory quantity ${quantity}`);
  const factor =
    { Ki: 1 / 1024, Mi: 1, Gi: 1024, k: 1000 / 1048576, M: 1e6 / 1048576, G: 1e9 / 1048576 }[match[2] ?? ''] ??
    1 / 1048576;
  return Number(match[1]) * factor;
}

/** The "this build" figures (MiB) of the README's "Measured" table rows whose measure starts with `prefix`. */
function measuredMiB(prefix: string): number[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Measured'),
    readme.indexOf('\n## ', readme.indexOf('## Measured') + 1),
  );
  return section
    .split('\n')
    .filter((line) => line.startsWith(`| ${prefix}`))
    .map((line) => {
      const thisBuild = line.split('|')[3] ?? '';
      const figure = /(\d+(?:\.\d+)?) MiB/.exec(thisBuild);
      assert.ok(figure, `a MiB figure in the README row: ${line}`);
      return Number(figure[1]);
    });
}

test("the sidecar's memory request and limit hold the README's measured idle RSS and peak, stating how they were measured", () => {
  const peaks = measuredMiB('peak RSS');
  const idles = measuredMiB('idle RSS');
  assert.ok(peaks.length > 0, 'the README reports a measured peak RSS');
  assert.ok(idles.length >= 2, 'the README reports the idle RSS of a leader and a follower');
  const deployment = readFileSync(join(MANIFESTS, 'base', 'deployment.yaml'), 'utf8');
  assert.match(deployment, /#.*npm run bench/, 'a comment names the bench command the sizes come from');
  for (const [variant, objects] of built) {
    const { requests, limits } = sidecar(objects).resources as {
      requests: { memory: string };
      limits: { memory: string };
    };
    for (const peak of peaks)
      assert.ok(
        peak <= mebibytes(limits.memory),
        `${variant}: measured peak ${peak} MiB exceeds the limit ${limits.memory}`,
      );
    for (const idle of idles)
      assert.ok(
        idle <= mebibytes(requests.memory),
        `${variant}: measured idle ${idle} MiB exceeds the request ${requests.memory}`,
      );
  }
});
