/**
 * Objects of the embedded API, kept like etcd keeps them: one global revision counter (every write takes
 * the next revision, which becomes the object's resourceVersion), per-resource watch history like the
 * apiserver's watch cache (bounded; a watch from a revision older than what is retained gets 410 Expired),
 * and fan-out of changes to open watches. The store survives an API "restart" (stop/start), as etcd would;
 * the watch history does not, as the watch cache is rebuilt from a fresh list.
 */
import type { JsonObject } from './types.ts';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  type: ChangeType;
  revision: number;
  namespace: string;
  name: string;
  /** The object in storage form, with metadata.resourceVersion = revision. */
  object: JsonObject;
  /** The object before this change (MODIFIED only), for selector transitions. */
  previous: JsonObject | undefined;
}

interface WatchCache {
  changes: Change[];
  /** True once a change was dropped for capacity (startIndex > 0 in the real watch cache). */
  evicted: boolean;
  /** The revision the cache was (re)built at. */
  listRevision: number;
}

export interface Subscriber {
  storage: string;
  deliver(change: Change): void;
}

export class Store {
  private revision = 1;
  private readonly objects = new Map<string, Map<string, JsonObject>>();
  private readonly caches = new Map<string, WatchCache>();
  private readonly subscribers = new Set<Subscriber>();
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
  }

  get currentRevision(): number {
    return this.revision;
  }

  private bucket(storage: string): Map<string, JsonObject> {
    let b = this.objects.get(storage);
    if (!b) {
      b = new Map();
      this.objects.set(storage, b);
    }
    return b;
  }

  private cache(storage: string): WatchCache {
    let c = this.caches.get(storage);
    if (!c) {
      c = { changes: [], evicted: false, listRevision: this.revision };
      this.caches.set(storage, c);
    }
    return c;
  }

  get(storage: string, namespace: string, name: string): JsonObject | undefined {
    return this.bucket(storage).get(`${namespace}/${name}`);
  }

  /** Objects in key order (etcd lists by key), optionally within one namespace. */
  list(storage: string, namespace: string | undefined): JsonObject[] {
    const entries = [...this.bucket(storage).entries()]
      .filter(([key]) => namespace === undefined || key.startsWith(`${namespace}/`))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return entries.map(([, obj]) => obj);
  }

  /** Writes `object` (storage form, without resourceVersion) and returns it as stored. */
  put(storage: string, namespace: string, name: string, object: JsonObject): JsonObject {
    const key = `${namespace}/${name}`;
    const bucket = this.bucket(storage);
    const previous = bucket.get(key);
    const type: ChangeType = previous ? 'MODIFIED' : 'ADDED';
    const revision = ++this.revision;
    const stored = withRevision(object, revision);
    bucket.set(key, stored);
    this.record(storage, { type, revision, namespace, name, object: stored, previous });
    return stored;
  }

  /** Deletes and returns the object as last stored; the DELETED event carries the deletion revision. */
  delete(storage: string, namespace: string, name: string): JsonObject | undefined {
    const key = `${namespace}/${name}`;
    const bucket = this.bucket(storage);
    const existing = bucket.get(key);
    if (!existing) return undefined;
    bucket.delete(key);
    const revision = ++this.revision;
    this.record(storage, {
      type: 'DELETED',
      revision,
      namespace,
      name,
      object: withRevision(existing, revision),
      previous: undefined,
    });
    return existing;
  }

  private record(storage: string, change: Change): void {
    const c = this.cache(storage);
    c.changes.push(change);
    while (c.changes.length > this.capacity) {
      c.changes.shift();
      c.evicted = true;
    }
    for (const s of this.subscribers) if (s.storage === storage) s.deliver(change);
  }

  /**
   * Changes after `since` for a watch (watchCache.getAllEventsSinceLocked): an `expired` message when
   * `since` is older than what the cache can replay.
   */
  changesSince(storage: string, since: number): { changes: Change[] } | { expired: string } {
    const c = this.cache(storage);
    let oldest: number;
    if (!c.evicted) oldest = c.listRevision + 1;
    else oldest = c.changes[0]?.revision ?? this.revision + 1;
    if (since < oldest - 1) return { expired: `too old resource version: ${since} (${oldest - 1})` };
    return { changes: c.changes.filter((ch) => ch.revision > since) };
  }

  subscribe(s: Subscriber): () => void {
    this.subscribers.add(s);
    return () => this.subscribers.delete(s);
  }

  /** An API server restart: watch caches are rebuilt from a list at the current revision. */
  rebuildWatchCaches(): void {
    for (const c of this.caches.values()) {
      c.changes = [];
      c.evicted = false;
      c.listRevision = this.revision;
    }
  }
}

function withRevision(object: JsonObject, revision: number): JsonObject {
  const meta = { ...((object.metadata ?? {}) as JsonObject) };
  const out: JsonObject = {};
  // Keep the metadata key order: resourceVersion sits after uid.
  const ordered: JsonObject = {};
  let placed = false;
  for (const [k, v] of Object.entries(meta)) {
    if (k === 'resourceVersion') continue;
    if (
      !placed &&
      [
        'generation',
        'creationTimestamp',
        'deletionTimestamp',
        'deletionGracePeriodSeconds',
        'labels',
        'annotations',
        'ownerReferences',
        'finalizers',
        'clusterName',
        'managedFields',
      ].includes(k)
    ) {
      ordered.resourceVersion = String(revision);
      placed = true;
    }
    ordered[k] = v;
  }
  if (!placed) ordered.resourceVersion = String(revision);
  for (const [k, v] of Object.entries(object)) out[k] = k === 'metadata' ? ordered : v;
  if (!('metadata' in out)) out.metadata = ordered;
  return out;
}
