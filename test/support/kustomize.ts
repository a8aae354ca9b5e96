/**
 * A small kustomize, in plain TypeScript, for the manifest tests: it builds exactly the features manifests/ uses
 * (resources, components, namespace, labels, images, configMapGenerator with files, strategic-merge patches from
 * files, JSON 6902 patches inline with a target) and refuses any other, so the manifests cannot start relying on
 * something these tests would silently ignore.
 * Where `kubectl` is installed, test/manifests checks that its output agrees with `kubectl kustomize`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { parseAllDocuments } from 'yaml';

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
};

const KNOWN_KEYS = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'labels',
  'resources',
  'images',
  'configMapGenerator',
  'patches',
  'components',
]);

/** Kinds that are not namespaced, among those kustomize could meet here. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
]);

/** Strategic merge: list fields merged by a key (as in the Kubernetes types' patchMergeKey); others are replaced. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  env: 'name',
  ports: 'containerPort',
};

export function readYamlDocuments(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((document) => {
      if (document.errors.length) throw new Error(`${file}: ${document.errors[0]!.message}`);
      return document.toJS() as KubeObject;
    })
    .filter((object) => object !== null);
}

function readKustomization(dir: string): { root: string; file: string; kustomization: Record<string, unknown> } {
  const root = resolve(dir);
  const file = join(root, 'kustomization.yaml');
  const kustomization = readYamlDocuments(file)[0] as unknown as Record<string, unknown>;
  for (const key of Object.keys(kustomization)) {
    if (!KNOWN_KEYS.has(key)) throw new Error(`${file}: "${key}" is not supported by test/support/kustomize.ts`);
  }
  return { root, file, kustomization };
}

/** Builds the kustomization in `dir` (a directory holding kustomization.yaml). */
export function build(dir: string): KubeObject[] {
  const { root, file, kustomization } = readKustomization(dir);
  if (kustomization.kind === 'Component')
    throw new Error(`${file}: a Component is built only as part of a kustomization`);
  const objects = resourcesOf(root, file, kustomization);
  // As kustomize: the components after the resources, then this kustomization's own generators and transformers.
  for (const entry of (kustomization.components as string[] | undefined) ?? []) {
    const component = readKustomization(resolve(root, entry));
    if (component.kustomization.kind !== 'Component') throw new Error(`${component.file}: not a Component`);
    objects.push(...resourcesOf(component.root, component.file, component.kustomization));
    transform(component.root, component.file, component.kustomization, objects);
  }
  transform(root, file, kustomization, objects);
  return objects;
}

function resourcesOf(root: string, file: string, kustomization: Record<string, unknown>): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const entry of (kustomization.resources as string[] | undefined) ?? []) {
    const path = resolve(root, entry);
    if (!existsSync(path)) throw new Error(`${file}: resource ${entry} does not exist`);
    objects.push(...(statSync(path).isDirectory() ? build(path) : readYamlDocuments(path)));
  }
  return objects;
}

