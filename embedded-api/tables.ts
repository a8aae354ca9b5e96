/**
 * Server-side printing, as kube-apiserver v1.20 answers `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`
 * (what `kubectl get` asks for): a `meta.k8s.io` Table with the columns and cells of
 * pkg/printers/internalversion/printers.go (printLease, printConfigMap, printEndpoints, printPod, printEvent), always
 * generated wide, as the server does, and each row's object as `includeObject` says (PartialObjectMetadata by default).
 */
import type { ResourceType } from './resources.ts';
import type { Json, JsonObject } from './types.ts';

/** The Table API version the client accepted first, or undefined for the object itself. */
export type TableVersion = 'v1' | 'v1beta1';

/** `?includeObject=`: what each row carries besides its cells. */
type IncludeObject = 'None' | 'Metadata' | 'Object';

interface Column {
  name: string;
  type: 'string' | 'integer';
  format?: 'name';
  description: string;
  priority?: 1;
}

const DOC = {
  name: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: http://kubernetes.io/docs/user-guide/identifiers#names',
  creationTimestamp:
    'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata',
};
const NAME: Column = { name: 'Name', type: 'string', format: 'name', description: DOC.name };
const AGE: Column = { name: 'Age', type: 'string', description: DOC.creationTimestamp };

const LEASE_COLUMNS: Column[] = [
  NAME,
  {
    name: 'Holder',
    type: 'string',
    description: 'holderIdentity contains the identity of the holder of a current lease.',
  },
  AGE,
];

const CONFIG_MAP_COLUMNS: Column[] = [
  NAME,
  {
    name: 'Data',
    type: 'string',
    description:
      "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
  },
  AGE,
];

const ENDPOINTS_COLUMNS: Column[] = [
  NAME,
  {
    name: 'Endpoints',
    type: 'string',
    description:
      'The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.',
  },
  AGE,
];

const POD_COLUMNS: Column[] = [
  NAME,
  { name: 'Ready', type: 'string', description: 'The aggregate readiness state of this pod for accepting traffic.' },
  { name: 'Status', type: 'string', description: 'The aggregate status of the containers in this pod.' },
  {
    name: 'Restarts',
    type: 'integer',
    description: 'The number of times the containers in this pod have been restarted.',
  },
  AGE,
  {
    name: 'IP',
    type: 'string',
    priority: 1,
    description: 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.',
  },
  {
    name: 'Node',
    type: 'string',
    priority: 1,
    description:
      'NodeName is a request to schedule this pod onto a specific node. If it is non-empty, the scheduler simply schedules this pod onto that node, assuming that it fits resource requirements.',
  },
  {
    name: 'Nominated Node',
    type: 'string',
    priority: 1,
    description:
      'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.',
  },
  {
    name: 'Readiness Gates',
    type: 'string',
    priority: 1,
    description:
      'If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to "True" More info: https://git.k8s.io/enhancements/keps/sig-network/0007-pod-ready%2B%2B.md',
  },
];

const EVENT_COLUMNS: Column[] = [
  {
    name: 'Last Seen',
    type: 'string',
    description: 'The time at which the most recent occurrence of this event was recorded.',
  },
  {
    name: 'Type',
    type: 'string',
    description: 'Type of this event (Normal, Warning), new types could be added in the future',
  },
  {
    name: 'Reason',
    type: 'string',
    description:
      "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
  },
  { name: 'Object', type: 'string', description: 'The object that this event is about.' },
  {
    name: 'Subobject',
    type: 'string',
    priority: 1,
    description:
      'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: "spec.containers{name}" (where "name" refers to the name of the container that triggered the event) or if no container name is specified "spec.containers[2]" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.',
  },
  {
    name: 'Source',
    type: 'string',
    priority: 1,
    description: 'The component reporting this event. Should be a short machine understandable string.',
  },
  { name: 'Message', type: 'string', description: 'A human-readable description of the status of this operation.' },
  {
    name: 'First Seen',
    type: 'string',
    priority: 1,
    description: 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)',
  },
  { name: 'Count', type: 'string', priority: 1, description: 'The number of times this event has occurred.' },
  { ...NAME, priority: 1 },
];

