import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI } from './support/replica.ts';

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: '/nonexistent', ...env },
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('leaderhook command line', () => {
  const garbage = join(mkdtempSync(join(tmpdir(), 'leaderhook-cli-')), 'kubeconfig');
  writeFileSync(garbage, 'this: is: not: a kubeconfig: [');

  const cases: Array<[string, string[], NodeJS.ProcessEnv, RegExp]> = [
    ['missing --election', [], {}, /^leaderhook: --election: is required/],
    ['unknown flag', ['--election=x', '--electoin-namespace=y'], {}, /^leaderhook: --electoin-namespace: unknown flag/],
    ['missing value', ['--election'], {}, /^leaderhook: --election: missing value/],
    ['malformed duration', ['--election=x', '--ttl=10'], {}, /^leaderhook: --ttl: "10" is not a duration/],
    [
      'inconsistent timings',
      ['--election=x', '--renew-deadline=20s'],
      {},
      /^leaderhook: --lease-duration, --renew-deadline: lease duration must be greater than the renew deadline/,
    ],
    [
      'bad variable',
      [],
      { LEADERHOOK_ELECTION: 'x', LEADERHOOK_LOCK: 'secrets' },
      /^leaderhook: LEADERHOOK_LOCK: must be leases, configmaps or endpoints/,
    ],
    [
      'missing kubeconfig',
      ['--election=x', '--kubeconfig=/nonexistent/config'],
      {},
      /^leaderhook: --kubeconfig: cannot read kubeconfig "\/nonexistent\/config": no such file/,
    ],
    [
      'unparsable kubeconfig',
      ['--election=x', `--kubeconfig=${garbage}`],
      {},
      /^leaderhook: --kubeconfig: cannot read kubeconfig/,
    ],
    [
      'unreadable $KUBECONFIG',
      ['--election=x'],
      { KUBECONFIG: '/nonexistent/kc' },
      /^leaderhook: KUBECONFIG: cannot read kubeconfig/,
    ],
  ];
  for (const [name, args, env, message] of cases) {
    it(`${name}: one line on stderr, exit 2, no stack trace`, () => {
      const { code, stderr } = run(args, env);
      assert.equal(code, 2);
      assert.match(stderr, message);
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.doesNotMatch(stderr, /\n\s+at /);
    });
  }

  it('--version and --help answer and exit 0', () => {
    const version = run(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^leaderhook \d+\.\d+\.\d+/);
    const help = run(['--help']);
    assert.equal(help.code, 0);
    for (const flag of [
      '--election',
      '--election-namespace',
      '--id',
      '--http',
      '--ttl',
      '--lock',
      '--lease-duration',
      '--renew-deadline',
      '--retry-period',
      '--kubeconfig',
      '--log-level',
    ]) {
      assert.ok(help.stdout.includes(flag), `help lists ${flag}`);
    }
  });
});