function transform(root: string, file: string, kustomization: Record<string, unknown>, objects: KubeObject[]): void {
  const renames = new Map<string, string>();
  for (const generator of (kustomization.configMapGenerator as Array<Record<string, unknown>> | undefined) ?? []) {
    for (const key of Object.keys(generator))
      if (!['name', 'files', 'options'].includes(key))
        throw new Error(`${file}: configMapGenerator.${key} is not supported`);
    const options = (generator.options ?? {}) as Record<string, unknown>;
    if (Object.keys(options).some((key) => key !== 'labels'))
      throw new Error(`${file}: configMapGenerator options other than labels are not supported`);
    const data: Record<string, string> = {};
    for (const entry of generator.files as string[]) {
      const [key, path] = entry.includes('=') ? (entry.split('=', 2) as [string, string]) : [basename(entry), entry];
      data[key] = readFileSync(resolve(root, path), 'utf8');
    }
    const name = generator.name as string;
    const hashed = `${name}-${createHash('sha256')
      .update(JSON.stringify({ kind: 'ConfigMap', name, data }))
      .digest('hex')
      .slice(0, 10)}`;
    renames.set(name, hashed);
    const labels = options.labels as Record<string, string> | undefined;
    objects.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: hashed, ...(labels ? { labels } : {}) },
      data,
    });
  }

  for (const patch of (kustomization.patches as Array<Record<string, unknown>> | undefined) ?? []) {
    if (patch.target !== undefined) {
      applyJsonPatch(file, objects, patch);
      continue;
    }
    if (Object.keys(patch).some((key) => key !== 'path'))
      throw new Error(`${file}: a patch has a path (strategic merge) or a target and an inline JSON 6902 patch`);
    for (const partial of readYamlDocuments(resolve(root, patch.path as string))) {
      const target = objects.find(
        (object) => object.kind === partial.kind && object.metadata.name === partial.metadata.name,
      );
      if (!target)
        throw new Error(`${file}: patch ${String(patch.path)} matches no ${partial.kind} ${partial.metadata.name}`);
      const merged = strategicMerge(target, partial) as KubeObject;
      objects.splice(objects.indexOf(target), 1, merged);
    }
  }

  for (const object of objects) renameConfigMapReferences(object, renames);

  const namespace = kustomization.namespace as string | undefined;
  if (namespace) setNamespace(objects, namespace);

  for (const set of (kustomization.labels as Array<Record<string, unknown>> | undefined) ?? []) {
    if (set.includeSelectors !== false || set.includeTemplates)
      throw new Error(`${file}: labels are supported with includeSelectors: false only`);
    for (const object of objects)
      object.metadata.labels = { ...object.metadata.labels, ...(set.pairs as Record<string, string>) };
  }

  for (const image of (kustomization.images as Array<Record<string, string>> | undefined) ?? []) {
    for (const container of containersOf(objects)) {
      const name = (container.image as string).replace(/[:@].*$/, '');
      if (name !== image.name) continue;
      container.image = `${image.newName ?? image.name}${image.newTag ? `:${image.newTag}` : ''}`;
    }
  }
}

type JsonOperation = { op: string; path: string; from?: string; value?: unknown };

/** A JSON 6902 patch (`move`, `remove`, `add`, `replace`) on the objects its target names by kind and name. */
function applyJsonPatch(file: string, objects: KubeObject[], patch: Record<string, unknown>): void {
  const target = patch.target as Record<string, string>;
  if (Object.keys(target).some((key) => key !== 'kind' && key !== 'name'))
    throw new Error(`${file}: a patch target is supported by kind and name only`);
  if (typeof patch.patch !== 'string') throw new Error(`${file}: a targeted patch needs an inline JSON 6902 patch`);
  const operations = parseAllDocuments(patch.patch)[0]!.toJS() as JsonOperation[];
  const matched = objects.filter((object) => object.kind === target.kind && object.metadata.name === target.name);
  if (matched.length === 0) throw new Error(`${file}: patch target ${target.kind} ${target.name} matches nothing`);
  for (const object of matched) {
    for (const operation of operations) {
      const where = `${file}: ${operation.op} ${operation.path}`;
      if (operation.op === 'move') {
        const value = removeAt(object, operation.from ?? '', where);
        addAt(object, operation.path, value, where);
      } else if (operation.op === 'remove') removeAt(object, operation.path, where);
      else if (operation.op === 'add') addAt(object, operation.path, structuredClone(operation.value), where);
      else if (operation.op === 'replace') {
        removeAt(object, operation.path, where);
        addAt(object, operation.path, structuredClone(operation.value), where);
      } else throw new Error(`${where}: the op is not supported`);
    }
  }
}

/** The parent of a JSON pointer's target and the last token (RFC 6901 unescaped). */
function locate(document: unknown, pointer: string, where: string): { parent: unknown; key: string } {
  const tokens = pointer
    .split('/')
    .slice(1)
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
  const key = tokens.pop();
  if (key === undefined) throw new Error(`${where}: the whole document cannot be patched`);
  let parent: unknown = document;
  for (const token of tokens) {
    parent = Array.isArray(parent) ? parent[Number(token)] : isObject(parent) ? parent[token] : undefined;
    if (parent === undefined) throw new Error(`${where}: ${pointer} does not exist`);
  }
  return { parent, key };
}

