/**
 * `metadata.managedFields` for Update operations, following the v1.20 field manager: the manager is the
 * request's `fieldManager` or the User-Agent up to the first "/"; it takes ownership of every field the
 * request added or changed (others lose those fields), removed fields leave every set, and the entry's time
 * moves only when the request changed something. Field sets are printed as FieldsV1 (`f:`, `k:`, `v:`, `.`).
 */
import { nowTime } from './microtime.ts';
import type { StructSchema, TypeSchema } from './schemas.ts';
import type { Json, JsonObject } from './types.ts';

/** A path is its FieldsV1 segments, e.g. ["f:spec", "f:renewTime"], joined with NUL for use as a key. */
type PathKey = string;
const SEP = '\u0000';

/** Path → leaf value (for change detection), or MEMBER for non-leaf members such as maps ("."). */
type FieldSet = Map<PathKey, string>;
const MEMBER = '\u0001member';

/** Fields no manager owns (fieldmanager's stripSet). */
const STRIPPED_META = new Set([
  'name',
  'namespace',
  'creationTimestamp',
  'selfLink',
  'uid',
  'clusterName',
  'generation',
  'managedFields',
  'resourceVersion',
]);

export function managerFromUserAgent(userAgent: string): string {
  return userAgent.split('/')[0] ?? '';
}

/** Every owned path of `obj`, with its leaf value. */
export function fieldSetOf(obj: JsonObject, schema: StructSchema): FieldSet {
  const set: FieldSet = new Map();
  for (const field of schema.fields) {
    if (field.json === 'kind' || field.json === 'apiVersion') continue;
    const v = obj[field.json];
    if (v === undefined) continue;
    if (
      field.json === 'metadata' &&
      field.type.t === 'struct' &&
      v !== null &&
      typeof v === 'object' &&
      !Array.isArray(v)
    ) {
      for (const mf of field.type.s.fields) {
        const mv = v[mf.json];
        if (mv === undefined || STRIPPED_META.has(mf.json)) continue;
        walk(set, ['f:metadata', `f:${mf.json}`], mf.type, mv);
      }
      continue;
    }
    walk(set, [`f:${field.json}`], field.type, v);
  }
  return set;
}

const leaf = (set: FieldSet, path: string[], v: Json): void => {
  set.set(path.join(SEP), JSON.stringify(v));
};

const isObject = (v: Json): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

function walk(set: FieldSet, path: string[], type: TypeSchema, v: Json): void {
  // A null field (e.g. an Event's unset eventTime, which Go prints as null) is owned by nobody.
  if (v === null) return;
  switch (type.t) {
    case 'struct': {
      if (!isObject(v) || Object.keys(v).length === 0) return leaf(set, path, v);
      for (const f of type.s.fields) {
        const fv = v[f.json];
        if (fv !== undefined) walk(set, [...path, `f:${f.json}`], f.type, fv);
      }
      return;
    }
    case 'raw': {
      if (!isObject(v) || Object.keys(v).length === 0) return leaf(set, path, v);
      for (const [k, fv] of Object.entries(v)) walk(set, [...path, `f:${k}`], type, fv);
      return;
    }
    case 'map': {
      if (!isObject(v) || Object.keys(v).length === 0) return leaf(set, path, v);
      set.set(path.join(SEP), MEMBER);
      for (const [k, fv] of Object.entries(v)) leaf(set, [...path, `f:${k}`], fv);
      return;
    }
    case 'list': {
      if (!Array.isArray(v) || v.length === 0 || type.kind === 'atomic') return leaf(set, path, v);
      if (type.kind === 'set') {
        set.set(path.join(SEP), MEMBER);
        for (const item of v) leaf(set, [...path, `v:${JSON.stringify(item)}`], item);
        return;
      }
      const key = type.kind.key;
      for (const item of v) {
        if (!isObject(item)) continue;
        const itemPath = [...path, `k:${JSON.stringify({ [key]: item[key] ?? null })}`];
        set.set(itemPath.join(SEP), MEMBER);
        walk(set, itemPath, type.elem, item);
        set.set(itemPath.join(SEP), MEMBER);
      }
      return;
    }
    default:
      return leaf(set, path, v);
  }
}

/** One manager's entry before encoding. */
interface Entry {
  manager: string;
  operation: string;
  apiVersion: string;
  time: string | undefined;
  fields: Set<PathKey>;
}

function decodeFieldsV1(node: Json, prefix: string[], out: Set<PathKey>): void {
  if (!isObject(node)) return;
  const keys = Object.keys(node).filter((k) => k !== '.');
  if (keys.length === 0 || '.' in node) {
    if (prefix.length > 0) out.add(prefix.join(SEP));
  }
  for (const k of keys) decodeFieldsV1(node[k] ?? null, [...prefix, k], out);
}

