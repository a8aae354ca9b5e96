import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { UsageError } from '../../src/config/usage-error.ts';
import { loadNotifyConfig } from '../../src/notify/notify-config.ts';
import { CLI } from '../support/replica.ts';

const dir = mkdtempSync(join(tmpdir(), 'leaderhook-notify-config-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
const secretFile = file('secret', `whsec_${Buffer.alloc(32, 7).toString('base64')}\n`);
const keyFile = file('routing-key', `${'k'.repeat(32)}\n`);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, '--election=demo', ...args], {
      timeout: 20_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

describe('bad notifier configuration: exit 2 with one clear line', () => {
  const cases: Array<[string, string[], RegExp]> = [
    [
      'a scope that does not exist',
      ['--config', file('scope.yaml', 'targets:\n  - url: http://a/x\n    scope: leaders\n')],
      /^leaderhook: --config .*scope\.yaml: targets\[0\]\.scope: scope must be self, leader, all, not "leaders"\n$/,
    ],
    [
      'an inline secret',
      ['--config', file('inline.yaml', 'targets:\n  - url: http://a/x\n    secret: whsec_abc\n')],
      /targets\[0\]\.secret: secrets are never written inline.*secretFiles\n$/,
    ],
    [
      'a credential in headers',
      ['--config', file('auth.json', '{"targets":[{"url":"http://a/x","headers":{"Authorization":"Bearer x"}}]}')],
      /targets\[0\]\.headers\.Authorization: looks like a credential.*headerFiles\n$/,
    ],
    [
      'an unknown key',
      ['--config', file('unknown.yaml', 'targets:\n  - url: http://a/x\n    retries: 3\n')],
      /targets\[0\]: unknown key "retries"\n$/,
    ],
    ['broken YAML', ['--config', file('broken.yaml', 'targets: [\n')], /not valid YAML or JSON/],
    [
      'a missing config file',
      ['--config', join(dir, 'nope.yaml')],
      /--config .*nope\.yaml: cannot read the file \(ENOENT\)\n$/,
    ],
    [
      'a non-http URL',
      ['--webhook', 'ftp://example.com/x'],
      /^leaderhook: --webhook ftp:\/\/example\.com\/…: must be an http:\/\/ or https:\/\/ URL, not ftp:\n$/,
    ],
    [
      'credentials in a URL',
      ['--hook', 'http://user:pw@localhost:8080/x'],
      /^leaderhook: --hook http:\/\/localhost:8080\/…: must not carry credentials/,
    ],
    [
      'a bad secret file',
      ['--webhook', 'http://a/x', '--webhook-secret-file', file('bad-secret', 'not-a-secret\n')],
      /^leaderhook: --webhook-secret-file: .*line 1: a secret must have the form whsec_<base64>\n$/,
    ],
    [
      'a secret file without webhooks',
      ['--webhook-secret-file', secretFile],
      /signs the --webhook targets, but none is given/,
    ],
    ['a bad drain timeout', ['--drain-timeout', 'soon'], /^leaderhook: --drain-timeout: "soon" is not a duration/],
    [
      'pagerduty without a routing key',
      ['--config', file('pd.yaml', 'targets:\n  - format: pagerduty\n')],
      /targets\[0\]\.routingKeyFile: is required for pagerduty/,
    ],
    [
      'alertmanager at the wrong path',
      ['--config', file('am.yaml', 'targets:\n  - url: http://am:9093/\n    format: alertmanager\n')],
      /\/api\/v2\/alerts/,
    ],
  ];
  for (const [name, args, message] of cases) {
    test(name, async () => {
      const result = await cli(args);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1);
      assert.ok(
        !result.stderr.includes('whsec_abc') && !result.stderr.includes('Bearer') && !result.stderr.includes('pw@'),
        'no secret echoed',
      );
    });
  }
});

describe('notifier configuration', () => {
  test('flags and a config file give targets with per-scope defaults', () => {
    const config = file(
      'good.yaml',
      [
        'targets:',
        '  - name: knative',
        '    url: http://broker.default.svc/',
        '    format: cloudevents',
        '    mode: structured',
        '    scope: all',
        '    events: [leader.changed]',
        '  - name: pd',
        '    format: pagerduty',
        `    routingKeyFile: ${keyFile}`,
        '    severity: critical',
        '  - url: http://am:9093/api/v2/alerts',
        '    format: alertmanager',
        '    retry: {attempts: 3, minDelay: 2s}',
        '    timeout: 3s',
      ].join('\n'),
    );
    const result = loadNotifyConfig(
      {
        hook: ['http://localhost:8080/leader'],
        webhook: ['https://example.com/hooks'],
        'webhook-secret-file': secretFile,
        config,
        'state-file': '/tmp/x.json',
      },
      {},
    );
    const targets = result.targets.map((resolved) => resolved.target);
    assert.deepEqual(
      targets.map((target) => [target.name, target.scope, target.format, target.supersede, target.timeoutMs]),
      [
        ['hook-1', 'self', 'json', true, 5000],
        ['webhook-1', 'leader', 'json', false, 15000],
        ['knative', 'all', 'cloudevents', false, 15000],
        ['pd', 'leader', 'pagerduty', false, 15000],
        ['target-3', 'leader', 'alertmanager', false, 3000],
      ],
    );
    assert.equal(targets[0]?.retry.attempts, Number.POSITIVE_INFINITY);
    assert.equal(targets[1]?.secretFiles[0], secretFile);
    assert.equal(result.targets[1]?.secrets.keys().length, 1);
    assert.deepEqual([...(targets[2]?.events ?? [])], ['leader.changed']);
    assert.equal(targets[2]?.mode, 'structured');
    assert.equal(targets[3]?.url, 'https://events.pagerduty.com/v2/enqueue');
    assert.deepEqual(targets[4]?.retry, { attempts: 3, minDelayMs: 2000, maxDelayMs: 60000, maxElapsedMs: 900000 });
    assert.equal(result.stateFile, '/tmp/x.json');
    assert.equal(result.drainTimeoutMs, 5000);
    // Cursor keys never contain the URL.
    assert.match(targets[1]?.cursorKey ?? '', /^u[0-9a-f]{12}$/);
  });

  test('duplicate names are refused', () => {
    const config = file('dup.yaml', 'targets:\n  - {name: a, url: "http://x/1"}\n  - {name: a, url: "http://x/2"}\n');
    assert.throws(
      () => loadNotifyConfig({ config }, {}),
      (error: unknown) => error instanceof UsageError && /used twice/.test(error.message),
    );
  });
});