const isObject = (value: Json | undefined): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const objectAt = (value: Json | undefined): JsonObject => (isObject(value) ? value : {});
const listAt = (value: Json | undefined): Json[] => (Array.isArray(value) ? value : []);
const text = (value: Json | undefined): string => (typeof value === 'string' ? value : '');
const count = (value: Json | undefined): number => (typeof value === 'number' ? value : 0);

/** apimachinery's duration.HumanDuration: the age format of every `kubectl get` column. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.trunc(hours / 24)}d${hours % 24}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 365 * 2) return `${days}d`;
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${days / 365}y` : `${Math.trunc(days / 365)}y${days % 365}d`;
  return `${Math.trunc(days / 365)}y`;
}

/** translateTimestampSince / translateMicroTimestampSince: `<unknown>` for an unset time. */
function since(time: Json | undefined, nowMs: number): string {
  const at = typeof time === 'string' && time !== '' ? Date.parse(time) : Number.NaN;
  return Number.isNaN(at) ? '<unknown>' : humanDuration(nowMs - at);
}

function leaseCells(lease: JsonObject, nowMs: number): Json[] {
  const meta = objectAt(lease.metadata);
  return [text(meta.name), text(objectAt(lease.spec).holderIdentity), since(meta.creationTimestamp, nowMs)];
}

function configMapCells(configMap: JsonObject, nowMs: number): Json[] {
  const meta = objectAt(configMap.metadata);
  const keys = Object.keys(objectAt(configMap.data)).length + Object.keys(objectAt(configMap.binaryData)).length;
  return [text(meta.name), keys, since(meta.creationTimestamp, nowMs)];
}

/** formatEndpoints: the first three host:port pairs (or bare IPs for subsets without ports), then "+ N more...". */
function formatEndpoints(endpoints: JsonObject): string {
  const subsets = listAt(endpoints.subsets).map(objectAt);
  if (subsets.length === 0) return '<none>';
  const shown: string[] = [];
  const max = 3;
  let more = false;
  let total = 0;
  const add = (entry: string): void => {
    if (shown.length === max) more = true;
    if (!more) shown.push(entry);
    total++;
  };
  for (const subset of subsets) {
    const addresses = listAt(subset.addresses).map(objectAt);
    const ports = listAt(subset.ports).map(objectAt);
    if (ports.length === 0) for (const address of addresses) add(text(address.ip));
    else {
      for (const port of ports) {
        for (const address of addresses) {
          const ip = text(address.ip);
          add(`${ip.includes(':') ? `[${ip}]` : ip}:${count(port.port)}`);
        }
      }
    }
  }
  return more ? `${shown.join(',')} + ${total - max} more...` : shown.join(',');
}

function endpointsCells(endpoints: JsonObject, nowMs: number): Json[] {
  const meta = objectAt(endpoints.metadata);
  return [text(meta.name), formatEndpoints(endpoints), since(meta.creationTimestamp, nowMs)];
}

