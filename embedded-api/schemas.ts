/**
 * The Go types behind the resources the embedded API serves, reduced to what decoding needs: JSON name,
 * Go field name (for json-iterator's error paths), value kind, and Go's omitempty/pointer rules (which
 * decide what the real server prints for unset fields). Field order is Go's struct order, which is the
 * order of keys in the server's JSON.
 */

export type ListKind = 'atomic' | 'set' | { key: string };

export type TypeSchema =
  | { t: 'string' }
  | { t: 'int32' }
  | { t: 'int64' }
  | { t: 'bool' }
  | { t: 'microtime' }
  | { t: 'time' }
  | { t: 'map' }
  | { t: 'struct'; s: StructSchema }
  | { t: 'list'; goType: string; elem: TypeSchema; kind: ListKind }
  /** Any JSON, kept as sent (types the stand-in does not model field by field). */
  | { t: 'raw' };

export interface FieldSchema {
  json: string;
  go: string;
  type: TypeSchema;
  /** `,omitempty` on a value (non-pointer) field: zero values are not printed. */
  omitempty: boolean;
  /** A pointer field: printed whenever set, even to a zero value; omitted when null. */
  ptr: boolean;
  /** Promoted from an embedded struct (e.g. TypeMeta): json-iterator prefixes errors with both names. */
  embeddedIn?: string;
}

export interface StructSchema {
  goType: string;
  fields: FieldSchema[];
}

const S = { t: 'string' } as const;
const I32 = { t: 'int32' } as const;
const I64 = { t: 'int64' } as const;
const B = { t: 'bool' } as const;
const MT = { t: 'microtime' } as const;
const T = { t: 'time' } as const;
const M = { t: 'map' } as const;
const RAW = { t: 'raw' } as const;

const f = (
  json: string,
  go: string,
  type: TypeSchema,
  opts: Partial<Pick<FieldSchema, 'omitempty' | 'ptr'>> = {},
): FieldSchema => ({
  json,
  go,
  type,
  omitempty: opts.omitempty ?? true,
  ptr: opts.ptr ?? false,
});
const p = (json: string, go: string, type: TypeSchema): FieldSchema => f(json, go, type, { ptr: true });
const st = (s: StructSchema): TypeSchema => ({ t: 'struct', s });

const TYPE_META: FieldSchema[] = [
  { ...f('kind', 'Kind', S), embeddedIn: 'TypeMeta' },
  { ...f('apiVersion', 'APIVersion', S), embeddedIn: 'TypeMeta' },
];

export const MANAGED_FIELDS_ENTRY: StructSchema = {
  goType: 'v1.ManagedFieldsEntry',
  fields: [
    f('manager', 'Manager', S),
    f('operation', 'Operation', S),
    f('apiVersion', 'APIVersion', S),
    p('time', 'Time', T),
    f('fieldsType', 'FieldsType', S),
    p('fieldsV1', 'FieldsV1', RAW),
  ],
};

const OWNER_REFERENCE: StructSchema = {
  goType: 'v1.OwnerReference',
  fields: [
    f('apiVersion', 'APIVersion', S, { omitempty: false }),
    f('kind', 'Kind', S, { omitempty: false }),
    f('name', 'Name', S, { omitempty: false }),
    f('uid', 'UID', S, { omitempty: false }),
    p('controller', 'Controller', B),
    p('blockOwnerDeletion', 'BlockOwnerDeletion', B),
  ],
};

export const OBJECT_META: StructSchema = {
  goType: 'v1.ObjectMeta',
  fields: [
    f('name', 'Name', S),
    f('generateName', 'GenerateName', S),
    f('namespace', 'Namespace', S),
    f('selfLink', 'SelfLink', S),
    f('uid', 'UID', S),
    f('resourceVersion', 'ResourceVersion', S),
    f('generation', 'Generation', I64),
    f('creationTimestamp', 'CreationTimestamp', T),
    p('deletionTimestamp', 'DeletionTimestamp', T),
    p('deletionGracePeriodSeconds', 'DeletionGracePeriodSeconds', I64),
    f('labels', 'Labels', M),
    f('annotations', 'Annotations', M),
    f('ownerReferences', 'OwnerReferences', {
      t: 'list',
      goType: '[]v1.OwnerReference',
      elem: st(OWNER_REFERENCE),
      kind: { key: 'uid' },
    }),
    f('finalizers', 'Finalizers', { t: 'list', goType: '[]string', elem: S, kind: 'set' }),
    f('clusterName', 'ClusterName', S),
    f('managedFields', 'ManagedFields', {
      t: 'list',
      goType: '[]v1.ManagedFieldsEntry',
      elem: st(MANAGED_FIELDS_ENTRY),
      kind: 'atomic',
    }),
  ],
};

