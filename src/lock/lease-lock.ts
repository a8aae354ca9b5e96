import { CoordinationV1Api, V1MicroTime, Watch, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { toKubeApiError } from '../kube-api/api-error.ts';
import { readOrNull } from '../kube-api/read-or-null.ts';
import { requestOptions, unsentRequestOptions } from '../kube-api/request-options.ts';
import { formatMicroTime, parseTimestamp } from '../kube-api/wire-time.ts';
import { ownAnnotations, withOwnAnnotations } from './own-annotations.ts';
import {
  lockCollectionPath,
  type LeaderElectionRecord,
  type Lock,
  type LockObservation,
  type WatchHandlers,
} from './types.ts';
import { watchObject } from './watch-object.ts';

/** A coordination.k8s.io/v1 Lease, as client-go's LeaseLock: the record maps onto LeaseSpec. */
export class LeaseLock implements Lock {
  readonly kind = 'leases' as const;
  readonly namespace: string;
  readonly name: string;
  readonly #api: CoordinationV1Api;
  readonly #watch: Watch;
  readonly #requestTimeoutMs: number;
  readonly #unsent = unsentRequestOptions();

  constructor(kubeConfig: KubeConfig, namespace: string, name: string, requestTimeoutMs: number) {
    this.#requestTimeoutMs = requestTimeoutMs;
    this.namespace = namespace;
    this.name = name;
    this.#api = kubeConfig.makeApiClient(CoordinationV1Api);
    this.#watch = new Watch(kubeConfig);
  }

  async get(signal?: AbortSignal): Promise<LockObservation | null> {
    const { name, namespace } = this;
    const options = requestOptions(this.#requestTimeoutMs, signal);
    const lease = await readOrNull('get', () => this.#api.readNamespacedLease({ name, namespace }, options));
    return lease && observe(lease);
  }

  async create(record: LeaderElectionRecord, annotations: Record<string, string>): Promise<LockObservation> {
    const body: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.name,
        namespace: this.namespace,
        ...(Object.keys(annotations).length ? { annotations } : {}),
      },
      spec: toSpec(record),
    };
    try {
      return observe(
        await this.#api.createNamespacedLease(
          { namespace: this.namespace, body },
          requestOptions(this.#requestTimeoutMs),
        ),
      );
    } catch (error) {
      throw toKubeApiError('create', error);
    }
  }

  async update(
    previous: LockObservation,
    record: LeaderElectionRecord,
    annotations: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<LockObservation> {
    const body = updated(previous, record, annotations);
    const options = requestOptions(this.#requestTimeoutMs, signal);
    try {
      return observe(
        await this.#api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body }, options),
      );
    } catch (error) {
      throw toKubeApiError('update', error);
    }
  }

  async rehearseUpdate(
    previous: LockObservation,
    record: LeaderElectionRecord,
    annotations: Record<string, string>,
  ): Promise<void> {
    const body = updated(previous, record, annotations);
    try {
      observe(
        await this.#api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body }, this.#unsent),
      );
    } catch (error) {
      toKubeApiError('update', error);
    }
  }

  watch(resourceVersion: string, handlers: WatchHandlers): Promise<() => void> {
    const path = lockCollectionPath(this.kind, this.namespace);
    return watchObject(this.#watch, path, this.name, resourceVersion, (object) => observe(object as V1Lease), handlers);
  }
}

/** The Lease `update` sends: the observed object with the new record, compare-and-swap on its resourceVersion. */
function updated(
  previous: LockObservation,
  record: LeaderElectionRecord,
  annotations: Record<string, string>,
): V1Lease {
  const lease = previous.object as V1Lease;
  return {
    ...lease,
    metadata: withOwnAnnotations({ ...lease.metadata, resourceVersion: previous.resourceVersion }, annotations),
    spec: { ...lease.spec, ...toSpec(record) },
  };
}

function toSpec(record: LeaderElectionRecord): NonNullable<V1Lease['spec']> {
  const time = (date: Date | null) => (date ? new V1MicroTime(date.getTime()) : undefined);
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: time(record.acquireTime),
    renewTime: time(record.renewTime),
    leaseTransitions: record.leaderTransitions,
  };
}

function timeText(value: unknown): string | null {
  if (value instanceof Date) return formatMicroTime(value);
  return typeof value === 'string' ? value : null;
}

function observe(lease: V1Lease): LockObservation {
  const spec = lease.spec ?? {};
  // Read times arrive as strings although typed as dates: parse whatever came.
  const record: LeaderElectionRecord = {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: parseTimestamp(spec.acquireTime),
    renewTime: parseTimestamp(spec.renewTime),
    leaderTransitions: spec.leaseTransitions ?? 0,
  };
  return {
    record,
    resourceVersion: lease.metadata?.resourceVersion ?? '',
    uid: lease.metadata?.uid ?? '',
    annotations: ownAnnotations(lease.metadata?.annotations),
    rawRecord: JSON.stringify([
      record.holderIdentity,
      record.leaseDurationSeconds,
      timeText(spec.acquireTime),
      timeText(spec.renewTime),
      record.leaderTransitions,
    ]),
    object: lease,
  };
}
