import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { bufferFromFileOrString, KubeConfig, type RequestContext, type User } from '@kubernetes/client-node';
import { dump, load } from 'js-yaml';
import { Agent } from 'undici';
import { UsageError } from '../config/usage-error.ts';
import { checkBoundedFile, readBoundedFile } from '../files/read-bounded.ts';

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
    // client-node reads these files again now, synchronously: a file swapped for a FIFO would stop the event loop
    // for good, /dev/zero would fill memory. Refused instead, the call fails (a `network` error, retried) and says why.
    // Only a swap in the microseconds between this check and client-node's read goes unseen.
    for (const [field, file] of filesRead(this)) {
      try {
        checkBoundedFile(file, MAX_KUBECONFIG_BYTES);
      } catch (error) {
        throw new Error(`the kubeconfig's ${field} ${JSON.stringify(file)}: ${refusal(error)}`, { cause: error });
      }
    }
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
/** Where a pod's ServiceAccount namespace is mounted. */
const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
/** Where a pod's ServiceAccount token is mounted: client-node uses the in-cluster config when it exists. */
const SERVICE_ACCOUNT_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';
/** The largest kubeconfig, or file it names, read: 1 MiB, the most a Secret or ConfigMap holds. */
const MAX_KUBECONFIG_BYTES = 1024 * 1024;

/**
 * The `token-file` of each user loaded by loadFiles, absolute, for the user that holds no `token`: read only for the
 * current user, once the files are merged (client-go reads only the token file it uses).
 */
const tokenFiles = new WeakMap<User, string>();

/**
 * Loads credentials where client-node's `loadFromDefault` looks for them, from `env`: `--kubeconfig`, else
 * `$KUBECONFIG` (every file of the list, merged), else ~/.kube/config, else the in-cluster ServiceAccount. Every
 * kubeconfig file, and every file it makes client-node read, is checked first as leaderhook reads files from outside
 * (a regular file of at most 1 MiB, see `readBoundedFile`, and checkCredentials). Usage errors, naming where the file
 * came from: a kubeconfig that cannot be read or parsed or has no current cluster, a file it names that is refused;
 * in a pod without `KUBERNETES_SERVICE_HOST`/`_PORT`; and no credentials at all (client-node would fall back to
 * `http://localhost:8080`). `option` is how the messages name the way to pass a kubeconfig.
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
  // Where the kubeconfig came from, for the messages about what it names.
  let from = subject;
  if (path) {
    loadFiles(kubeConfig, [path], from);
  } else if (listed.length) {
    from = 'KUBECONFIG';
    loadFiles(kubeConfig, listed, from);
  } else if (home && existsSync(home)) {
    from = `${option} (default: ~/.kube/config)`;
    loadFiles(kubeConfig, [home], from);
  } else if (existsSync(SERVICE_ACCOUNT_TOKEN_FILE)) {
    const missing = ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT'].filter((name) => !env[name]);
    if (missing.length)
      throw new UsageError(
        missing.join(', '),
        'not set, though a ServiceAccount token is mounted: the API server is unknown',
      );
    // client-node reads the namespace file here; the token and CA files are checked below, as any kubeconfig's.
    try {
      if (existsSync(SERVICE_ACCOUNT_NAMESPACE_FILE))
        checkBoundedFile(SERVICE_ACCOUNT_NAMESPACE_FILE, MAX_KUBECONFIG_BYTES);
    } catch (error) {
      throw new UsageError(
        'ServiceAccount namespace',
        `${JSON.stringify(SERVICE_ACCOUNT_NAMESPACE_FILE)}: ${refusal(error)}`,
      );
    }
    kubeConfig.loadFromCluster();
  } else {
    throw new UsageError('no Kubernetes credentials', `pass ${option}, set KUBECONFIG, or run in a pod`);
  }
  if (!kubeConfig.getCurrentCluster()) {
    throw new UsageError(from, `kubeconfig ${JSON.stringify(path ?? listed[0] ?? home ?? '')} has no current cluster`);
  }
  const user = kubeConfig.getCurrentUser();
  const tokenFile = user && tokenFiles.get(user);
  if (user && tokenFile) {
    // client-go trims it too: a token file written with a final newline would make an invalid header.
    const token = readFile(tokenFile, from, 'token-file').trim();
    kubeConfig.users[kubeConfig.users.indexOf(user)] = { ...user, token };
  }
  checkCredentials(kubeConfig, from);
  return kubeConfig;
}

/**
 * What the current context points to, checked as leaderhook reads files from outside: the server URL carries no
 * credentials (client-node's HTTP client refuses such a URL on every call, quoting it — password and all — in its
 * error), and every file client-node reads for it (see filesRead) is a regular file of at most 1 MiB, so a FIFO never
 * blocks and /dev/zero is never read. client-node reads these files again on each call (an auth-provider `tokenFile`
 * every 60 s): each call checks them again first (see ConnectionReusingKubeConfig).
 */
