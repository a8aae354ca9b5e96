import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildConfig } from '../../src/config/config.ts';
import { parseDuration } from '../../src/config/duration.ts';
import { readFlags } from '../../src/config/read-flags.ts';
import { UsageError } from '../../src/config/usage-error.ts';

function configFrom(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const { values, sources } = readFlags(argv, env);
  return buildConfig(values, sources, env);
}

function usageError(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    configFrom(argv, env);
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected a usage error, got ${String(error)}`);
    return error.message;
  }
  assert.fail(`accepted ${argv.join(' ')}`);
}

describe('configuration', () => {
  it('parses Go durations', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('15s'), 15_000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('0'), 0);
    for (const bad of ['15', 's', '1x', '-1s', '']) assert.equal(parseDuration(bad), undefined, bad);
  });

  it("keeps leader-elector 0.4's flags and --ttl meaning", () => {
    const config = configFrom([
      '--election=example',
      '--http=0.0.0.0:4040',
      '--ttl',
      '10s',
      '--use-cluster-credentials=true',
      '--id',
      'pod-1',
    ]);
    assert.equal(config.election, 'example');
    assert.deepEqual(config.http, { host: '0.0.0.0', port: 4040 });
    assert.deepEqual(config.timings, { leaseDurationMs: 10_000, renewDeadlineMs: 5_000, retryPeriodMs: 2_500 });
    assert.equal(config.identity, 'pod-1');
    assert.equal(config.lock, 'leases');
  });

  it('defaults to client-go timings and $POD_NAME, and reads LEADERHOOK_* variables', () => {
    const config = configFrom([], {
      LEADERHOOK_ELECTION: 'env-election',
      LEADERHOOK_LOCK: 'endpoints',
      POD_NAME: 'pod-7',
      LEADERHOOK_HTTP: ':4041',
    });
    assert.equal(config.election, 'env-election');
    assert.equal(config.lock, 'endpoints');
    assert.equal(config.identity, 'pod-7');
    assert.deepEqual(config.http, { host: '', port: 4041 });
    assert.deepEqual(config.timings, { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
    assert.equal(configFrom(['--election', 'flag-wins'], { LEADERHOOK_ELECTION: 'env' }).election, 'flag-wins');
  });

  it('rejects bad input with one message naming the flag', () => {
    assert.equal(usageError([]), '--election: is required (the name of the lock object)');
    assert.match(usageError(['--election', 'x', '--bogus']), /^--bogus: unknown flag/);
    assert.match(usageError(['--election']), /^--election: missing value/);
    assert.match(
      usageError(['--election', 'x', '--retry-period', 'soon']),
      /^--retry-period: "soon" is not a duration/,
    );
    assert.match(
      usageError(['--election', 'x', '--lock', 'secrets']),
      /^--lock: must be leases, configmaps or endpoints/,
    );
    assert.match(usageError(['--election', 'x', '--http', '4040']), /^--http: "4040" is not HOST:PORT/);
    assert.match(
      usageError(['--election', 'x', '--ttl', '10s', '--lease-duration', '5s']),
      /^--ttl: cannot be combined with --lease-duration/,
    );
    assert.match(
      usageError([], { LEADERHOOK_ELECTION: 'Not_A_Name' }),
      /^LEADERHOOK_ELECTION: must be a lower-case DNS name/,
    );
  });

  it('validates timings as client-go does', () => {
    assert.match(
      usageError(['--election', 'x', '--lease-duration', '5s', '--renew-deadline', '5s']),
      /^--lease-duration, --renew-deadline: lease duration must be greater than the renew deadline/,
    );
    assert.match(
      usageError(['--election', 'x', '--renew-deadline', '2s', '--retry-period', '2s']),
      /^--renew-deadline, --retry-period: renew deadline must be greater than retry period × 1.2/,
    );
    assert.match(usageError(['--election', 'x', '--ttl', '500ms']), /^--ttl: lease duration must be at least 1s/);
    assert.doesNotThrow(() =>
      configFrom([
        '--election',
        'x',
        '--lease-duration',
        '2s',
        '--renew-deadline',
        '1500ms',
        '--retry-period',
        '500ms',
      ]),
    );
  });
});

describe('durations beyond what a timer or the Lease can hold', () => {
  const limit = 'at most 596h31m23.647s (2^31-1 ms, the longest delay a timer holds)';
  const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
    [['--ttl', '9999999h'], {}, `--ttl: "9999999h" is too long: ${limit}`],
    [['--lease-duration', '700h'], {}, `--lease-duration: "700h" is too long: ${limit}`],
    [['--lease-duration', '3000000000s'], {}, `--lease-duration: "3000000000s" is too long: ${limit}`],
    [['--renew-deadline', '600h'], {}, `--renew-deadline: "600h" is too long: ${limit}`],
    [['--retry-period', '2147483648ms'], {}, `--retry-period: "2147483648ms" is too long: ${limit}`],
    [[], { LEADERHOOK_TTL: '9999999h' }, `LEADERHOOK_TTL: "9999999h" is too long: ${limit}`],
  ];
  for (const [argv, env, message] of cases) {
    it(`${[...argv, ...Object.entries(env).map(([key, value]) => `${key}=${value}`)].join(' ')}: refused`, () => {
      assert.equal(usageError(['--election', 'x', ...argv], env), message);
    });
  }

  it('accepts the longest duration a timer holds', () => {
    const config = configFrom(['--election', 'x', '--lease-duration', '596h31m23.647s', '--renew-deadline', '1h']);
    assert.equal(config.timings.leaseDurationMs, 2 ** 31 - 1);
    assert.match(usageError(['--election', 'x', '--lease-duration', '596h31m23.648s']), /too long/);
  });
});

describe('command-line words that are names of object properties', () => {
  it('a boolean flag or variable set to "constructor" or "toString" is refused, not read as true', () => {
    assert.equal(
      usageError(['--election', 'x', '--events=constructor']),
      '--events: expected true or false, got "constructor"',
    );
    assert.equal(
      usageError(['--election', 'x'], { LEADERHOOK_EVENTS: 'toString' }),
      'LEADERHOOK_EVENTS: expected true or false, got "toString"',
    );
  });
});

describe('-h and --id', () => {
  it('-h asks for help as --help does', () => {
    assert.equal(readFlags(['-h'], {}).values.help, true);
  });

  it('an identity that cannot be a Pod name is refused with --leader-label, naming where it came from', () => {
    const needs = 'cannot be a Pod name, which --leader-label needs it to be';
    assert.match(
      usageError(['--election', 'x', '--id', 'Pod_1', '--leader-label', 'role=leader']),
      new RegExp(`^--id: "Pod_1" ${needs}`),
    );
    assert.match(
      usageError(['--election', 'x', '--leader-label', 'role=leader'], { LEADERHOOK_ID: 'pod 1' }),
      new RegExp(`^LEADERHOOK_ID: "pod 1" ${needs}`),
    );
    assert.match(
      usageError(['--election', 'x', '--leader-label', 'role=leader'], { POD_NAME: 'UPPER' }),
      new RegExp(`^POD_NAME: "UPPER" ${needs}`),
    );
    // An identity is written into logs and event ids: no control characters, wherever it came from.
    assert.equal(
      usageError(['--election', 'x', '--id', 'a\nb']),
      '--id: must not contain control characters (line breaks, tabs, ...)',
    );
    assert.equal(
      usageError(['--election', 'x'], { POD_NAME: 'pod\t1' }),
      'POD_NAME: must not contain control characters (line breaks, tabs, ...)',
    );
    // Without --leader-label the identity is only a holder identity, which may be any string.
    assert.equal(configFrom(['--election', 'x', '--id', 'Pod_1']).identity, 'Pod_1');
    assert.equal(
      configFrom(['--election', 'x', '--id', 'pod-1.a', '--leader-label', 'role=leader']).identity,
      'pod-1.a',
    );
  });
});

describe('--max-watch-clients', () => {
  it('defaults to 100; takes a whole number up to 10000', () => {
    assert.equal(configFrom(['--election', 'x']).maxWatchClients, 100);
    assert.equal(configFrom(['--election', 'x', '--max-watch-clients', '0']).maxWatchClients, 0, '/watch turned off');
    assert.equal(configFrom(['--election', 'x'], { LEADERHOOK_MAX_WATCH_CLIENTS: '10000' }).maxWatchClients, 10_000);
    const cases: Array<[string, string]> = [
      ['many', '--max-watch-clients: must be a whole number of clients'],
      ['-1', '--max-watch-clients: must be a whole number of clients'],
      ['1.5', '--max-watch-clients: must be a whole number of clients'],
      ['10001', '--max-watch-clients: must be at most 10000'],
      ['99999999999999999999', '--max-watch-clients: must be at most 10000'],
    ];
    for (const [value, message] of cases)
      assert.equal(usageError(['--election', 'x', `--max-watch-clients=${value}`]), message, value);
  });
});

describe('--candidate-check', () => {
  it('off by default; with a URL: 2s interval, 1s timeout, 3 failures; each settable, also from LEADERHOOK_*', () => {
    assert.equal(configFrom(['--election', 'x']).candidateCheck, undefined);
    const defaults = configFrom(['--election', 'x', '--candidate-check', 'http://127.0.0.1:8080/ready']).candidateCheck;
    assert.equal(defaults?.url.href, 'http://127.0.0.1:8080/ready');
    assert.deepEqual(
      { ...defaults, url: undefined },
      { url: undefined, intervalMs: 2000, timeoutMs: 1000, failureThreshold: 3 },
    );
    const set = configFrom(
      [
        '--election=x',
        '--candidate-check=https://localhost:8443/healthz',
        '--candidate-check-interval=500ms',
        '--candidate-check-timeout=500ms',
      ],
      { LEADERHOOK_CANDIDATE_CHECK_FAILURES: '1000' },
    ).candidateCheck;
    assert.deepEqual(
      { ...set, url: set?.url.href },
      { url: 'https://localhost:8443/healthz', intervalMs: 500, timeoutMs: 500, failureThreshold: 1000 },
    );
    const short = configFrom([
      '--election=x',
      '--candidate-check=http://[::1]:80/',
      '--candidate-check-interval=100ms',
    ]);
    assert.equal(short.candidateCheck?.timeoutMs, 100, 'the default timeout never exceeds a shorter interval');
  });

  it('refuses bad values with one message naming the flag or variable', () => {
    const check = ['--election=x', '--candidate-check=http://127.0.0.1:8080/ready'];
    const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
      [
        ['--election=x', '--candidate-check=ready'],
        {},
        '--candidate-check: "ready" is not a URL (e.g. http://127.0.0.1:8080/ready)',
      ],
      [
        ['--election=x', '--candidate-check='],
        {},
        '--candidate-check: "" is not a URL (e.g. http://127.0.0.1:8080/ready)',
      ],
      [
        ['--election=x', '--candidate-check=ftp://127.0.0.1/ready'],
        {},
        '--candidate-check: must be an http:// or https:// URL, not ftp: (e.g. http://127.0.0.1:8080/ready)',
      ],
      [
        ['--election=x', '--candidate-check=http://user:pw@127.0.0.1/ready'],
        {},
        '--candidate-check: must not carry credentials (user:password@): the check sends none',
      ],
      [
        ['--election=x', `--candidate-check=http://127.0.0.1/${'a'.repeat(2048)}`],
        {},
        '--candidate-check: must be at most 2048 characters',
      ],
      [[...check, '--candidate-check-interval=50ms'], {}, '--candidate-check-interval: must be at least 100ms'],
      [[...check, '--candidate-check-interval=0'], {}, '--candidate-check-interval: must be at least 100ms'],
      [
        [...check, '--candidate-check-interval=600h'],
        {},
        '--candidate-check-interval: "600h" is too long: at most 596h31m23.647s (2^31-1 ms, the longest delay a timer holds)',
      ],
      [
        [...check, '--candidate-check-interval=often'],
        {},
        '--candidate-check-interval: "often" is not a duration (use Go form: 500ms, 15s, 1m)',
      ],
      [[...check, '--candidate-check-timeout=0'], {}, '--candidate-check-timeout: must be at least 1ms'],
      [
        [...check, '--candidate-check-timeout=3s'],
        {},
        '--candidate-check-timeout: must be at most the interval (3s > --candidate-check-interval 2s), so checks never overlap',
      ],
      [[...check, '--candidate-check-failures=0'], {}, '--candidate-check-failures: must be at least 1'],
      [[...check, '--candidate-check-failures=1001'], {}, '--candidate-check-failures: must be at most 1000'],
      [
        [...check, '--candidate-check-failures=2.5'],
        {},
        '--candidate-check-failures: must be a whole number of checks',
      ],
      [
        [...check],
        { LEADERHOOK_CANDIDATE_CHECK_FAILURES: 'three' },
        'LEADERHOOK_CANDIDATE_CHECK_FAILURES: must be a whole number of checks',
      ],
      [
        ['--election=x', '--candidate-check-failures=2'],
        {},
        '--candidate-check-failures: sets the candidate check, but --candidate-check is not given',
      ],
      [
        ['--election=x', '--candidate-check-interval=1s'],
        {},
        '--candidate-check-interval: sets the candidate check, but --candidate-check is not given',
      ],
    ];
    for (const [argv, env, message] of cases) assert.equal(usageError(argv, env), message, argv.join(' '));
  });
});