const withMeta = (goType: string, rest: FieldSchema[]): StructSchema => ({
  goType,
  fields: [...TYPE_META, f('metadata', 'ObjectMeta', st(OBJECT_META)), ...rest],
});

export const LEASE: StructSchema = withMeta('v1.Lease', [
  f(
    'spec',
    'Spec',
    st({
      goType: 'v1.LeaseSpec',
      fields: [
        p('holderIdentity', 'HolderIdentity', S),
        p('leaseDurationSeconds', 'LeaseDurationSeconds', I32),
        p('acquireTime', 'AcquireTime', MT),
        p('renewTime', 'RenewTime', MT),
        p('leaseTransitions', 'LeaseTransitions', I32),
      ],
    }),
  ),
]);

export const CONFIG_MAP: StructSchema = withMeta('v1.ConfigMap', [
  p('immutable', 'Immutable', B),
  f('data', 'Data', M),
  f('binaryData', 'BinaryData', M),
]);

export const ENDPOINTS: StructSchema = withMeta('v1.Endpoints', [
  f('subsets', 'Subsets', { t: 'list', goType: '[]v1.EndpointSubset', elem: RAW, kind: 'atomic' }),
]);

export const POD: StructSchema = withMeta('v1.Pod', [f('spec', 'Spec', RAW), f('status', 'Status', RAW)]);

const OBJECT_REFERENCE: StructSchema = {
  goType: 'v1.ObjectReference',
  fields: [
    f('kind', 'Kind', S),
    f('namespace', 'Namespace', S),
    f('name', 'Name', S),
    f('uid', 'UID', S),
    f('apiVersion', 'APIVersion', S),
    f('resourceVersion', 'ResourceVersion', S),
    f('fieldPath', 'FieldPath', S),
  ],
};

const EVENT_SOURCE: StructSchema = {
  goType: 'v1.EventSource',
  fields: [f('component', 'Component', S), f('host', 'Host', S)],
};

const CORE_EVENT_SERIES: StructSchema = {
  goType: 'v1.EventSeries',
  fields: [f('count', 'Count', I32), f('lastObservedTime', 'LastObservedTime', MT)],
};

/** core/v1 Event (the storage form of both Event APIs). */
export const CORE_EVENT: StructSchema = withMeta('v1.Event', [
  f('involvedObject', 'InvolvedObject', st(OBJECT_REFERENCE)),
  f('reason', 'Reason', S),
  f('message', 'Message', S),
  f('source', 'Source', st(EVENT_SOURCE)),
  f('firstTimestamp', 'FirstTimestamp', T),
  f('lastTimestamp', 'LastTimestamp', T),
  f('count', 'Count', I32),
  f('type', 'Type', S),
  f('eventTime', 'EventTime', MT, { omitempty: false }),
  p('series', 'Series', st(CORE_EVENT_SERIES)),
  f('action', 'Action', S),
  p('related', 'Related', st(OBJECT_REFERENCE)),
  f('reportingComponent', 'ReportingController', S, { omitempty: false }),
  f('reportingInstance', 'ReportingInstance', S, { omitempty: false }),
]);

/** events.k8s.io/v1 Event. */
export const EVENTS_V1_EVENT: StructSchema = withMeta('v1.Event', [
  f('eventTime', 'EventTime', MT, { omitempty: false }),
  p(
    'series',
    'Series',
    st({ goType: 'v1.EventSeries', fields: [f('count', 'Count', I32), f('lastObservedTime', 'LastObservedTime', MT)] }),
  ),
  f('reportingController', 'ReportingController', S),
  f('reportingInstance', 'ReportingInstance', S),
  f('action', 'Action', S),
  f('reason', 'Reason', S),
  f('regarding', 'Regarding', st(OBJECT_REFERENCE)),
  p('related', 'Related', st(OBJECT_REFERENCE)),
  f('note', 'Note', S),
  f('type', 'Type', S),
  f('deprecatedSource', 'DeprecatedSource', st(EVENT_SOURCE)),
  f('deprecatedFirstTimestamp', 'DeprecatedFirstTimestamp', T),
  f('deprecatedLastTimestamp', 'DeprecatedLastTimestamp', T),
  f('deprecatedCount', 'DeprecatedCount', I32),
]);
