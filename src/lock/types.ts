/** What a lock stores: client-go's LeaderElectionRecord, whatever the lock kind. */
export interface LeaderElectionRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  /** Wall-clock times, informative only: expiry is always judged on the local monotonic clock. */
  acquireTime: Date | null;
  renewTime: Date | null;
  leaderTransitions: number;
}

/**
 * A lock kind, as `--lock` names it: the resource (plural) that holds the record. `leases` is client-go's LeaseLock;
 * `configmaps` and `endpoints` are the legacy annotation locks of leader-elector 0.4 and client-go < 1.24.
 */
export type LockKind = 'leases' | 'configmaps' | 'endpoints';

/** Every lock kind, in `--help`'s order. */
export const LOCK_KINDS = ['leases', 'configmaps', 'endpoints'] as const satisfies readonly LockKind[];

/** What each lock kind is in the Kubernetes API: for RBAC hints, event references and CloudEvents sources. */
export const LOCK_RESOURCES: Record<LockKind, { kind: string; group: string; apiVersion: string }> = {
  leases: { kind: 'Lease', group: 'coordination.k8s.io', apiVersion: 'coordination.k8s.io/v1' },
  configmaps: { kind: 'ConfigMap', group: '', apiVersion: 'v1' },
  endpoints: { kind: 'Endpoints', group: '', apiVersion: 'v1' },
};

/** The REST path of a lock kind's collection in a namespace, e.g. `/api/v1/namespaces/default/endpoints`. */
export function lockCollectionPath(kind: LockKind, namespace: string): string {
  const { group, apiVersion } = LOCK_RESOURCES[kind];
  return `/${group ? 'apis' : 'api'}/${apiVersion}/namespaces/${encodeURIComponent(namespace)}/${kind}`;
}

/** The REST path of a lock object, e.g. `/apis/coordination.k8s.io/v1/namespaces/default/leases/my-app`. */
export function lockPath(kind: LockKind, namespace: string, name: string): string {
  return `${lockCollectionPath(kind, namespace)}/${name}`;
}

/** A reference to one object, as core/v1 ObjectReference (an Event's `involvedObject`). */
export interface ObjectReference {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
  uid?: string;
}

/** The lock object as an event's involvedObject, with the kind and apiVersion client-go's resource locks use. */
export function lockReference(lock: LockKind, namespace: string, name: string, uid?: string): ObjectReference {
  const { kind, apiVersion } = LOCK_RESOURCES[lock];
  return { kind, apiVersion, namespace, name, ...(uid ? { uid } : {}) };
}

/** One read of the lock object. `object` is the whole API object, kept so an update replaces exactly what was read. */
export interface LockObservation {
  record: LeaderElectionRecord | null;
  /** Opaque: compared only for equality. */
  resourceVersion: string;
  /** The object's `metadata.uid`: a deleted and recreated lock is another object, whose transitions restart at 0. */
  uid: string;
  /** leaderhook's own annotations on the lock object (e.g. delivery cursors), written with the record. */
  annotations: Record<string, string>;
  /** The record as stored, to tell a changed record from an unchanged one without trusting any clock. */
  rawRecord: string;
  object: unknown;
}

export type WatchEvent =
  { type: 'changed'; observation: LockObservation } | { type: 'deleted'; resourceVersion: string };

export interface WatchHandlers {
  onEvent(event: WatchEvent): void;
  /**
   * The stream ended (closed by the server or the client library, or failed); the caller decides when to watch again.
   */
  onEnd(error: unknown): void;
}

/** One lock kind against the Kubernetes API, as client-go's resourcelock.Interface. */
export interface Lock {
  readonly kind: LockKind;
  readonly namespace: string;
  readonly name: string;
  /** `null` when the object does not exist. `signal` ends the request early, as for `update`. */
  get(signal?: AbortSignal): Promise<LockObservation | null>;
  /** Fails with a 409 when the object already exists. */
  create(record: LeaderElectionRecord, annotations: Record<string, string>): Promise<LockObservation>;
  /**
   * Compare-and-swap on `previous.resourceVersion`; a 409 means somebody else wrote first. `signal` ends the request
   * early (a release given up); it then rejects as a `network` failure.
   */
  update(
    previous: LockObservation,
    record: LeaderElectionRecord,
    annotations: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<LockObservation>;
  /** Watches this one object from `resourceVersion`; returns a function that stops the watch. */
  watch(resourceVersion: string, handlers: WatchHandlers): Promise<() => void>;
  /**
   * Builds the request that `update(previous, record, annotations)` would send and drops it before anything is sent,
   * so a follower's takeover (its first write) runs code that is already compiled. Best effort: never sends, never
   * rejects.
   */
  rehearseUpdate?(
    previous: LockObservation,
    record: LeaderElectionRecord,
    annotations: Record<string, string>,
  ): Promise<void>;
}

/**
 * The annotations a lock write carries (e.g. the notifier's delivery cursors), given the object the write replaces
 * (`null` for a create) and the record it sends.
 */
export type LockAnnotations = (
  replaced: LockObservation | null,
  record: LeaderElectionRecord,
) => Record<string, string>;
