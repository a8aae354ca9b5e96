import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { UsageError } from '../../src/config/usage-error.ts';
import { loadNotifyConfig } from '../../src/notify/notify-config.ts';
import { cliArgs } from '../support/replica.ts';

const dir = mkdtempSync(join(tmpdir(), 'leaderhook-notify-config-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
const secretFile = file('secret', `whsec_${Buffer.alloc(32, 7).toString('base64')}\n`);
const fifo = join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);
const tooManyTargets = file('200000-targets.yaml', `targets:\n${'- {}\n'.repeat(200_000)}`);
const keyFile = file('routing-key', `${'k'.repeat(32)}\n`);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, cliArgs('--election=demo', ...args), {
      // Generous: a 1 MiB YAML (the largest config accepted) takes seconds to parse on a loaded 2-core machine.
      timeout: 60_000,
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
      'a bad hook secret file',
      ['--hook', 'http://localhost:8080/x', '--hook-secret-file', file('bad-hook-secret', 'whsec_abc\n')],
      /^leaderhook: --hook-secret-file: .*line 1: a secret must decode to 24 to 64 bytes, not 2\n$/,
    ],
    [
      'a hook secret file without hooks',
      ['--hook-secret-file', secretFile],
      /^leaderhook: --hook-secret-file: signs the --hook targets, but none is given\n$/,
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
      '/dev/zero as the secret file: refused, never read',
      ['--webhook', 'http://a/x', '--webhook-secret-file', '/dev/zero'],
      /^leaderhook: --webhook-secret-file: \/dev\/zero: not a regular file \(a character device\)\n$/,
    ],
    [
      'a FIFO as the secret file: refused at once, never waited on',
      ['--webhook', 'http://a/x', '--webhook-secret-file', fifo],
      /^leaderhook: --webhook-secret-file: .*fifo: not a regular file \(a FIFO\)\n$/,
    ],
    ['a FIFO as the config file', ['--config', fifo], /^leaderhook: --config .*fifo: not a regular file \(a FIFO\)\n$/],
    [
      '200,000 targets',
      ['--config', tooManyTargets],
      /^leaderhook: --config .*: targets: 200000 targets; at most 100 are allowed\n$/,
    ],
    [
      'a drain timeout no timer holds',
      ['--drain-timeout', '9999999h'],
      /^leaderhook: --drain-timeout: "9999999h" is too long: at most 596h31m23\.647s/,
    ],
    [
      'a severity on a format that has none',
      ['--config', file('sev.yaml', 'targets:\n  - url: http://chat/x\n    format: slack\n    severity: critical\n')],
      /targets\[0\]\.severity: applies to the pagerduty and alertmanager formats only\n$/,
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
  test('hooks are signed with --hook-secret-file, or secretFiles on a self-scope target', () => {
    const config = file(
      'self-signed.yaml',
      `targets:\n  - name: app\n    url: http://localhost:8081/x\n    scope: self\n    secretFiles: [${secretFile}]\n`,
    );
    const result = loadNotifyConfig(
      { hook: ['http://localhost:8080/x', 'http://localhost:8082/y'], 'hook-secret-file': secretFile, config },
      {},
    );
    assert.deepEqual(
      result.targets.map(({ target, secrets }) => [
        target.name,
        target.scope,
        target.secretFiles,
        secrets.keys().length,
      ]),
      [
        ['hook-1', 'self', [secretFile], 1],
        ['hook-2', 'self', [secretFile], 1],
        ['app', 'self', [secretFile], 1],
      ],
    );
  });

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
        '    severity: warning',
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
    assert.equal(targets[4]?.severity, 'warning');
    assert.deepEqual(targets[4]?.retry, { attempts: 3, minDelayMs: 2000, maxDelayMs: 60000, maxElapsedMs: 900000 });
    assert.equal(result.stateFile, '/tmp/x.json');
    assert.equal(result.drainTimeoutMs, 5000);
    // Cursor keys never contain the URL.
    assert.match(targets[1]?.cursorKey ?? '', /^u[0-9a-f]{12}$/);
  });

  test("an unnamed leader target's cursor key: from its urlFile's path, which a rotation keeps, else from its URL", () => {
    const urlFile = file('rotating-url', 'http://x/hook?token=one\n');
    const key = (text: string) => {
      const config = file('unnamed.yaml', text);
      return loadNotifyConfig({ config }, {}).targets[0]?.target.cursorKey;
    };
    const before = key(`targets:\n  - {urlFile: ${urlFile}, scope: leader}\n`);
    file('rotating-url', 'http://x/hook?token=two\n');
    assert.match(before ?? '', /^f[0-9a-f]{12}$/);
    assert.equal(key(`targets:\n  - {urlFile: ${urlFile}, scope: leader}\n`), before, 'the same after a rotation');
    const other = file('other-url', 'http://x/hook?token=two\n');
    assert.notEqual(key(`targets:\n  - {urlFile: ${other}, scope: leader}\n`), before, 'another file, another cursor');
    assert.notEqual(
      key('targets:\n  - {url: "http://x/hook?token=one", scope: leader}\n'),
      key('targets:\n  - {url: "http://x/hook?token=two", scope: leader}\n'),
    );
  });

  test('duplicate names are refused', () => {
    const config = file('dup.yaml', 'targets:\n  - {name: a, url: "http://x/1"}\n  - {name: a, url: "http://x/2"}\n');
    assert.throws(
      () => loadNotifyConfig({ config }, {}),
      (error: unknown) => error instanceof UsageError && /used twice/.test(error.message),
    );
  });
});