const SEGMENT_ORDER: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };
const compareSegments = (a: string, b: string): number => {
  const d = (SEGMENT_ORDER[a[0] ?? 'f'] ?? 0) - (SEGMENT_ORDER[b[0] ?? 'f'] ?? 0);
  return d !== 0 ? d : a < b ? -1 : a > b ? 1 : 0;
};

function encodeFieldsV1(paths: Set<PathKey>): JsonObject {
  interface Node {
    member: boolean;
    children: Map<string, Node>;
  }
  const root: Node = { member: false, children: new Map() };
  for (const p of paths) {
    let node = root;
    for (const seg of p.split(SEP)) {
      let child = node.children.get(seg);
      if (!child) {
        child = { member: false, children: new Map() };
        node.children.set(seg, child);
      }
      node = child;
    }
    node.member = true;
  }
  const emit = (node: Node): JsonObject => {
    const out: JsonObject = {};
    if (node.member && node.children.size > 0) out['.'] = {};
    for (const seg of [...node.children.keys()].sort(compareSegments)) out[seg] = emit(node.children.get(seg)!);
    return out;
  };
  return emit(root);
}

function decodeEntries(list: Json | undefined): Entry[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const out: Entry[] = [];
  for (const e of list) {
    if (!isObject(e)) return undefined;
    const fields = new Set<PathKey>();
    decodeFieldsV1(e.fieldsV1 ?? null, [], fields);
    out.push({
      manager: typeof e.manager === 'string' ? e.manager : '',
      operation: typeof e.operation === 'string' ? e.operation : '',
      apiVersion: typeof e.apiVersion === 'string' ? e.apiVersion : '',
      time: typeof e.time === 'string' ? e.time : undefined,
      fields,
    });
  }
  return out;
}

const isReset = (list: Json | undefined): boolean =>
  Array.isArray(list) &&
  (list.length === 0 || (list.length === 1 && isObject(list[0]!) && Object.keys(list[0]).length === 0));

/** Encoded and sorted like fieldmanager's encodeManagedFields / sortEncodedManagedFields. */
function encodeEntries(entries: Entry[]): JsonObject[] {
  const seconds = (t: string | undefined): number => (t ? Date.parse(t) / 1000 : 0);
  const sorted = [...entries].sort((p, q) => {
    if (p.operation !== q.operation) return p.operation < q.operation ? -1 : 1;
    if (seconds(p.time) !== seconds(q.time)) return seconds(p.time) - seconds(q.time);
    if (p.manager !== q.manager) return p.manager < q.manager ? -1 : 1;
    return p.apiVersion < q.apiVersion ? -1 : p.apiVersion > q.apiVersion ? 1 : 0;
  });
  return sorted.map((e) => {
    const o: JsonObject = { manager: e.manager, operation: e.operation, apiVersion: e.apiVersion };
    if (e.time !== undefined) o.time = e.time;
    o.fieldsType = 'FieldsV1';
    o.fieldsV1 = encodeFieldsV1(e.fields);
    return o;
  });
}

/**
 * The managedFields for `next` after an Update by `manager` (`live` is undefined on create).
 * `requested` is the managedFields the client sent (absent/null: keep the live ones; [] or [{}]: reset).
 */
export function updateManagedFields(args: {
  live: JsonObject | undefined;
  next: JsonObject;
  requested: Json | undefined;
  schema: StructSchema;
  manager: string;
  apiVersion: string;
}): JsonObject[] | undefined {
  const { live, next, requested, schema, manager, apiVersion } = args;
  const liveMeta = live?.metadata;
  let entries: Entry[];
  if (isReset(requested)) entries = [];
  else
    entries =
      decodeEntries(requested) ??
      (isObject(liveMeta ?? null) ? decodeEntries((liveMeta as JsonObject).managedFields) : undefined) ??
      [];
  const before = live ? fieldSetOf(live, schema) : new Map<PathKey, string>();
  const after = fieldSetOf(next, schema);
  const changed = new Set<PathKey>();
  for (const [p, v] of after) if (before.get(p) !== v) changed.add(p);
  const removed = new Set<PathKey>([...before.keys()].filter((p) => !after.has(p)));
  for (const e of entries) for (const p of [...e.fields]) if (changed.has(p) || removed.has(p)) e.fields.delete(p);
  if (changed.size > 0) {
    const own = entries.find((e) => e.manager === manager && e.operation === 'Update' && e.apiVersion === apiVersion);
    if (own) {
      for (const p of changed) own.fields.add(p);
      own.time = nowTime();
    } else {
      entries.push({ manager, operation: 'Update', apiVersion, time: nowTime(), fields: changed });
    }
  }
  const kept = entries.filter((e) => e.fields.size > 0);
  return kept.length > 0 ? encodeEntries(kept) : undefined;
}
