import {
  CoreV1Api,
  Watch,
  type KubeConfig,
  type V1ConfigMap,
  type V1Endpoints,
  type V1ObjectMeta,
} from '@kubernetes/client-node';
import { toKubeApiError } from '../kube-api/api-error.ts';
import { readOrNull } from '../kube-api/read-or-null.ts';
import { requestOptions, type RequestOptions } from '../kube-api/request-options.ts';
import { ownAnnotations, withOwnAnnotations } from './own-annotations.ts';
import { formatAnnotationRecord, parseAnnotationRecord } from './record.ts';
import {
  LOCK_RESOURCES,
  lockCollectionPath,
  type LeaderElectionRecord,
  type Lock,
  type LockKind,
  type LockObservation,
  type WatchHandlers,
} from './types.ts';
import { watchObject } from './watch-object.ts';

/** Where leader-elector 0.4 and client-go before 1.24 keep the record on a ConfigMap or an Endpoints object. */
export const LEADER_ANNOTATION = 'control-plane.alpha.kubernetes.io/leader';

type AnnotatedObject = V1ConfigMap | V1Endpoints;

/** The lock kinds that keep the record in an annotation. */
type AnnotationLockKind = Exclude<LockKind, 'leases'>;

/** The few calls that differ between ConfigMaps and Endpoints. */
interface CoreResource {
  read(api: CoreV1Api, name: string, namespace: string, options: RequestOptions): Promise<AnnotatedObject>;
  create(api: CoreV1Api, namespace: string, body: AnnotatedObject, options: RequestOptions): Promise<AnnotatedObject>;
  replace(
    api: CoreV1Api,
    name: string,
    namespace: string,
    body: AnnotatedObject,
    options: RequestOptions,
  ): Promise<AnnotatedObject>;
}

const resources = {
  configmaps: {
    read: (api, name, namespace, options) => api.readNamespacedConfigMap({ name, namespace }, options),
    create: (api, namespace, body, options) => api.createNamespacedConfigMap({ namespace, body }, options),
    replace: (api, name, namespace, body, options) =>
      api.replaceNamespacedConfigMap({ name, namespace, body }, options),
  },
  endpoints: {
    read: (api, name, namespace, options) => api.readNamespacedEndpoints({ name, namespace }, options),
    create: (api, namespace, body, options) => api.createNamespacedEndpoints({ namespace, body }, options),
    replace: (api, name, namespace, body, options) =>
      api.replaceNamespacedEndpoints({ name, namespace, body }, options),
  },
} satisfies Record<AnnotationLockKind, CoreResource>;

/**
 * The legacy annotation lock on a ConfigMap or an Endpoints object, so a fleet can move off leader-elector 0.4 and
 * older clients without two leaders. Records written by other clients are read leniently.
 */
export class AnnotationLock implements Lock {
  readonly kind: AnnotationLockKind;
  readonly namespace: string;
  readonly name: string;
  readonly #resource: CoreResource;
  readonly #api: CoreV1Api;
  readonly #watch: Watch;
  readonly #requestTimeoutMs: number;

  constructor(
    kubeConfig: KubeConfig,
    kind: AnnotationLockKind,
    namespace: string,
    name: string,
    requestTimeoutMs: number,
  ) {
    this.#requestTimeoutMs = requestTimeoutMs;
    this.kind = kind;
    this.namespace = namespace;
    this.name = name;
    this.#resource = resources[kind];
    this.#api = kubeConfig.makeApiClient(CoreV1Api);
    this.#watch = new Watch(kubeConfig);
  }

  async get(signal?: AbortSignal): Promise<LockObservation | null> {
    const { name, namespace } = this;
    const options = requestOptions(this.#requestTimeoutMs, signal);
    const object = await readOrNull('get', () => this.#resource.read(this.#api, name, namespace, options));
    return object && observe(object);
  }

  async create(record: LeaderElectionRecord, annotations: Record<string, string>): Promise<LockObservation> {
    const body: AnnotatedObject = {
      apiVersion: LOCK_RESOURCES[this.kind].apiVersion,
      kind: LOCK_RESOURCES[this.kind].kind,
      metadata: {
        name: this.name,
        namespace: this.namespace,
        annotations: { ...annotations, [LEADER_ANNOTATION]: formatAnnotationRecord(record) },
      },
    };
    try {
      return observe(
        await this.#resource.create(this.#api, this.namespace, body, requestOptions(this.#requestTimeoutMs)),
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
    const object = previous.object as AnnotatedObject;
    const options = requestOptions(this.#requestTimeoutMs, signal);
    const metadata: V1ObjectMeta = { ...object.metadata, resourceVersion: previous.resourceVersion };
    const body: AnnotatedObject = {
      ...object,
      metadata: withOwnAnnotations(metadata, annotations, { [LEADER_ANNOTATION]: formatAnnotationRecord(record) }),
    };
    try {
      return observe(await this.#resource.replace(this.#api, this.name, this.namespace, body, options));
    } catch (error) {
      throw toKubeApiError('update', error);
    }
  }

  watch(resourceVersion: string, handlers: WatchHandlers): Promise<() => void> {
    const path = lockCollectionPath(this.kind, this.namespace);
    return watchObject(
      this.#watch,
      path,
      this.name,
      resourceVersion,
      (object) => observe(object as AnnotatedObject),
      handlers,
    );
  }
}

function observe(object: AnnotatedObject): LockObservation {
  const text = object.metadata?.annotations?.[LEADER_ANNOTATION];
  return {
    // An object without the annotation is a free lock, as leader-elector 0.4 creates it.
    record: text === undefined ? null : parseAnnotationRecord(text),
    resourceVersion: object.metadata?.resourceVersion ?? '',
    uid: object.metadata?.uid ?? '',
    annotations: ownAnnotations(object.metadata?.annotations),
    rawRecord: text ?? '',
    object,
  };
}