describe('every value from a file or the config bounded: one message naming the key or file', () => {
  const big = file('big', 'x'.repeat(64 * 1024 + 1));
  const bigConfig = file('big.yaml', `targets: []\n#${'x'.repeat(1024 * 1024)}\n`);
  const directory = join(dir, 'a-directory');
  mkdirSync(directory, { recursive: true });
  const elevenSecrets = file(
    'eleven-secrets',
    Array.from({ length: 11 }, (_, i) => `whsec_${Buffer.alloc(32, i).toString('base64')}`).join('\n'),
  );
  const lineBreak = file('line-break', 'Bearer abc\r\nInjected: yes\n');
  const snowman = file('snowman', 'token ☃\n');
  const config = (name: string, yaml: string) => ({ config: file(name, yaml) });
  const at = (name: string) => `--config ${join(dir, name)}`;

  const cases: Array<[string, Parameters<typeof loadNotifyConfig>[0], string]> = [
    [
      '/dev/zero as a secret file',
      { webhook: ['http://a/x'], 'webhook-secret-file': '/dev/zero' },
      '--webhook-secret-file: /dev/zero: not a regular file (a character device)',
    ],
    [
      'a directory as a header file',
      config('dir.yaml', `targets:\n  - url: http://a/x\n    headerFiles: {X-Token: ${directory}}\n`),
      `${at('dir.yaml')}: targets[0].headerFiles.X-Token: ${directory}: not a regular file (a directory)`,
    ],
    [
      'a URL file above 64 KiB',
      config('bigurl.yaml', `targets:\n  - urlFile: ${big}\n`),
      `${at('bigurl.yaml')}: targets[0].urlFile: ${big}: larger than 64 KiB, the limit for this file`,
    ],
    [
      'a config file above 1 MiB',
      { config: bigConfig },
      `--config ${bigConfig}: larger than 1 MiB, the limit for this file`,
    ],
    [
      '101 hooks',
      { hook: Array.from({ length: 101 }, (_, i) => `http://localhost:8080/${i}`) },
      '--hook: 101 targets in all; at most 100 are allowed (hooks, webhooks and config targets together)',
    ],
    [
      '51 headers on one target',
      config(
        'headers.yaml',
        `targets:\n  - url: http://a/x\n    headers: {${Array.from({ length: 51 }, (_, i) => `X-H${i}: v`).join(', ')}}\n`,
      ),
      `${at('headers.yaml')}: targets[0].headers: 51 headers; at most 50 are allowed (headers and headerFiles together)`,
    ],
    [
      '11 secret files on one target',
      config(
        'secretfiles.yaml',
        `targets:\n  - url: http://a/x\n    secretFiles: [${Array(11).fill(secretFile).join(', ')}]\n`,
      ),
      `${at('secretfiles.yaml')}: targets[0].secretFiles: 11 files; at most 10 are allowed`,
    ],
    [
      '11 secrets in one file',
      { webhook: ['http://a/x'], 'webhook-secret-file': elevenSecrets },
      `--webhook-secret-file: ${elevenSecrets}: line 11: more than 10 secrets in one file`,
    ],
    [
      'an inline header value with CR/LF',
      config('crlf.json', '{"targets":[{"url":"http://a/x","headers":{"X-Note":"a\\r\\nInjected: yes"}}]}'),
      `${at('crlf.json')}: targets[0].headers.X-Note: contains a line break (CR or LF) at character 2: an HTTP header value holds only tab, printable ASCII and Latin-1`,
    ],
    [
      'an inline header value beyond Latin-1',
      config('snowman.yaml', 'targets:\n  - url: http://a/x\n    headers: {X-Note: "pod ☃"}\n'),
      `${at('snowman.yaml')}: targets[0].headers.X-Note: contains a character outside Latin-1 at character 5: an HTTP header value holds only tab, printable ASCII and Latin-1`,
    ],
    [
      'a header file with CR/LF inside',
      config('crlf-file.yaml', `targets:\n  - url: http://a/x\n    headerFiles: {Authorization: ${lineBreak}}\n`),
      `${at('crlf-file.yaml')}: targets[0].headerFiles.Authorization: ${lineBreak}: contains a line break (CR or LF) at character 11: an HTTP header value holds only tab, printable ASCII and Latin-1`,
    ],
    [
      'a header file beyond Latin-1',
      config('snowman-file.yaml', `targets:\n  - url: http://a/x\n    headerFiles: {Authorization: ${snowman}}\n`),
      `${at('snowman-file.yaml')}: targets[0].headerFiles.Authorization: ${snowman}: contains a character outside Latin-1 at character 7: an HTTP header value holds only tab, printable ASCII and Latin-1`,
    ],
    [
      'keys named after object properties',
      config('proto.yaml', 'targets:\n  - url: http://a/x\n    constructor: 1\n    __proto__: 2\n    toString: 3\n'),
      `${at('proto.yaml')}: targets[0]: unknown keys "constructor", "__proto__", "toString"`,
    ],
    [
      'a timeout no timer holds',
      config('timeout.yaml', 'targets:\n  - url: http://a/x\n    timeout: 9999999h\n'),
      `${at('timeout.yaml')}: targets[0].timeout: "9999999h" is too long: at most 596h31m23.647s (2^31-1 ms, the longest delay a timer holds)`,
    ],
    [
      'a retry delay no timer holds',
      config('delay.yaml', 'targets:\n  - url: http://a/x\n    retry: {maxDelay: 700h}\n'),
      `${at('delay.yaml')}: targets[0].retry.maxDelay: "700h" is too long: at most 596h31m23.647s (2^31-1 ms, the longest delay a timer holds)`,
    ],
    [
      'a retry budget no timer holds',
      config('elapsed.yaml', 'targets:\n  - url: http://a/x\n    retry: {maxElapsed: 3000000000s}\n'),
      `${at('elapsed.yaml')}: targets[0].retry.maxElapsed: "3000000000s" is too long: at most 596h31m23.647s (2^31-1 ms, the longest delay a timer holds)`,
    ],
    [
      'a drain timeout no timer holds',
      { 'drain-timeout': '9999999h' },
      '--drain-timeout: "9999999h" is too long: at most 596h31m23.647s (2^31-1 ms, the longest delay a timer holds)',
    ],
  ];
  for (const [name, values, message] of cases) {
    test(name, () => {
      assert.throws(
        () => loadNotifyConfig(values, {}),
        (error: unknown) => error instanceof UsageError && error.message === message,
      );
    });
  }

  test('the most of everything is accepted: 100 targets, a 64 KiB header file, 10 secrets', () => {
    const exactly = file('exactly-64k', 'x'.repeat(64 * 1024));
    const tenSecrets = file(
      'ten-secrets',
      Array.from({ length: 10 }, (_, i) => `whsec_${Buffer.alloc(32, i).toString('base64')}`).join('\n'),
    );
    const targets = Array.from({ length: 99 }, (_, i) => `  - {name: t${i}, url: "http://a/${i}"}`);
    const yaml = `targets:\n${targets.join('\n')}\n  - {url: "http://a/x", headerFiles: {X-Big: ${exactly}}}\n`;
    const loaded = loadNotifyConfig({ config: file('hundred.yaml', yaml) }, {});
    assert.equal(loaded.targets.length, 100);
    assert.equal(loaded.targets[99]?.headerFiles.get('X-Big')?.value().length, 64 * 1024);
    const signed = loadNotifyConfig({ webhook: ['http://a/x'], 'webhook-secret-file': tenSecrets }, {});
    assert.equal(signed.targets[0]?.secrets.keys().length, 10);
  });
});
