/**
 * The embedded Lease API: a small Kubernetes-compatible API server (behaving like kube-apiserver v1.20 for
 * what leader election uses) for the local demo run and the tests. It is NOT for production: no TLS, no
 * persistence, no admission, a token table instead of real authentication and a function instead of RBAC.
 *
 * Serves coordination.k8s.io/v1 leases, v1 configmaps, endpoints, pods and events, and events.k8s.io/v1
 * events, in any namespace. The handle offers fault injection for tests: closeWatches() (the server ends
 * every watch, as at its timeout), stop()/start() (an API server restart on the same port; objects and
 * revisions survive, as they would in etcd), and a log of requests.
 */
import { createAdaptorServer } from '@hono/node-server';
import { writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Authenticator } from './auth.ts';
import { kubeconfigYaml, type KubeconfigOptions } from './kubeconfig.ts';
import { buildApp } from './routes.ts';
import { Store } from './store.ts';
import type { AllowFn, RequestRecord, TokenUser } from './types.ts';
import { WatchRegistry } from './watch.ts';

export type { AllowFn, RequestRecord, TokenUser, Verb } from './types.ts';
export type { KubeconfigOptions } from './kubeconfig.ts';

export interface EmbeddedApiOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** Bearer token → user (and RBAC stand-in). Without it, no authentication at all. */
  tokens?: Record<string, TokenUser>;
  /** Changes kept per resource for watch resume (the watch cache's capacity; default 100). */
  watchHistory?: number;
  /** How often a watch with allowWatchBookmarks gets a BOOKMARK (default 60 s, as the real server). */
  bookmarkIntervalMs?: number;
  /** Called for every request, before it is handled. */
  onRequest?: (record: RequestRecord) => void;
}

export interface EmbeddedApi {
  /** `http://127.0.0.1:PORT` (or the host given). */
  readonly url: string;
  readonly port: number;
  /** Every request so far, oldest first (cleared by clearRequests()). */
  readonly requests: readonly RequestRecord[];
  clearRequests(): void;
  /** kubeconfig YAML for this server. */
  kubeconfig(options?: KubeconfigOptions): string;
  writeKubeconfig(path: string, options?: KubeconfigOptions): Promise<void>;
  /** Changes a token's permissions at run time (undefined: allow everything). */
  setAllowed(token: string, allowed: AllowFn | undefined): void;
  /** Adds or replaces a token (only when started with `tokens`). */
  setToken(token: string, user: TokenUser): void;
  /** Ends every open watch stream cleanly, as the server does at a watch's timeout. */
  closeWatches(): void;
  /** Number of open watch streams. */
  readonly openWatches: number;
  /**
   * The analogue of etcd stopped: every resource request (after authentication and authorization) hangs until
   * resumeStore() or until its client gives up; open watches stay open and quiet.
   */
  pauseStore(): void;
  resumeStore(): void;
  /** Stops serving (ends watches, drops connections); objects are kept. */
  stop(): Promise<void>;
  /** Serves again on the same port after stop(); watch history restarts at the current revision. */
  start(): Promise<void>;
  /** Stops for good. */
  close(): Promise<void>;
}

export async function startEmbeddedApi(options: EmbeddedApiOptions = {}): Promise<EmbeddedApi> {
  const host = options.host ?? '127.0.0.1';
  const store = new Store(options.watchHistory ?? 100);
  const auth = new Authenticator(options.tokens);
  const watches = new WatchRegistry();
  const requests: RequestRecord[] = [];
  let storeBack: { promise: Promise<void>; resolve: () => void } | undefined;
  const app = buildApp({
    storeDown: () => storeBack?.promise,
    store,
    auth,
    watches,
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
    onRequest: (record) => {
      requests.push(record);
      options.onRequest?.(record);
    },
  });

  let server: Server | undefined;
  let port = options.port ?? 0;
  let closed = false;

  const listen = async (): Promise<void> => {
    const s = createAdaptorServer({ fetch: app.fetch, hostname: host }) as Server;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => {
        s.off('error', reject);
        resolve();
      });
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };

  const shutdown = async (): Promise<void> => {
    const s = server;
    server = undefined;
    watches.closeAll();
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  };

  await listen();
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}`;

  return {
    url,
    get port() {
      return port;
    },
    requests,
    clearRequests: () => {
      requests.length = 0;
    },
    kubeconfig: (o) => kubeconfigYaml(url, o),
    writeKubeconfig: (path, o) => writeFile(path, kubeconfigYaml(url, o), { mode: 0o600 }),
    setAllowed: (token, allowed) => auth.setAllowed(token, allowed),
    setToken: (token, user) => auth.setToken(token, user),
    closeWatches: () => watches.closeAll(),
    pauseStore: () => {
      if (!storeBack) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => {
          resolve = r;
        });
        storeBack = { promise, resolve };
      }
    },
    resumeStore: () => {
      storeBack?.resolve();
      storeBack = undefined;
    },
    get openWatches() {
      return watches.size;
    },
    stop: shutdown,
    start: async () => {
      if (closed) throw new Error('embedded API: start() after close()');
      if (server) return;
      store.rebuildWatchCaches();
      await listen();
    },
    close: async () => {
      closed = true;
      storeBack?.resolve();
      storeBack = undefined;
      await shutdown();
    },
  };
}
