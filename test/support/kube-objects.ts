// Small typed helpers for tests that read and write Pods and Events on an API server (embedded or real).
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type CoreV1Event } from '@kubernetes/client-node';

export class KubeObjects {
  readonly api: CoreV1Api;
  readonly namespace: string;

  constructor(kubeconfigPath: string, namespace: string) {
    const config = new KubeConfig();
    config.loadFromFile(kubeconfigPath);
    this.api = config.makeApiClient(CoreV1Api);
    this.namespace = namespace;
  }

  async createPod(name: string, labels: Record<string, string> = {}): Promise<void> {
    await this.api.createNamespacedPod({
      namespace: this.namespace,
      body: {
        metadata: { name, labels: { app: 'leaderhook-test', ...labels } },
        spec: { containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.9' }] },
      },
    });
  }

  async deletePod(name: string): Promise<void> {
    await this.api
      .deleteNamespacedPod({ name, namespace: this.namespace, gracePeriodSeconds: 0 })
      .catch(() => undefined);
  }

  async setLabels(name: string, labels: Record<string, string | null>): Promise<void> {
    await this.api.patchNamespacedPod(
      { name, namespace: this.namespace, body: { metadata: { labels } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  /** Names of the Pods matching `selector`, as `kubectl get pods -l selector` shows them. */
  async podsWith(selector: string, among?: readonly string[]): Promise<string[]> {
    const list = await this.api.listNamespacedPod({ namespace: this.namespace, labelSelector: selector });
    const names = list.items.map((pod) => pod.metadata?.name ?? '').sort();
    return among ? names.filter((name) => among.includes(name)) : names;
  }

  /** `kubectl get events --field-selector involvedObject.name=<name>`. */
  async eventsAbout(name: string): Promise<CoreV1Event[]> {
    const list = await this.api.listNamespacedEvent({
      namespace: this.namespace,
      fieldSelector: `involvedObject.name=${name}`,
    });
    return list.items;
  }
}

/** GET `path` on a replica: status and body text (status 0 when it does not answer). */
export async function probe(url: string): Promise<{ status: number; text: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { status: response.status, text: await response.text() };
  } catch {
    return { status: 0, text: '' };
  }
}

/** One sample of a Prometheus text exposition, e.g. `leader_election_master_status{name="x"}`. */
export function metricValue(exposition: string, sample: string): number | undefined {
  for (const line of exposition.split('\n')) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return undefined;
}
