/** kubeconfig text pointing a client at the embedded API. */
import { stringify } from 'yaml';

export interface KubeconfigOptions {
  /** Bearer token for the user entry (omit for a server started without tokens). */
  token?: string;
  /** The context's namespace (default "default"). */
  namespace?: string;
}

/**
 * `insecure-skip-tls-verify: true` is there because @kubernetes/client-node refuses a plain `http://` server
 * unless skipTLSVerify is set; there is no TLS to skip.
 */
export function kubeconfigYaml(server: string, options: KubeconfigOptions = {}): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'embedded', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'embedded', user: options.token === undefined ? {} : { token: options.token } }],
    contexts: [
      {
        name: 'embedded',
        context: { cluster: 'embedded', user: 'embedded', namespace: options.namespace ?? 'default' },
      },
    ],
    'current-context': 'embedded',
    preferences: {},
  });
}