/** printPod: READY, STATUS (the first reason that applies, as kubectl shows it), RESTARTS, and the wide columns. */
function podCells(pod: JsonObject, nowMs: number): { cells: Json[]; conditions?: Json } {
  const meta = objectAt(pod.metadata);
  const spec = objectAt(pod.spec);
  const status = objectAt(pod.status);
  const phase = text(status.phase);
  let reason = text(status.reason) || phase;
  let restarts = 0;
  let ready = 0;
  const initSpecs = listAt(spec.initContainers);
  let initializing = false;
  for (const [index, entry] of listAt(status.initContainerStatuses).entries()) {
    const container = objectAt(entry);
    const state = objectAt(container.state);
    restarts += count(container.restartCount);
    const terminated = isObject(state.terminated) ? state.terminated : undefined;
    const waiting = isObject(state.waiting) ? state.waiting : undefined;
    if (terminated && count(terminated.exitCode) === 0) continue;
    if (terminated) {
      reason = text(terminated.reason)
        ? `Init:${text(terminated.reason)}`
        : count(terminated.signal) !== 0
          ? `Init:Signal:${count(terminated.signal)}`
          : `Init:ExitCode:${count(terminated.exitCode)}`;
    } else if (waiting && text(waiting.reason) && text(waiting.reason) !== 'PodInitializing') {
      reason = `Init:${text(waiting.reason)}`;
    } else {
      reason = `Init:${index}/${initSpecs.length}`;
    }
    initializing = true;
    break;
  }
  if (!initializing) {
    restarts = 0;
    let hasRunning = false;
    const statuses = listAt(status.containerStatuses).map(objectAt);
    for (let index = statuses.length - 1; index >= 0; index--) {
      const container = statuses[index]!;
      const state = objectAt(container.state);
      restarts += count(container.restartCount);
      const terminated = isObject(state.terminated) ? state.terminated : undefined;
      const waiting = isObject(state.waiting) ? state.waiting : undefined;
      if (waiting && text(waiting.reason)) reason = text(waiting.reason);
      else if (terminated && text(terminated.reason)) reason = text(terminated.reason);
      else if (terminated)
        reason =
          count(terminated.signal) !== 0
            ? `Signal:${count(terminated.signal)}`
            : `ExitCode:${count(terminated.exitCode)}`;
      else if (container.ready === true && isObject(state.running)) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) reason = 'Running';
  }
  if (meta.deletionTimestamp) reason = text(status.reason) === 'NodeLost' ? 'Unknown' : 'Terminating';

  const gates = listAt(spec.readinessGates).map(objectAt);
  let readinessGates = '<none>';
  if (gates.length > 0) {
    const conditions = listAt(status.conditions).map(objectAt);
    const met = gates.filter(
      (gate) => conditions.find((condition) => condition.type === gate.conditionType)?.status === 'True',
    ).length;
    readinessGates = `${met}/${gates.length}`;
  }
  const cells: Json[] = [
    text(meta.name),
    `${ready}/${listAt(spec.containers).length}`,
    reason,
    restarts,
    since(meta.creationTimestamp, nowMs),
    text(status.podIP) || '<none>',
    text(spec.nodeName) || '<none>',
    text(status.nominatedNodeName) || '<none>',
    readinessGates,
  ];
  const completed = (why: string, message: string): Json => [
    { type: 'Completed', status: 'True', reason: why, message },
  ];
  if (phase === 'Succeeded')
    return { cells, conditions: completed('Succeeded', 'The pod has completed successfully.') };
  if (phase === 'Failed') return { cells, conditions: completed('Failed', 'The pod failed.') };
  return { cells };
}

/** printEvent, on the core (storage) form of an Event, which both Event APIs print alike. */
function eventCells(event: JsonObject, nowMs: number): Json[] {
  const meta = objectAt(event.metadata);
  const involved = objectAt(event.involvedObject);
  const source = objectAt(event.source);
  const series = isObject(event.series) ? event.series : undefined;
  const firstSeen = event.firstTimestamp ? since(event.firstTimestamp, nowMs) : since(event.eventTime, nowMs);
  let lastSeen = event.lastTimestamp ? since(event.lastTimestamp, nowMs) : firstSeen;
  let times = count(event.count);
  if (series) {
    lastSeen = since(series.lastObservedTime, nowMs);
    times = count(series.count);
  } else if (times === 0) times = 1;
  const kind = text(involved.kind).toLowerCase();
  const target = text(involved.name) ? `${kind}/${text(involved.name)}` : kind;
  const component = text(source.component) || text(event.reportingComponent);
  const instance = text(source.host) || text(event.reportingInstance);
  const reportedBy = component === '' ? '<unknown>' : instance === '' ? component : `${component}, ${instance}`;
  return [
    lastSeen,
    text(event.type),
    text(event.reason),
    target,
    text(involved.fieldPath),
    reportedBy,
    text(event.message).trim(),
    firstSeen,
    times,
    text(meta.name),
  ];
}

