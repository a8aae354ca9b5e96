/** Label and field selectors on list and watch (the subset of k8s.io/apimachinery selectors clients use). */
import { badRequest, type ApiError } from './status.ts';
import type { JsonObject } from './types.ts';

export type Matcher = (obj: JsonObject) => boolean;

const meta = (obj: JsonObject): JsonObject => (obj.metadata ?? {}) as JsonObject;

/** Splits on commas outside parentheses. */
function terms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim() !== '') out.push(current.trim());
  return out;
}

export function parseLabelSelector(selector: string | undefined): Matcher | ApiError {
  if (!selector) return () => true;
  const checks: Matcher[] = [];
  for (const term of terms(selector)) {
    const labels = (obj: JsonObject) => (meta(obj).labels ?? {}) as Record<string, string>;
    let m: RegExpExecArray | null;
    if ((m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term))) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      checks.push(op === '!=' ? (o) => labels(o)[key] !== value : (o) => labels(o)[key] === value);
    } else if ((m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term))) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = list.split(',').map((v) => v.trim());
      checks.push(
        op === 'in'
          ? (o) => values.includes(labels(o)[key] ?? '\u0000')
          : (o) => !values.includes(labels(o)[key] ?? '\u0000'),
      );
    } else if ((m = /^!(\S+)$/.exec(term))) {
      const key = m[1]!;
      checks.push((o) => !(key in labels(o)));
    } else if ((m = /^(\S+)$/.exec(term))) {
      const key = m[1]!;
      checks.push((o) => key in labels(o));
    } else {
      return badRequest(`unable to parse requirement: invalid label selector: ${JSON.stringify(term)}`);
    }
  }
  return (obj) => checks.every((c) => c(obj));
}

export interface FieldSelection {
  matcher: Matcher;
  /** The name an exact `metadata.name=` term pins (RequestInfo uses it for authorization). */
  name: string;
}

/**
 * The field labels a resource can be selected by, as its registered field label conversion and its strategy's
 * selectable fields define them in v1.20. `convert` maps a label of the request's API version to the storage
 * field (or throws the conversion's message); `get` reads that field from a stored object.
 */
export interface FieldLabels {
  convert(label: string): string;
  get(obj: JsonObject, field: string): string;
}

/** The field at `dotted`: every selectable field is a Go string, so absent reads as "" (its zero value). */
const path = (obj: JsonObject, dotted: string): string => {
  let v: unknown = obj;
  for (const part of dotted.split('.'))
    v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject)[part] : undefined;
  return typeof v === 'string' ? v : '';
};

/**
 * runtime.DefaultMetaV1FieldSelectorConversion: types without a conversion of their own (Lease, ConfigMap, Endpoints).
 */
const META_ONLY: FieldLabels = {
  convert(label) {
    if (label === 'metadata.name' || label === 'metadata.namespace') return label;
    throw new Error(`"${label}" is not a known field selector: only "metadata.name", "metadata.namespace"`);
  },
  get: path,
};

function listed(labels: Record<string, string>, get: (obj: JsonObject, field: string) => string): FieldLabels {
  return {
    convert(label) {
      const field = labels[label];
      if (field === undefined) throw new Error(`field label not supported: ${label}`);
      return field;
    },
    get,
  };
}

const same = (...labels: string[]): Record<string, string> => Object.fromEntries(labels.map((l) => [l, l]));

/** Core v1 Events (pkg/apis/core/v1 AddFieldLabelConversionsForEvent, registry/core/event ToSelectableFields). */
const eventField = (obj: JsonObject, field: string): string => {
  if (field === 'source') return path(obj, 'source.component') || path(obj, 'reportingComponent');
  return path(obj, field);
};
const CORE_EVENT_LABELS = listed(
  same(
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
    'metadata.namespace',
    'metadata.name',
  ),
  eventField,
);

/** events.k8s.io/v1 Events: their labels map onto the core Event's (pkg/apis/events/v1 conversion). */
const EVENTS_V1_LABELS = listed(
  {
    reason: 'reason',
    'regarding.kind': 'involvedObject.kind',
    'regarding.namespace': 'involvedObject.namespace',
    'regarding.name': 'involvedObject.name',
    'regarding.uid': 'involvedObject.uid',
    'regarding.apiVersion': 'involvedObject.apiVersion',
    'regarding.resourceVersion': 'involvedObject.resourceVersion',
    'regarding.fieldPath': 'involvedObject.fieldPath',
    reportingController: 'reportingComponent',
    type: 'type',
    'metadata.namespace': 'metadata.namespace',
    'metadata.name': 'metadata.name',
  },
  eventField,
);

/** Pods (pkg/apis/core/v1 conversion, registry/core/pod ToSelectableFields). */
const POD_LABELS = listed(
  {
    ...same(
      'metadata.name',
      'metadata.namespace',
      'spec.nodeName',
      'spec.restartPolicy',
      'spec.schedulerName',
      'spec.serviceAccountName',
      'status.phase',
      'status.podIP',
      'status.podIPs',
      'status.nominatedNodeName',
    ),
    'spec.host': 'spec.nodeName',
  },
  (obj, field) => {
    if (field === 'status.podIP') {
      const ips = (obj.status as JsonObject | undefined)?.podIPs;
      return Array.isArray(ips) && ips.length > 0 ? path(ips[0] as JsonObject, 'ip') : '';
    }
    if (field === 'status.podIPs') return '';
    return path(obj, field);
  },
);

export function fieldLabelsFor(group: string, resource: string): FieldLabels {
  if (resource === 'events') return group === 'events.k8s.io' ? EVENTS_V1_LABELS : CORE_EVENT_LABELS;
  if (resource === 'pods' && group === '') return POD_LABELS;
  return META_ONLY;
}

/** Parses a field selector; with `labels`, converts and checks each term as the real server does (400 otherwise). */
export function parseFieldSelector(
  selector: string | undefined,
  labels: FieldLabels = META_ONLY,
): FieldSelection | ApiError {
  if (!selector) return { matcher: () => true, name: '' };
  const checks: Matcher[] = [];
  let name = '';
  for (const term of terms(selector)) {
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) return badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    const [, label, op, value] = m as unknown as [string, string, string, string];
    if (op !== '!=' && label === 'metadata.name') name = value;
    let field: string;
    try {
      field = labels.convert(label);
    } catch (error) {
      return badRequest((error as Error).message);
    }
    const get = (o: JsonObject) => labels.get(o, field);
    checks.push(op === '!=' ? (o) => get(o) !== value : (o) => get(o) === value);
  }
  return { matcher: (obj) => checks.every((c) => c(obj)), name };
}
