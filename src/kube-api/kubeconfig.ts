import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { UsageError } from '../config/usage-error.ts';

/** Where a pod's ServiceAccount namespace is mounted. */
const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * Loads credentials: `--kubeconfig`, else `$KUBECONFIG`, else ~/.kube/config, else the in-cluster ServiceAccount.
 * A named file that cannot be read or parsed is a usage error naming where it came from.
 */
export function loadKubeConfig(path: string | undefined, subject: string, env: NodeJS.ProcessEnv): KubeConfig {
  const kubeConfig = new KubeConfig();
  const named = path ?? env.KUBECONFIG?.split(delimiter).find(Boolean);
  const from = path ? subject : 'KUBECONFIG';
  try {
    if (named) {
      accessSync(named, constants.R_OK);
      if (path) kubeConfig.loadFromFile(path);
      else kubeConfig.loadFromDefault();
    } else {
      kubeConfig.loadFromDefault();
    }
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : firstLine(error);
    throw new UsageError(from, `cannot read kubeconfig ${JSON.stringify(named)}: ${reason}`);
  }
  if (!kubeConfig.getCurrentCluster()) {
    throw new UsageError(from, `kubeconfig ${JSON.stringify(named ?? '')} has no current cluster`);
  }
  return kubeConfig;
}

/** The lock's namespace when none is given: the pod's own, else the kubeconfig context's, else `default`. */
export function defaultNamespace(kubeConfig: KubeConfig): string {
  try {
    const namespace = readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, 'utf8').trim();
    if (namespace) return namespace;
  } catch {
    // Not in a pod.
  }
  return kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace || 'default';
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'unreadable';
}