interface Printer {
  columns: Column[];
  row(stored: JsonObject, nowMs: number): { cells: Json[]; conditions?: Json };
}

const PRINTERS: Record<string, Printer> = {
  leases: { columns: LEASE_COLUMNS, row: (o, now) => ({ cells: leaseCells(o, now) }) },
  configmaps: { columns: CONFIG_MAP_COLUMNS, row: (o, now) => ({ cells: configMapCells(o, now) }) },
  endpoints: { columns: ENDPOINTS_COLUMNS, row: (o, now) => ({ cells: endpointsCells(o, now) }) },
  pods: { columns: POD_COLUMNS, row: podCells },
  events: { columns: EVENT_COLUMNS, row: (o, now) => ({ cells: eventCells(o, now) }) },
};

/**
 * The Table version a request asks for: the first entry of its Accept header the server can produce, as
 * apiserver's content negotiation picks it (`as=Table;g=meta.k8s.io;v=v1|v1beta1` on application/json).
 */
export function acceptedTable(accept: string | undefined): TableVersion | undefined {
  for (const clause of (accept ?? '').split(',')) {
    const [mediaType, ...parameters] = clause.split(';').map((part) => part.trim());
    if (mediaType !== 'application/json' && mediaType !== '*/*' && mediaType !== 'application/*') continue;
    const params = Object.fromEntries(
      parameters.map((p) => p.split('=').map((side) => side.trim()) as [string, string]),
    );
    if (params.as === undefined) return undefined;
    if (params.as === 'Table' && params.g === 'meta.k8s.io' && (params.v === 'v1' || params.v === 'v1beta1'))
      return params.v;
  }
  return undefined;
}

export interface TableRequest {
  version: TableVersion;
  includeObject: IncludeObject;
  /** Objects in the API's form (for the row object) and storage form (for the cells). */
  type: ResourceType;
}

/** `?includeObject=` (default Metadata), or a message for a value the server refuses. */
export function includeObjectOf(raw: string | null): IncludeObject {
  return raw === 'None' || raw === 'Object' ? raw : 'Metadata';
}

function rowObject(request: TableRequest, api: JsonObject): Json {
  if (request.includeObject === 'None') return null;
  if (request.includeObject === 'Object') return api;
  return {
    kind: 'PartialObjectMetadata',
    apiVersion: `meta.k8s.io/${request.version}`,
    metadata: objectAt(api.metadata),
  };
}

/**
 * A Table of `items` (pairs of the storage form, which is printed, and the API form, which a row may carry).
 * `withColumns: false` leaves `columnDefinitions` null, as on every watch event after the first.
 */
export function toTable(
  request: TableRequest,
  items: ReadonlyArray<{ stored: JsonObject; api: JsonObject }>,
  resourceVersion: string,
  withColumns = true,
): JsonObject {
  const printer = PRINTERS[request.type.resource];
  if (!printer) throw new Error(`embedded API: no table printer for ${request.type.resource}`);
  const nowMs = Date.now();
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${request.version}`,
    metadata: { resourceVersion },
    columnDefinitions: withColumns
      ? printer.columns.map((column) => ({
          name: column.name,
          type: column.type,
          format: column.format ?? '',
          description: column.description,
          priority: column.priority ?? 0,
        }))
      : null,
    rows: items.map(({ stored, api }) => {
      const { cells, conditions } = printer.row(stored, nowMs);
      return {
        cells,
        ...(conditions === undefined ? {} : { conditions }),
        object: rowObject(request, api),
      };
    }),
  };
}
