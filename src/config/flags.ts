/** Every command-line flag; each is also read from `LEADERHOOK_<FLAG>` (upper case, `-` → `_`). */
export interface FlagSpec {
  name: string;
  type: 'string' | 'boolean' | 'list';
  /** A one-letter alias, e.g. `h` for `-h`. */
  short?: string;
  /** Shown in `--help`, e.g. `DURATION`. */
  value?: string;
  description: string;
}

export const FLAGS = [
  { name: 'election', type: 'string', value: 'NAME', description: 'name of the election: the lock object (required)' },
  {
    name: 'election-namespace',
    type: 'string',
    value: 'NS',
    description:
      'namespace of the lock (default: the pod\'s namespace, else the kubeconfig context\'s, else "default")',
  },
  {
    name: 'id',
    type: 'string',
    value: 'ID',
    description: "this replica's identity (default: $POD_NAME, else the hostname)",
  },
  { name: 'http', type: 'string', value: 'HOST:PORT', description: 'where to serve HTTP (default 0.0.0.0:4040)' },
  {
    name: 'lock',
    type: 'string',
    value: 'KIND',
    description: 'leases (default), or the legacy annotation locks configmaps | endpoints',
  },
  {
    name: 'ttl',
    type: 'string',
    value: 'DURATION',
    description: "leader-elector 0.4's timing: lease duration = ttl, renew deadline = ttl/2, retry period = ttl/4",
  },
  {
    name: 'lease-duration',
    type: 'string',
    value: 'DURATION',
    description: 'how long a lock record must stay unchanged before others take it (default 15s)',
  },
  {
    name: 'renew-deadline',
    type: 'string',
    value: 'DURATION',
    description: 'how long the leader retries renewing before it steps down (default 10s)',
  },
  {
    name: 'retry-period',
    type: 'string',
    value: 'DURATION',
    description: 'how often the leader renews and candidates retry (default 2s)',
  },
  {
    name: 'kubeconfig',
    type: 'string',
    value: 'PATH',
    description: 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)',
  },
  {
    name: 'use-cluster-credentials',
    type: 'boolean',
    description: 'accepted for leader-elector compatibility; in a pod the in-cluster config is used anyway',
  },
  {
    name: 'leader-label',
    type: 'string',
    value: 'KEY=VALUE',
    description:
      'the leader sets this label on its own Pod and removes it when it stops leading (needs pods get, patch)',
  },
  {
    name: 'max-watch-clients',
    type: 'string',
    value: 'N',
    description:
      'how many GET /watch streams may be open at once; one more is answered 503 (default 100, at most 10000)',
  },
  {
    name: 'ready-only-when-leader',
    type: 'boolean',
    description: '/readyz answers 200 only on the leader, so a Service routes only to it',
  },
  {
    name: 'events',
    type: 'boolean',
    description:
      'record Kubernetes Events on the lock object for every transition (default true; --events=false to turn off)',
  },
  {
    name: 'stop-before-release',
    type: 'boolean',
    description:
      'on SIGTERM the leader tells its --hook targets leadership.stopped and waits for their 2xx before releasing the lock, bounded by the renew deadline (default true)',
  },
  {
    name: 'candidate-check',
    type: 'string',
    value: 'URL',
    description:
      "the main container's health endpoint (e.g. http://127.0.0.1:8080/ready): this replica campaigns only while it answers 200-399, and the leader steps down and releases after --candidate-check-failures failed checks in a row",
  },
  {
    name: 'candidate-check-interval',
    type: 'string',
    value: 'DURATION',
    description: 'how often the candidate check runs (default 2s, at least 100ms)',
  },
  {
    name: 'candidate-check-timeout',
    type: 'string',
    value: 'DURATION',
    description: 'how long one candidate check may take (default 1s, at most the interval)',
  },
  {
    name: 'candidate-check-failures',
    type: 'string',
    value: 'N',
    description: 'failed candidate checks in a row after which the leader steps down (default 3, 1 to 1000)',
  },
  {
    name: 'hook',
    type: 'list',
    value: 'URL',
    description: 'POST every leadership change of this replica to URL (a local container hook; repeatable)',
  },
  {
    name: 'hook-secret-file',
    type: 'string',
    value: 'FILE',
    description: 'Standard Webhooks secrets (whsec_..., one per line, newest first) to sign the --hook requests',
  },
  {
    name: 'webhook',
    type: 'list',
    value: 'URL',
    description: 'POST every transition of the election to URL, once, from the leader (repeatable)',
  },
  {
    name: 'webhook-secret-file',
    type: 'string',
    value: 'FILE',
    description: 'Standard Webhooks secrets (whsec_..., one per line, newest first) to sign the --webhook requests',
  },
  {
    name: 'config',
    type: 'string',
    value: 'FILE',
    description:
      'notification targets (YAML or JSON): url, scope, events, format, headers, secretFiles, timeout, retry',
  },
  {
    name: 'state-file',
    type: 'string',
    value: 'PATH',
    description: 'keep the current leader JSON (as GET /leader) in this file, replaced atomically on every change',
  },
  {
    name: 'drain-timeout',
    type: 'string',
    value: 'DURATION',
    description: 'on SIGTERM, how long pending notifications may take after the release (default 5s)',
  },
  { name: 'log-level', type: 'string', value: 'LEVEL', description: 'debug | info (default) | warn | error' },
  { name: 'help', type: 'boolean', short: 'h', description: 'show this help' },
  { name: 'version', type: 'boolean', description: 'print the version' },
] as const satisfies readonly FlagSpec[];

export function envName(flag: string): string {
  return `LEADERHOOK_${flag.toUpperCase().replaceAll('-', '_')}`;
}

export function helpText(version: string): string {
  const rows = FLAGS.map((flag) => {
    const left = `  ${'short' in flag ? `-${flag.short}, ` : ''}--${flag.name}${'value' in flag ? ` ${flag.value}` : ''}`;
    return `${left.padEnd(34)} ${flag.description}`;
  });
  return [
    `leaderhook ${version}: Kubernetes leader election sidecar`,
    '',
    'Usage: leaderhook --election NAME [flags]',
    '',
    'Flags (each also settable as LEADERHOOK_<FLAG>, e.g. LEADERHOOK_ELECTION_NAMESPACE):',
    ...rows,
    '',
    'Durations are Go durations: 500ms, 15s, 1m.',
  ].join('\n');
}
