import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { bufferFromFileOrString, KubeConfig, type RequestContext } from '@kubernetes/client-node';
import { Agent } from 'undici';

/**
 * One connection pool per TLS configuration, speaking HTTP/2 where the server offers it, as client-go's transport
 * does. client-node builds a new undici Agent for every call to a TLS server, so every call opened a connection and
 * ran a TLS handshake (a Lease PUT on kube-apiserver took 17 ms instead of 7), and a follower's first write after a
 * quiet spell waited for one. Here every call and the watch go through one Agent built from the same TLS material;
 * over HTTP/2 the watch and the writes share one connection that the watch keeps open, so a takeover needs no
 * handshake. The material is read again for each call, as client-node does: when a file changes, a new Agent
 * replaces the old one, which closes once its requests are done. Proxies, exec plugins and auth providers other than
 * a token file may bring TLS settings only client-node knows: they keep its behaviour.
 */
class ConnectionReusingKubeConfig extends KubeConfig {
  #shared: { key: string; agent: Agent } | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    const connect = fresh && this.#tlsOptions();
    if (!fresh || !connect) return;
    void fresh.close();
    const key = createHash('sha256')
      .update(
        JSON.stringify(connect, (_, value: unknown) => (Buffer.isBuffer(value) ? value.toString('base64') : value)),
      )
      .digest('hex');
    if (this.#shared?.key !== key) {
      const previous = this.#shared;
      this.#shared = { key, agent: new Agent({ allowH2: true, connect }) };
      void previous?.agent.close();
    }
    context.setDispatcher(this.#shared.agent);
  }

  /** The connection's TLS options as client-node derives them, or undefined where it may derive more. */
  #tlsOptions(): Record<string, unknown> | undefined {
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    const provider = (user?.authProvider as { name?: string } | undefined)?.name;
    if (!cluster || cluster.proxyUrl || user?.exec || (provider !== undefined && provider !== 'tokenFile'))
      return undefined;
    const ca = bufferFromFileOrString(cluster.caFile, cluster.caData);
    const cert = bufferFromFileOrString(user?.certFile, user?.certData);
    const key = bufferFromFileOrString(user?.keyFile, user?.keyData);
    return {
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(cluster.skipTLSVerify ? { rejectUnauthorized: false } : {}),
      ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
      // client-node's keep-alive probe, shorter than cloud load balancers' idle timeouts.
      keepAlive: true,
      keepAliveInitialDelay: 30_000,
    };
  }
}
import { UsageError } from '../config/usage-error.ts';
import { readBoundedFile } from '../files/read-bounded.ts';

/** Where a pod's ServiceAccount namespace is mounted. */
const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
/** Where a pod's ServiceAccount token is mounted: client-node uses the in-cluster config when it exists. */
const SERVICE_ACCOUNT_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';
/** The largest kubeconfig, or file it names, read: 1 MiB, the most a Secret or ConfigMap holds. */
const MAX_KUBECONFIG_BYTES = 1024 * 1024;

/**
 * Loads credentials where client-node's `loadFromDefault` looks for them, from `env`: `--kubeconfig`, else
 * `$KUBECONFIG` (every file of the list, merged), else ~/.kube/config, else the in-cluster ServiceAccount. Every
 * kubeconfig file is checked first as leaderhook reads files from outside (a regular file of at most 1 MiB, see
 * `readBoundedFile`). Usage errors, naming where the file came from: a kubeconfig that cannot be read or parsed or has
 * no current cluster; in a pod without `KUBERNETES_SERVICE_HOST`/`_PORT`; and no credentials at all (client-node
 * would fall back to `http://localhost:8080`). `option` is how the messages name the way to pass a kubeconfig.
 */
