/**
 * API discovery as kube-apiserver v1.20 serves it, for the groups and resources the embedded API has: `/api`
 * (APIVersions), `/apis` (APIGroupList), `/apis/<group>` (APIGroup), `/api/v1` and `/apis/<group>/<version>`
 * (APIResourceList). kubectl reads these to map `kubectl get lease` to a URL. A newer kubectl first asks for
 * aggregated discovery (apidiscovery.k8s.io); v1.20 does not know it and answers these documents, and so does this.
 */
import { RESOURCES, type ResourceType } from './resources.ts';
import type { JsonObject } from './types.ts';

/** The named groups served, in the order of kube-apiserver 1.20's APIGroupList. */
const GROUP_ORDER = ['events.k8s.io', 'coordination.k8s.io'];
/** Verbs of every resource served (the generic registry's, deletecollection included). */
const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

const groupVersion = (group: string, version: string): string => (group === '' ? version : `${group}/${version}`);

function versionsOf(group: string): string[] {
  return [...new Set(RESOURCES.filter((r) => r.group === group).map((r) => r.version))];
}

function groupEntry(group: string): JsonObject {
  const versions = versionsOf(group).map((version) => ({ groupVersion: groupVersion(group, version), version }));
  return { name: group, versions, preferredVersion: versions[0]! };
}

function resourceEntry(type: ResourceType): JsonObject {
  return {
    name: type.resource,
    singularName: '',
    namespaced: true,
    kind: type.kind,
    verbs: VERBS,
    ...(type.shortNames ? { shortNames: type.shortNames } : {}),
    ...(type.categories ? { categories: type.categories } : {}),
    storageVersionHash: type.storageVersionHash,
  };
}

/**
 * The discovery document at `path`, or undefined when `path` is not one. `serverAddress` (host:port) is what
 * APIVersions advertises to clients.
 */
export function discoveryDocument(path: string, serverAddress: string): JsonObject | undefined {
  const parts = path.split('/').filter((part) => part !== '');
  if (parts[0] === 'api') {
    if (parts.length === 1)
      return {
        kind: 'APIVersions',
        versions: versionsOf(''),
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
      };
    if (parts.length === 2 && versionsOf('').includes(parts[1]!))
      // The core group's list carries no apiVersion (as the real server writes it).
      return { kind: 'APIResourceList', groupVersion: parts[1]!, resources: resourcesOf('', parts[1]!) };
    return undefined;
  }
  if (parts[0] !== 'apis') return undefined;
  if (parts.length === 1) return { kind: 'APIGroupList', apiVersion: 'v1', groups: GROUP_ORDER.map(groupEntry) };
  const group = parts[1]!;
  if (!GROUP_ORDER.includes(group)) return undefined;
  if (parts.length === 2) return { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(group) };
  if (parts.length === 3 && versionsOf(group).includes(parts[2]!))
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: groupVersion(group, parts[2]!),
      resources: resourcesOf(group, parts[2]!),
    };
  return undefined;
}

function resourcesOf(group: string, version: string): JsonObject[] {
  return RESOURCES.filter((r) => r.group === group && r.version === version)
    .sort((a, b) => a.resource.localeCompare(b.resource))
    .map(resourceEntry);
}
