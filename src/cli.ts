// The composition root: parse and validate the configuration, open the library's election, add the sidecar's parts
// (HTTP, notifier, state file) around it, handle signals.
// First: Hono's adapter reads the fetch globals when it is imported.
import './runtime/fetch-globals.ts';
import { readFileSync } from 'node:fs';
import { buildConfig, type Config } from './config/config.ts';
import { helpText } from './config/flags.ts';
import { readFlags } from './config/read-flags.ts';
import { UsageError } from './config/usage-error.ts';
import { createHttpApp } from './http/app.ts';
import { close, listen } from './http/server.ts';
import { apiServerUrl, defaultNamespace, loadKubeConfig } from './kube-api/kubeconfig.ts';
import { createLogger } from './log/logger.ts';
import { openElection } from './library/open-election.ts';
import { createProcessRegistry } from './metrics/election-metrics.ts';
import type { Notifier } from './notify/notifier.ts';
import { loadNotifyConfig, type NotifyConfig } from './notify/notify-config.ts';
import { applySidecarV8Flags } from './runtime/v8-flags.ts';
import { StateFile, stateFilePathProblem } from './state-file/state-file.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Flags and `LEADERHOOK_*` variables, validated; `undefined` once `--help` or `--version` has answered. */
function parse(argv: string[], env: NodeJS.ProcessEnv): { config: Config; notifyConfig: NotifyConfig } | undefined {
  const { values, sources } = readFlags(argv, env);
  if (values.help) {
    process.stdout.write(`${helpText(version)}\n`);
    return undefined;
  }
  if (values.version) {
    process.stdout.write(`leaderhook ${version}\n`);
    return undefined;
  }
  return { config: buildConfig(values, sources, env), notifyConfig: loadNotifyConfig(values, sources) };
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  const parsed = parse(argv, env);
  if (!parsed) return 0;
  const { config, notifyConfig } = parsed;
  const stateFileProblem = notifyConfig.stateFile && stateFilePathProblem(notifyConfig.stateFile);
  if (stateFileProblem) throw new UsageError('--state-file', stateFileProblem);
  const kubeConfig = loadKubeConfig(config.kubeconfig?.path, config.kubeconfig?.source ?? '--kubeconfig', env);
  const namespace = config.namespace ?? defaultNamespace(kubeConfig);
  const log = createLogger(config.logLevel, { election: config.election, namespace, id: config.identity });
  const registry = createProcessRegistry();

  // Loaded only when used, as the notifier is: the check's HTTP client costs memory in every pod.
  const candidate = config.candidateCheck
    ? new (await import('./candidate/candidate-check.ts')).CandidateCheck({
        ...config.candidateCheck,
        log: log.child({ part: 'candidate-check' }),
        registry,
      })
    : undefined;
  /** The notifier and the state file follow the elector, so they are built once the election is open. */
  const sidecar: { notifier?: Notifier | undefined; stateFile?: StateFile | undefined } = {};
  // The sidecar runs the library's election; it adds HTTP, the notifier and the state file around it.
  const { election, elector } = openElection(
    {
      election: config.election,
      namespace,
      identity: config.identity,
      lock: config.lock,
      ...config.timings,
      kubeConfig,
      log,
      metrics: registry,
      events: config.events,
      ...(config.leaderLabel ? { leaderLabel: config.leaderLabel } : {}),
      ...(candidate ? { candidate } : {}),
    },
    {
      env,
      wording: {
        identityClashFix: 'Set --id (or POD_NAME from the downward API) to the pod name',
        releaseWithoutAcknowledgement:
          'the local hooks did not acknowledge leadership.stopped before the release had to go ahead',
        acknowledgementFailed: 'waiting for the local hooks before the release failed',
        missingLeaderPod:
          '--leader-label labels the pod named by --id (default $POD_NAME) in $POD_NAMESPACE; set both from the ' +
          'Downward API',
      },
      // Stop before release: the main container hears leadership.stopped and answers before anyone else can lead.
      ...(config.stopBeforeRelease
        ? { beforeRelease: async (signal: AbortSignal) => sidecar.notifier?.localHooksSettled(signal) }
        : {}),
      // Pending notifications, the final leadership.stopped included, and the state file drain within --drain-timeout.
      afterRelease: () =>
        Promise.all([
          sidecar.notifier?.drain(notifyConfig.drainTimeoutMs),
          sidecar.stateFile?.flush(notifyConfig.drainTimeoutMs),
        ]),
    },
  );
  // Loaded only when used: the delivery stack (got and friends) and the CloudEvents SDK cost memory in every pod.
  if (notifyConfig.targets.some(({ target }) => target.format === 'cloudevents')) {
    await (await import('./notify/formats/cloudevents.ts')).loadCloudEvents();
  }
  const notifier = notifyConfig.targets.length
    ? new (await import('./notify/notifier.ts')).Notifier({
        election: elector,
        targets: notifyConfig.targets,
        log: log.child({ component: 'notify' }),
        registry,
      })
    : undefined;
  sidecar.notifier = notifier;
  notifier?.start();
  const stateFile = notifyConfig.stateFile
    ? new StateFile(notifyConfig.stateFile, log.child({ part: 'state-file' }))
    : undefined;
  sidecar.stateFile = stateFile;
  stateFile?.follow(elector);

  const httpDraining = new AbortController();
  const httpClosing = new AbortController();
  const app = createHttpApp({
    draining: httpDraining.signal,
    closing: httpClosing.signal,
    leadership: {
      snapshot: () => elector.snapshot(),
      subscribe: (listener) => elector.subscribe(listener),
      unhealthyReason: () => elector.unhealthyReason(),
    },
    metrics: registry,
    readyOnlyWhenLeader: config.readyOnlyWhenLeader,
    watch: { maxClients: config.maxWatchClients },
    ...(candidate ? { candidate: () => candidate.state() } : {}),
  });
  if (notifier) app.route('/deliveries', notifier.deliveriesApp());
  let server: Awaited<ReturnType<typeof listen>>;
  try {
    server = await listen(app, config.http);
  } catch (error) {
    throw new StartupError(`--http ${config.http.host}:${config.http.port}: ${describeListenError(error)}`);
  }
  // The address actually bound: `--http :0` lets the system choose the port.
  const bound = server.address();
  const http = typeof bound === 'object' && bound ? `${config.http.host}:${bound.port}` : String(bound);
  log.info(
    { http, apiServer: apiServerUrl(kubeConfig), lock: config.lock, ...config.timings, version },
    'leaderhook started',
  );
  // Last: Node.js compiles from source any built-in module first loaded after a V8 flag changed (see v8-flags.ts).
  applySidecarV8Flags();
  candidate?.start();
  election.start();

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down: stopping leadership, then releasing the lock');
    httpDraining.abort();
    candidate?.stop();
    await election.stop();
    stateFile?.stop();
    httpClosing.abort();
    await close(server);
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', (signal) => void shutdown(signal));
  process.on('SIGINT', (signal) => void shutdown(signal));
  return undefined;
}

/** A fault that stops start-up, not the user's input: one line on stderr, exit 1. */
class StartupError extends Error {}

function describeListenError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return 'the address is already in use (EADDRINUSE)';
  if (code === 'EADDRNOTAVAIL') return 'no such address on this machine (EADDRNOTAVAIL)';
  if (code === 'EACCES') return 'permission denied (EACCES): ports below 1024 need privileges';
  return code ? `cannot listen (${code})` : (error as Error).message;
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`leaderhook: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    if (error instanceof StartupError) {
      process.stderr.write(`leaderhook: ${error.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`leaderhook: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