function removeAt(document: unknown, pointer: string, where: string): unknown {
  const { parent, key } = locate(document, pointer, where);
  if (Array.isArray(parent)) {
    const index = Number(key);
    if (!(index in parent)) throw new Error(`${where}: ${pointer} does not exist`);
    return parent.splice(index, 1)[0];
  }
  if (!isObject(parent) || !(key in parent)) throw new Error(`${where}: ${pointer} does not exist`);
  const value = parent[key];
  delete parent[key];
  return value;
}

function addAt(document: unknown, pointer: string, value: unknown, where: string): void {
  const { parent, key } = locate(document, pointer, where);
  if (Array.isArray(parent)) {
    if (key === '-') parent.push(value);
    else parent.splice(Number(key), 0, value);
  } else if (isObject(parent)) parent[key] = value;
  else throw new Error(`${where}: ${pointer} has no parent to add to`);
}

/** kustomize's namespace transformer: every namespaced object, and the ServiceAccount subjects of bindings. */
export function setNamespace(objects: KubeObject[], namespace: string): void {
  const accounts = new Set(
    objects.filter((object) => object.kind === 'ServiceAccount').map((object) => object.metadata.name),
  );
  for (const object of objects) {
    if (!CLUSTER_SCOPED.has(object.kind)) object.metadata.namespace = namespace;
    if (object.kind === 'RoleBinding' || object.kind === 'ClusterRoleBinding') {
      for (const subject of (object.subjects as Array<Record<string, string>> | undefined) ?? []) {
        if (subject.kind === 'ServiceAccount' && accounts.has(subject.name!)) subject.namespace = namespace;
      }
    }
  }
}

export function containersOf(objects: KubeObject[]): IContainer[] {
  return objects.flatMap((object) => {
    const pod = podSpec(object);
    return pod ? [...(pod.initContainers ?? []), ...(pod.containers ?? [])] : [];
  });
}

/** The Pod spec of a Pod or of a workload's template, in the API's shape (kubernetes-models). */
export function podSpec(object: KubeObject): IPodSpec | undefined {
  if (object.kind === 'Pod') return object.spec as IPodSpec;
  const template = (object.spec as { template?: { spec?: IPodSpec } } | undefined)?.template;
  return template?.spec;
}

function renameConfigMapReferences(object: KubeObject, renames: Map<string, string>): void {
  const pod = podSpec(object);
  if (!pod) return;
  for (const volume of pod.volumes ?? []) {
    for (const reference of [
      volume.configMap,
      ...(volume.projected?.sources ?? []).map((source) => source.configMap),
    ]) {
      const renamed = reference?.name === undefined ? undefined : renames.get(reference.name);
      if (reference && renamed !== undefined) reference.name = renamed;
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function strategicMerge(base: unknown, patch: unknown, field = ''): unknown {
  if (isObject(patch) && Object.keys(patch).some((key) => key.startsWith('$')))
    throw new Error(`patch directive in ${field} is not supported`);
  if (isObject(base) && isObject(patch)) {
    const merged: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(patch)) {
      merged[key] =
        value === null ? undefined : key in base ? strategicMerge(base[key], value, key) : structuredClone(value);
      if (merged[key] === undefined) delete merged[key];
    }
    return merged;
  }
  const mergeKey = MERGE_KEYS[field];
  if (Array.isArray(base) && Array.isArray(patch) && mergeKey) {
    // As kustomize orders them: the patch's items first (merged into their match), then the rest of the base's.
    const items = base as Array<Record<string, unknown>>;
    const patched = (patch as Array<Record<string, unknown>>).map((item) => {
      const match = items.find((existing) => existing[mergeKey] === item[mergeKey]);
      return match ? (strategicMerge(match, item, field) as Record<string, unknown>) : structuredClone(item);
    });
    const keys = new Set(patched.map((item) => item[mergeKey]));
    return [...patched, ...items.filter((item) => !keys.has(item[mergeKey])).map((item) => structuredClone(item))];
  }
  return structuredClone(patch);
}