export function checkCredentials(kubeConfig: KubeConfig, subject: string): void {
  const cluster = kubeConfig.getCurrentCluster();
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
  for (const [field, file] of filesRead(kubeConfig)) readFile(file, subject, field);
}

/**
 * Every file client-node reads, on each call, for the current context: `[kubeconfig field, path]`. The cluster's
 * `certificate-authority`, the user's `client-certificate` and `client-key`, the auth-provider's `tokenFile` (the
 * in-cluster config's ServiceAccount token) and the oidc auth-provider's `idp-certificate-authority`. A user's
 * `token-file` is read once, while loading (see loadFiles). Exec plugins and the azure and gcp auth-providers'
 * `cmd-path` run commands, which are not files read.
 */
function filesRead(kubeConfig: KubeConfig): Array<[string, string]> {
  const cluster = kubeConfig.getCurrentCluster();
  const user = kubeConfig.getCurrentUser();
  const provider = user?.authProvider as { name?: unknown; config?: Record<string, unknown> } | undefined;
  const files: Array<[string, unknown]> = [
    ['certificate-authority', cluster?.caFile],
    ['client-certificate', user?.certFile],
    ['client-key', user?.keyFile],
    ['auth-provider tokenFile', provider?.config?.tokenFile],
    [
      'auth-provider idp-certificate-authority',
      provider?.name === 'oidc' && provider.config?.['idp-certificate-authority'],
    ],
  ];
  return files.filter((entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== '');
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
 * replaces an earlier one's), each checked first; any failure is a UsageError naming `from` and the file. Each file is
 * read once, and parsed by client-node's own YAML parser; a user's `token-file`, which client-node would read at once
 * for every user, whatever it is, is taken out and kept in tokenFiles, relative to the kubeconfig's directory as
 * client-go resolves it (client-node resolved it against the working directory).
 */
function loadFiles(kubeConfig: KubeConfig, files: readonly string[], from: string): void {
  for (const [index, file] of files.entries()) {
    try {
      const loaded = index === 0 ? kubeConfig : new KubeConfig();
      const parsed: unknown = load(readBoundedFile(file, MAX_KUBECONFIG_BYTES));
      const users = (parsed as { users?: unknown } | null)?.users;
      const userTokenFiles = Array.isArray(users) ? users.map((entry) => takeTokenFile(entry, dirname(file))) : [];
      loaded.loadFromString(dump(parsed));
      loaded.makePathsAbsolute(dirname(file));
      for (const [at, tokenFile] of userTokenFiles.entries()) {
        const user = loaded.users[at];
        if (user && tokenFile) tokenFiles.set(user, tokenFile);
      }
      if (index > 0) kubeConfig.mergeConfig(loaded);
    } catch (error) {
      throw new UsageError(from, `cannot read kubeconfig ${JSON.stringify(file)}: ${refusal(error)}`);
    }
  }
}

/** A user entry's `token-file` when it has no `token` (client-node reads it only then), removed from the entry. */
function takeTokenFile(entry: unknown, directory: string): string | undefined {
  const user = (entry as { user?: Record<string, unknown> } | null)?.user;
  if (!user || typeof user !== 'object' || user.token || !user['token-file']) return undefined;
  const tokenFile = user['token-file'];
  if (typeof tokenFile !== 'string') throw new Error("a user's token-file is not a path");
  delete user['token-file'];
  return resolve(directory, tokenFile);
}

/** Reads a file the kubeconfig names, within bounds; refused as a UsageError naming `subject`, the field, the file. */
function readFile(file: string, subject: string, field: string): string {
  try {
    return readBoundedFile(file, MAX_KUBECONFIG_BYTES);
  } catch (error) {
    throw new UsageError(subject, `the kubeconfig's ${field} ${JSON.stringify(file)}: ${refusal(error)}`);
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
    const namespace = readBoundedFile(SERVICE_ACCOUNT_NAMESPACE_FILE, MAX_KUBECONFIG_BYTES).trim();
    if (namespace) return namespace;
  } catch {
    // Not in a pod.
  }
  return kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace || 'default';
}

/** Why a file was not read: `no such file`, `cannot read (EACCES)`, or the first line of the error's message. */
function refusal(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code) return `cannot read (${code})`;
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'unreadable';
}