export function loadKubeConfig(
  path: string | undefined,
  subject: string,
  env: NodeJS.ProcessEnv,
  option = '--kubeconfig',
): KubeConfig {
  const kubeConfig = new ConnectionReusingKubeConfig();
  const listed = env.KUBECONFIG?.split(delimiter).filter(Boolean) ?? [];
  const home = env.HOME ? join(env.HOME, '.kube', 'config') : undefined;
  if (path) {
    loadFiles(kubeConfig, [path], subject);
  } else if (listed.length) {
    loadFiles(kubeConfig, listed, 'KUBECONFIG');
  } else if (home && existsSync(home)) {
    loadFiles(kubeConfig, [home], `${option} (default: ~/.kube/config)`);
  } else if (existsSync(SERVICE_ACCOUNT_TOKEN_FILE)) {
    const missing = ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT'].filter((name) => !env[name]);
    if (missing.length)
      throw new UsageError(
        missing.join(', '),
        'not set, though a ServiceAccount token is mounted: the API server is unknown',
      );
    kubeConfig.loadFromCluster();
  } else {
    throw new UsageError('no Kubernetes credentials', `pass ${option}, set KUBECONFIG, or run in a pod`);
  }
  if (!kubeConfig.getCurrentCluster()) {
    throw new UsageError(
      subject,
      `kubeconfig ${JSON.stringify(path ?? listed[0] ?? home ?? '')} has no current cluster`,
    );
  }
  checkCredentials(kubeConfig, subject);
  return kubeConfig;
}

/**
 * What the current context points to, checked as leaderhook reads files from outside: the server URL carries no
 * credentials (client-node's HTTP client refuses such a URL on every call, quoting it — password and all — in its
 * error), and every file it names (certificate authority, client certificate and key, token file) is a regular file
 * of at most 1 MiB, so a FIFO never blocks and /dev/zero is never read. client-node reads these files again on each
 * call; the check is at start.
 */
export function checkCredentials(kubeConfig: KubeConfig, subject: string): void {
  const cluster = kubeConfig.getCurrentCluster();
  const user = kubeConfig.getCurrentUser();
  let server: URL;
  try {
    server = new URL(cluster?.server ?? '');
  } catch {
    throw new UsageError(subject, "the kubeconfig's server is not a URL");
  }
  if (server.username || server.password)
    throw new UsageError(
      subject,
      "the kubeconfig's server URL carries credentials (user:password@): put them in the user entry instead",
    );
  const providerConfig = (user?.authProvider as { config?: { tokenFile?: unknown } } | undefined)?.config;
  const files: Array<[string, unknown]> = [
    ['certificate-authority', cluster?.caFile],
    ['client-certificate', user?.certFile],
    ['client-key', user?.keyFile],
    ['tokenFile', providerConfig?.tokenFile],
  ];
  for (const [field, file] of files) {
    if (typeof file !== 'string' || !file) continue;
    try {
      readBoundedFile(file, MAX_KUBECONFIG_BYTES);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'no such file' : code ? `cannot read (${code})` : firstLine(error);
      throw new UsageError(subject, `the kubeconfig's ${field} ${JSON.stringify(file)}: ${reason}`);
    }
  }
}

/**
 * A caller's KubeConfig with one connection pool (see ConnectionReusingKubeConfig): its clusters, users, contexts and
 * current context, copied; a KubeConfig of ours is returned as it is.
 */
export function reusingConnections(kubeConfig: KubeConfig): KubeConfig {
  if (kubeConfig instanceof ConnectionReusingKubeConfig) return kubeConfig;
  const copy = new ConnectionReusingKubeConfig();
  copy.loadFromOptions({
    clusters: kubeConfig.clusters,
    users: kubeConfig.users,
    contexts: kubeConfig.contexts,
    currentContext: kubeConfig.currentContext,
  });
  return copy;
}

/**
 * Loads kubeconfig files as client-node's `loadFromDefault` merges `$KUBECONFIG` (a later file's current context
 * replaces an earlier one's), each checked first; any failure is a UsageError naming `from` and the file.
 */
function loadFiles(kubeConfig: KubeConfig, files: readonly string[], from: string): void {
  for (const [index, file] of files.entries()) {
    try {
      readBoundedFile(file, MAX_KUBECONFIG_BYTES);
      if (index === 0) {
        kubeConfig.loadFromFile(file);
      } else {
        const more = new KubeConfig();
        more.loadFromFile(file);
        kubeConfig.mergeConfig(more);
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'no such file' : code ? `cannot read (${code})` : firstLine(error);
      throw new UsageError(from, `cannot read kubeconfig ${JSON.stringify(file)}: ${reason}`);
    }
  }
}

/**
 * The API server's URL as the current cluster names it, for the log: scheme, host, port and path only, never
 * credentials or a query.
 */
export function apiServerUrl(kubeConfig: KubeConfig): string {
  const server = kubeConfig.getCurrentCluster()?.server ?? '';
  try {
    const url = new URL(server);
    return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
  } catch {
    return '(not a URL)';
  }
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
