import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { toKubeApiError } from '../kube-api/api-error.ts';
import { readOrNull } from '../kube-api/read-or-null.ts';
import { requestOptions, type RequestOptions } from '../kube-api/request-options.ts';

/** What the label reconciler needs to know about a Pod. */
export interface PodLabels {
  labels: Record<string, string>;
  resourceVersion: string;
}

/** The two calls the leader label needs: `get` and `patch` on pods, nothing else. */
export interface PodLabelApi {
  readonly namespace: string;
  /** `null` when the Pod does not exist. */
  read(name: string): Promise<PodLabels | null>;
  /**
   * A JSON merge patch of `metadata.labels`: a string sets a label, `null` removes it. With `resourceVersion` the
   * patch applies only if the Pod is unchanged since it was read (409 otherwise).
   */
  patchLabels(name: string, labels: Record<string, string | null>, resourceVersion?: string): Promise<PodLabels>;
}

function labelsOf(pod: V1Pod): PodLabels {
  return { labels: { ...(pod.metadata?.labels ?? {}) }, resourceVersion: pod.metadata?.resourceVersion ?? '' };
}

/** PodLabelApi on client-node's CoreV1Api; every call is bounded by `requestTimeoutMs`. Errors are KubeApiErrors. */
export class KubePodLabelApi implements PodLabelApi {
  readonly namespace: string;
  readonly #api: CoreV1Api;
  readonly #options: RequestOptions;
  readonly #patchOptions: RequestOptions;

  constructor(kubeConfig: KubeConfig, namespace: string, requestTimeoutMs: number) {
    this.namespace = namespace;
    this.#api = kubeConfig.makeApiClient(CoreV1Api);
    this.#options = requestOptions(requestTimeoutMs);
    this.#patchOptions = setHeaderOptions('Content-Type', PatchStrategy.MergePatch, this.#options);
  }

  async read(name: string): Promise<PodLabels | null> {
    const { namespace } = this;
    const pod = await readOrNull('get', () => this.#api.readNamespacedPod({ name, namespace }, this.#options));
    return pod && labelsOf(pod);
  }

  async patchLabels(name: string, labels: Record<string, string | null>, resourceVersion?: string): Promise<PodLabels> {
    const body = { metadata: { ...(resourceVersion ? { resourceVersion } : {}), labels } };
    try {
      const pod = await this.#api.patchNamespacedPod({ name, namespace: this.namespace, body }, this.#patchOptions);
      return labelsOf(pod);
    } catch (error) {
      throw toKubeApiError('patch', error);
    }
  }
}
