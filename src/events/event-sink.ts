import { CoreV1Api, PatchStrategy, setHeaderOptions, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import { toKubeApiError } from '../kube-api/api-error.ts';
import { requestOptions, type RequestOptions } from '../kube-api/request-options.ts';
import type { EventPatch } from './correlator.ts';
import type { CoreEvent } from './event.ts';

/** Where events go: create, or patch a repeated one (client-go's EventSink). Errors are KubeApiErrors. */
export interface EventSink {
  create(event: CoreEvent): Promise<CoreEvent>;
  patch(event: CoreEvent, patch: EventPatch): Promise<CoreEvent>;
}

function toApi(event: CoreEvent): CoreV1Event {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: event.name, namespace: event.namespace },
    involvedObject: { ...event.involvedObject },
    type: event.type,
    reason: event.reason,
    message: event.message,
    source: { ...event.source },
    reportingComponent: event.reportingComponent,
    reportingInstance: event.reportingInstance,
    firstTimestamp: event.firstTimestamp,
    lastTimestamp: event.lastTimestamp,
    count: event.count,
  };
}

function fromApi(stored: CoreV1Event, sent: CoreEvent): CoreEvent {
  const toDate = (value: unknown, fallback: Date) =>
    value instanceof Date ? value : typeof value === 'string' ? new Date(value) : fallback;
  return {
    ...sent,
    name: stored.metadata?.name ?? sent.name,
    ...(stored.metadata?.resourceVersion ? { resourceVersion: stored.metadata.resourceVersion } : {}),
    count: stored.count ?? sent.count,
    firstTimestamp: toDate(stored.firstTimestamp, sent.firstTimestamp),
    lastTimestamp: toDate(stored.lastTimestamp, sent.lastTimestamp),
  };
}

/** core/v1 Events through client-node, each call bounded by `requestTimeoutMs`. */
export class KubeEventSink implements EventSink {
  readonly #api: CoreV1Api;
  readonly #options: RequestOptions;
  readonly #patchOptions: RequestOptions;

  constructor(kubeConfig: KubeConfig, requestTimeoutMs: number) {
    this.#api = kubeConfig.makeApiClient(CoreV1Api);
    this.#options = requestOptions(requestTimeoutMs);
    this.#patchOptions = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch, this.#options);
  }

  async create(event: CoreEvent): Promise<CoreEvent> {
    try {
      const stored = await this.#api.createNamespacedEvent(
        { namespace: event.namespace, body: toApi(event) },
        this.#options,
      );
      return fromApi(stored, event);
    } catch (error) {
      throw toKubeApiError('create', error);
    }
  }

  async patch(event: CoreEvent, patch: EventPatch): Promise<CoreEvent> {
    try {
      const stored = await this.#api.patchNamespacedEvent(
        { name: event.name, namespace: event.namespace, body: patch },
        this.#patchOptions,
      );
      return fromApi(stored, event);
    } catch (error) {
      throw toKubeApiError('patch', error);
    }
  }
}
