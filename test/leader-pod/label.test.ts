import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildConfig } from '../../src/config/config.ts';
import { readFlags } from '../../src/config/read-flags.ts';
import { UsageError } from '../../src/config/usage-error.ts';
import { parseLeaderLabel } from '../../src/leader-pod/label.ts';

function configFrom(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const { values, sources } = readFlags(argv, env);
  return buildConfig(values, sources, env);
}

describe('--leader-label, --ready-only-when-leader, --events', () => {
  it('parses KEY=VALUE with Kubernetes label syntax', () => {
    assert.deepEqual(parseLeaderLabel('role=leader'), { key: 'role', value: 'leader' });
    assert.deepEqual(parseLeaderLabel('leaderhook.io/leader=true'), { key: 'leaderhook.io/leader', value: 'true' });
    assert.deepEqual(parseLeaderLabel('k8s-elector/status=leader'), { key: 'k8s-elector/status', value: 'leader' });
    for (const bad of [
      'role',
      '=leader',
      'role=',
      'Bad_Prefix/x=y',
      'role=-x',
      `role=${'a'.repeat(64)}`,
      'a/b/c=d',
      'role=lea der',
    ]) {
      assert.equal(typeof parseLeaderLabel(bad), 'string', bad);
    }
  });

  it('validates the flags into the config, naming the flag or variable on error', () => {
    const config = configFrom(['--election=e', '--leader-label=role=leader', '--ready-only-when-leader']);
    assert.deepEqual(config.leaderLabel, { key: 'role', value: 'leader' });
    assert.equal(config.readyOnlyWhenLeader, true);
    assert.equal(config.events, true);

    const defaults = configFrom(['--election=e']);
    assert.equal(defaults.leaderLabel, undefined);
    assert.equal(defaults.readyOnlyWhenLeader, false);
    assert.equal(configFrom(['--election=e', '--events=false']).events, false);
    assert.equal(configFrom(['--election=e', '--no-events']).events, false);
    assert.deepEqual(
      configFrom(['--election=e'], { LEADERHOOK_LEADER_LABEL: 'a=b', LEADERHOOK_READY_ONLY_WHEN_LEADER: 'true' })
        .leaderLabel,
      { key: 'a', value: 'b' },
    );

    for (const [argv, env, subject] of [
      [['--election=e', '--leader-label=role'], {}, '--leader-label'],
      [['--election=e'], { LEADERHOOK_LEADER_LABEL: 'role=' }, 'LEADERHOOK_LEADER_LABEL'],
      [['--election=e', '--ready-only-when-leader=maybe'], {}, '--ready-only-when-leader'],
    ] as const) {
      assert.throws(
        () => configFrom([...argv], { ...env }),
        (error: unknown) => error instanceof UsageError && error.message.startsWith(subject),
        `${argv.join(' ')} ${JSON.stringify(env)}`,
      );
    }
  });
});
