/**
 * The resources the embedded API serves, with the registry strategy flags of a kube-apiserver v1.20
 * (pkg/registry/.../strategy.go): whether a PUT may create (AllowCreateOnUpdate) and whether a PUT without
 * metadata.resourceVersion is accepted (AllowUnconditionalUpdate).
 */
import { CONFIG_MAP, CORE_EVENT, ENDPOINTS, EVENTS_V1_EVENT, LEASE, POD, type StructSchema } from './schemas.ts';
import type { JsonObject } from './types.ts';

export interface ResourceType {
  group: string;
  version: string;
  /** Plural, lower case: what URLs and RBAC use. */
  resource: string;
  kind: string;
  listKind: string;
  schema: StructSchema;
  /** Where objects are kept; both Event APIs share the core Event storage, as in the real server. */
  storage: string;
  allowCreateOnUpdate: boolean;
  allowUnconditionalUpdate: boolean;
  /** Pods return the deleted object from DELETE; the other types return a Success Status. */
  returnDeletedObject: boolean;
  /** Discovery (APIResourceList) as kube-apiserver 1.20 lists the resource. */
  shortNames?: string[];
  categories?: string[];
  storageVersionHash: string;
  /** Converts from the stored form to this API's form and back (identity except for events.k8s.io). */
  fromStorage?: (stored: JsonObject) => JsonObject;
  toStorage?: (obj: JsonObject) => JsonObject;
}

export const apiVersionOf = (t: ResourceType): string => (t.group === '' ? t.version : `${t.group}/${t.version}`);
export const groupResource = (t: ResourceType) => ({ group: t.group, resource: t.resource });

const EVENT_RENAMES: ReadonlyArray<readonly [core: string, eventsV1: string]> = [
  ['reportingComponent', 'reportingController'],
  ['involvedObject', 'regarding'],
  ['message', 'note'],
  ['source', 'deprecatedSource'],
  ['firstTimestamp', 'deprecatedFirstTimestamp'],
  ['lastTimestamp', 'deprecatedLastTimestamp'],
  ['count', 'deprecatedCount'],
];

function rename(obj: JsonObject, pairs: ReadonlyArray<readonly [string, string]>, reverse: boolean): JsonObject {
  const out: JsonObject = {};
  const map = new Map(pairs.map(([a, b]) => (reverse ? [b, a] : [a, b])));
  for (const [k, v] of Object.entries(obj)) out[map.get(k) ?? k] = v;
  return out;
}

export const RESOURCES: readonly ResourceType[] = [
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    resource: 'leases',
    kind: 'Lease',
    listKind: 'LeaseList',
    schema: LEASE,
    storage: 'leases',
    allowCreateOnUpdate: true,
    allowUnconditionalUpdate: false,
    storageVersionHash: '/sY7hl8ol1U=',
    returnDeletedObject: false,
  },
  {
    group: '',
    version: 'v1',
    resource: 'configmaps',
    kind: 'ConfigMap',
    listKind: 'ConfigMapList',
    schema: CONFIG_MAP,
    storage: 'configmaps',
    allowCreateOnUpdate: false,
    allowUnconditionalUpdate: true,
    shortNames: ['cm'],
    storageVersionHash: 'qFsyl6wFWjQ=',
    returnDeletedObject: false,
  },
  {
    group: '',
    version: 'v1',
    resource: 'endpoints',
    kind: 'Endpoints',
    listKind: 'EndpointsList',
    schema: ENDPOINTS,
    storage: 'endpoints',
    allowCreateOnUpdate: true,
    allowUnconditionalUpdate: true,
    shortNames: ['ep'],
    storageVersionHash: 'fWeeMqaN/OA=',
    returnDeletedObject: false,
  },
  {
    group: '',
    version: 'v1',
    resource: 'pods',
    kind: 'Pod',
    listKind: 'PodList',
    schema: POD,
    storage: 'pods',
    allowCreateOnUpdate: false,
    allowUnconditionalUpdate: true,
    shortNames: ['po'],
    categories: ['all'],
    storageVersionHash: 'xPOwRZ+Yhw8=',
    returnDeletedObject: true,
  },
  {
    group: '',
    version: 'v1',
    resource: 'events',
    kind: 'Event',
    listKind: 'EventList',
    schema: CORE_EVENT,
    storage: 'events',
    allowCreateOnUpdate: true,
    allowUnconditionalUpdate: true,
    shortNames: ['ev'],
    storageVersionHash: 'r2yiGXH7wu8=',
    returnDeletedObject: false,
  },
  {
    group: 'events.k8s.io',
    version: 'v1',
    resource: 'events',
    kind: 'Event',
    listKind: 'EventList',
    schema: EVENTS_V1_EVENT,
    storage: 'events',
    allowCreateOnUpdate: true,
    allowUnconditionalUpdate: true,
    shortNames: ['ev'],
    storageVersionHash: 'r2yiGXH7wu8=',
    returnDeletedObject: false,
    fromStorage: (stored) => rename(stored, EVENT_RENAMES, false),
    toStorage: (obj) => rename(obj, EVENT_RENAMES, true),
  },
];

export function findResource(group: string, version: string, resource: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.resource === resource);
}

/** Field schema lookup used by managed-field tracking (struct vs map vs list semantics). */
