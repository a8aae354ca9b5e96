// createElection's options: checked as the CLI checks its flags, every problem a UsageError whose subject is the option
// to fix, thrown before any API call; the CLI's defaults otherwise.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { Counter, Gauge, Registry } from 'prom-client';
import { UsageError } from '../../src/config/usage-error.ts';
import { createElection } from '../../src/library/create-election.ts';
import { openElection } from '../../src/library/open-election.ts';
import type { ElectionOptions } from '../../src/library/options.ts';
import { badTokenFiles } from '../support/bad-token-files.ts';

/** Credentials for a server nobody runs: nothing here may reach it (createElection makes no call before start). */
function kubeConfig(namespace?: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'c', server: 'http://127.0.0.1:9', skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u', ...(namespace ? { namespace } : {}) }],
    currentContext: 'x',
  });
  return config;
}

function refusal(options: unknown): { subject: string; message: string } {
  try {
    createElection({ kubeConfig: kubeConfig(), ...(options as ElectionOptions) });
  } catch (error) {
    assert.ok(error instanceof UsageError, `a UsageError, not ${String(error)}`);
    return { subject: error.subject, message: error.message };
  }
  assert.fail(`accepted ${JSON.stringify(options)}`);
}

describe('createElection options', () => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['no election', {}, 'election', /is required/],
    ['an election name Kubernetes refuses', { election: 'Nightly_Report' }, 'election', /lower-case DNS name/],
    ['a namespace Kubernetes refuses', { election: 'jobs', namespace: 'Team A' }, 'namespace', /DNS label/],
    ['an empty identity', { election: 'jobs', identity: '' }, 'identity', /must not be empty/],
    ['an unknown lock kind', { election: 'jobs', lock: 'secrets' }, 'lock', /leases, configmaps or endpoints/],
    ['a duration as text', { election: 'jobs', leaseDurationMs: '15s' }, 'leaseDurationMs', /milliseconds/],
    ['a duration no timer holds', { election: 'jobs', leaseDurationMs: 2 ** 31 }, 'leaseDurationMs', /at most/],
    ['an infinite duration', { election: 'jobs', retryPeriodMs: Infinity }, 'retryPeriodMs', /./],
    ['NaN', { election: 'jobs', renewDeadlineMs: Number.NaN }, 'renewDeadlineMs', /./],
    ['a lease under one second', { election: 'jobs', leaseDurationMs: 500 }, 'leaseDurationMs', /at least 1s/],
    [
      'a renew deadline past the lease duration',
      { election: 'jobs', renewDeadlineMs: 20_000 },
      'leaseDurationMs, renewDeadlineMs',
      /lease duration must be greater than the renew deadline.*leaseDurationMs 15000, renewDeadlineMs 20000/,
    ],
    [
      'a retry period too close to the renew deadline',
      { election: 'jobs', retryPeriodMs: 9000 },
      'renewDeadlineMs, retryPeriodMs',
      /renew deadline must be greater than retry period/,
    ],
    ['a zero retry period', { election: 'jobs', retryPeriodMs: 0 }, 'retryPeriodMs', /greater than zero/],
    ['a unit-less name', { election: 'jobs', leaseDuration: 15_000 }, 'leaseDuration', /is not an option/],
    ['not a KubeConfig', { election: 'jobs', kubeConfig: { server: 'x' } }, 'kubeConfig', /KubeConfig/],
    ['not a logger', { election: 'jobs', log: { info: () => {} } }, 'log', /debug, info, warn and error/],
    ['not a Registry', { election: 'jobs', metrics: {} }, 'metrics', /prom-client Registry/],
    ['not a signal', { election: 'jobs', signal: 'stop' }, 'signal', /AbortSignal/],
    ['events as text', { election: 'jobs', events: 'yes' }, 'events', /true or false/],
    ['not a candidacy', { election: 'jobs', candidate: () => true }, 'candidate', /mayAcquire, mayLead and subscribe/],
    ['a label without a value', { election: 'jobs', leaderLabel: 'role' }, 'leaderLabel', /KEY=VALUE/],
    [
      'a label value Kubernetes refuses',
      { election: 'jobs', leaderLabel: { key: 'role', value: 'the leader' } },
      'leaderLabel',
      /the value "the leader"/,
    ],
    [
      'a leader label with an identity that is no Pod name',
      { election: 'jobs', identity: 'Replica_1', leaderLabel: 'role=leader' },
      'identity',
      /cannot be a Pod name/,
    ],
    ...(
      [
        ['a\nb', 'U+000A (line feed)'],
        ['a\tb', 'U+0009 (tab)'],
        ['a\u0000b', 'U+0000'],
        ['a\u007fb', 'U+007F (delete)'],
      ] as const
    ).map(([identity, character]): [string, unknown, string, RegExp] => [
      `an identity with the control character ${character}`,
      { election: 'jobs', identity },
      'identity',
      /^identity: must not contain control characters \(line breaks, tabs, \.\.\.\)$/,
    ]),
  ];
  for (const [name, options, subject, message] of cases) {
    test(`${name}: refused, naming ${subject}`, () => {
      const refused = refusal(options);
      assert.equal(refused.subject, subject);
      assert.match(refused.message, message);
      assert.ok(refused.message.startsWith(`${subject}: `), refused.message);
    });
  }

  test('a default identity with a control character ($POD_NAME) is refused as the CLI refuses it', () => {
    assert.throws(
      () => openElection({ election: 'jobs', kubeConfig: kubeConfig() }, { env: { POD_NAME: 'pod\n1' } }),
      (error: unknown) =>
        error instanceof UsageError &&
        error.message ===
          'identity (default: $POD_NAME, else the hostname): must not contain control characters (line breaks, tabs, ...)',
    );
  });

  test("the app's registry holding one of the election's metric names with other labels or type: a UsageError naming metrics, nothing registered", () => {
    const labelled = new Registry();
    new Gauge({ name: 'leaderhook_is_leader', help: "the app's own", labelNames: ['pod'], registers: [labelled] });
    assert.deepEqual(refusal({ election: 'jobs', metrics: labelled }), {
      subject: 'metrics',
      message:
        'metrics: the registry already holds leaderhook_is_leader as a gauge labelled {pod}, but leaderhook records ' +
        'it as a gauge labelled {election}: rename or remove that metric, or pass another Registry',
    });
    assert.deepEqual(
      labelled.getMetricsAsArray().map((metric) => metric.name),
      ['leaderhook_is_leader'],
      'none of the election metrics was registered',
    );
    const typed = new Registry();
    new Counter({
      name: 'leader_election_master_status',
      help: "the app's own",
      labelNames: ['name'],
      registers: [typed],
    });
    assert.match(
      refusal({ election: 'jobs', metrics: typed }).message,
      /^metrics: the registry already holds leader_election_master_status as a counter labelled \{name\}, but leaderhook records it as a gauge labelled \{name\}/,
    );
    // The same shape, labels in another order: shared, as another election's would be.
    const same = new Registry();
    new Counter({
      name: 'leaderhook_leadership_changes_total',
      help: 'x',
      labelNames: ['type', 'election'],
      registers: [same],
    });
    assert.doesNotThrow(() => createElection({ election: 'jobs', kubeConfig: kubeConfig(), metrics: same }));
  });

  test("an app's KubeConfig is checked as a loaded one: a server URL with credentials is refused, naming kubeConfig", () => {
    const config = kubeConfig();
    config.clusters[0] = { ...config.clusters[0]!, server: 'https://admin:s3cret@127.0.0.1:6443' };
    assert.throws(
      () => createElection({ election: 'jobs', kubeConfig: config }),
      (error: unknown) =>
        error instanceof UsageError && error.subject === 'kubeConfig' && !error.message.includes('s3cret'),
    );
  });

  test('without credentials anywhere: a UsageError saying how to give them', () => {
    assert.throws(
      () => openElection({ election: 'jobs' }, { env: { HOME: '/nonexistent' } }),
      (error: unknown) =>
        error instanceof UsageError &&
        error.message === 'no Kubernetes credentials: pass the kubeConfig option, set KUBECONFIG, or run in a pod',
    );
  });

  test("$KUBECONFIG whose user's token-file is not a regular file of at most 1 MiB: a UsageError, nothing read", () => {
    const index = JSON.stringify(new URL('../../src/index.ts', import.meta.url).href);
    // In a process of its own: reading a FIFO would block it for good, /dev/zero fill its memory.
    const script = `import { createElection, UsageError } from ${index};
      try { createElection({ election: 'jobs' }); console.log('created'); }
      catch (error) { console.log(JSON.stringify({ usageError: error instanceof UsageError, message: error.message })); }`;
    for (const { name, kubeconfig, tokenFile, reason } of badTokenFiles(mkdtempSync(join(tmpdir(), 'leaderhook-')))) {
      const result = spawnSync(process.execPath, ['--input-type=module', '--eval', script], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: '/nonexistent', KUBECONFIG: kubeconfig },
        timeout: 10_000,
      });
      assert.deepEqual(
        JSON.parse(result.stdout || 'null'),
        {
          usageError: true,
          message: `KUBECONFIG: the kubeconfig's token-file ${JSON.stringify(tokenFile)}: ${reason}`,
        },
        `${name}: ${result.stderr}`,
      );
    }
  });

  test("the CLI's defaults: identity $POD_NAME, else the hostname; the context's namespace; a Lease", () => {
    const fromPod = openElection(
      { election: 'jobs', kubeConfig: kubeConfig('team-a') },
      { env: { POD_NAME: 'jobs-7d9' } },
    );
    assert.deepEqual(
      {
        identity: fromPod.election.identity,
        namespace: fromPod.election.state.namespace,
        lock: fromPod.election.state.lock,
        leader: fromPod.election.state.leader,
        isLeader: fromPod.election.state.isLeader,
      },
      { identity: 'jobs-7d9', namespace: 'team-a', lock: 'leases', leader: '', isLeader: false },
    );
    const fromHost = openElection({ election: 'jobs', kubeConfig: kubeConfig() }, { env: {} });
    assert.equal(fromHost.election.identity, hostname());
    assert.equal(fromHost.election.state.namespace, 'default');
  });

  test('accepts every option at once, a pino-like logger and a prom-client Registry included', () => {
    const log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
    const election = createElection({
      election: 'jobs',
      namespace: 'team-a',
      identity: 'jobs-0',
      lock: 'configmaps',
      leaseDurationMs: 6000,
      renewDeadlineMs: 4000,
      retryPeriodMs: 1000,
      kubeConfig: kubeConfig(),
      log,
      signal: new AbortController().signal,
      metrics: new Registry(),
      events: true,
      leaderLabel: { key: 'role', value: 'leader' },
    });
    assert.deepEqual(
      [election.identity, election.state.namespace, election.state.lock],
      ['jobs-0', 'team-a', 'configmaps'],
    );
  });
});
