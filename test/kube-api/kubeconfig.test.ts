import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import { UsageError } from '../../src/config/usage-error.ts';
import { apiServerUrl, loadKubeConfig } from '../../src/kube-api/kubeconfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'leaderhook-kubeconfig-'));
const IN_A_POD = existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token');

function kubeconfig(server: string, context = 'x'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: c-${context}, cluster: {server: "${server}"}}]`,
    `users: [{name: u-${context}, user: {token: not-logged}}]`,
    `contexts: [{name: ${context}, context: {cluster: c-${context}, user: u-${context}}}]`,
    `current-context: ${context}`,
  ].join('\n');
}

describe('kubeconfig', () => {
  it('the API server URL for the log: scheme, host, port and path, never credentials or a query', () => {
    const cases: Array<[string, string]> = [
      ['https://127.0.0.1:6443', 'https://127.0.0.1:6443'],
      ['https://admin:s3cret@api.example.com:6443/prefix?token=abc', 'https://api.example.com:6443/prefix'],
      ['http://[::1]:8080/', 'http://[::1]:8080'],
      ['not a url', '(not a URL)'],
    ];
    for (const [server, logged] of cases) {
      const config = new KubeConfig();
      config.loadFromString(kubeconfig(server));
      assert.equal(apiServerUrl(config), logged, server);
    }
  });

  it('found where client-node looks, from the environment given: ~/.kube/config, then each file of $KUBECONFIG', () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.kube'), { recursive: true });
    writeFileSync(join(home, '.kube', 'config'), kubeconfig('https://home.example:6443', 'home'));
    assert.equal(apiServerUrl(loadKubeConfig(undefined, '--kubeconfig', { HOME: home })), 'https://home.example:6443');
    const [a, b] = [join(dir, 'a'), join(dir, 'b')];
    writeFileSync(a, kubeconfig('https://a.example', 'a'));
    writeFileSync(b, kubeconfig('https://b.example', 'b'));
    const merged = loadKubeConfig(undefined, '--kubeconfig', { HOME: home, KUBECONFIG: `${a}:${b}` });
    assert.deepEqual(
      merged.getContexts().map((context) => context.name),
      ['a', 'b'],
    );
  });

  it('no credentials anywhere and not in a pod: a usage error', { skip: IN_A_POD }, () => {
    assert.throws(
      () => loadKubeConfig(undefined, '--kubeconfig', { HOME: join(dir, 'nobody') }),
      (error: unknown) =>
        error instanceof UsageError &&
        error.message === 'no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG, or run in a pod',
    );
  });

  it('a kubeconfig above 1 MiB is refused', () => {
    const big = join(dir, 'big');
    writeFileSync(big, `${kubeconfig('https://a.example')}\n#${'x'.repeat(1024 * 1024)}\n`);
    assert.throws(
      () => loadKubeConfig(big, '--kubeconfig', {}),
      (error: unknown) =>
        error instanceof UsageError &&
        error.message === `--kubeconfig: cannot read kubeconfig "${big}": larger than 1 MiB, the limit for this file`,
    );
  });

  it('a server URL with credentials is refused without repeating them', () => {
    const file = join(dir, 'userinfo');
    writeFileSync(file, kubeconfig('http://user:URLPASS55@127.0.0.1:6443'));
    assert.throws(
      () => loadKubeConfig(file, '--kubeconfig', {}),
      (error: unknown) =>
        error instanceof UsageError &&
        error.message ===
          "--kubeconfig: the kubeconfig's server URL carries credentials (user:password@): put them in the user entry " +
            'instead',
    );
  });

  it('every file the kubeconfig names is read only as a regular file of at most 1 MiB', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const big = join(dir, 'big-ca');
    writeFileSync(big, 'x'.repeat(1024 * 1024 + 1));
    const cases: Array<[string, string, string]> = [
      ['certificate-authority', 'cluster', '/dev/zero'],
      ['client-certificate', 'user', fifo],
      ['client-key', 'user', big],
      ['client-key', 'user', join(dir, 'missing')],
    ];
    const reasons = ['not a regular file (a character device)', 'not a regular file (a FIFO)'];
    reasons.push('larger than 1 MiB, the limit for this file', 'no such file');
    for (const [index, [field, where, path]] of cases.entries()) {
      const file = join(dir, `names-${index}`);
      writeFileSync(
        file,
        [
          'apiVersion: v1',
          'kind: Config',
          `clusters: [{name: c, cluster: {server: "https://a.example"${where === 'cluster' ? `, ${field}: "${path}"` : ''}}}]`,
          `users: [{name: u, user: {${where === 'user' ? `${field}: "${path}"` : 'token: t'}}}]`,
          'contexts: [{name: x, context: {cluster: c, user: u}}]',
          'current-context: x',
        ].join('\n'),
      );
      const startedAt = performance.now();
      assert.throws(
        () => loadKubeConfig(file, '--kubeconfig', {}),
        (error: unknown) =>
          error instanceof UsageError &&
          error.message === `--kubeconfig: the kubeconfig's ${field} ${JSON.stringify(path)}: ${reasons[index]}`,
        path,
      );
      assert.ok(performance.now() - startedAt < 5000, 'refused at once, never blocked on a FIFO');
    }
  });
  it("the auth-provider files client-node reads are checked at the start too: tokenFile, oidc's idp-certificate-authority", () => {
    const fifo = join(dir, 'provider-fifo');
    execFileSync('mkfifo', [fifo]);
    const cases: Array<[string, string, string]> = [
      ['auth-provider tokenFile', `{name: tokenFile, config: {tokenFile: "${fifo}"}}`, fifo],
      [
        'auth-provider idp-certificate-authority',
        '{name: oidc, config: {id-token: t, idp-issuer-url: "https://idp.example", idp-certificate-authority: /dev/zero}}',
        '/dev/zero',
      ],
    ];
    const reasons = ['not a regular file (a FIFO)', 'not a regular file (a character device)'];
    for (const [index, [field, provider, path]] of cases.entries()) {
      const file = join(dir, `provider-${index}`);
      writeFileSync(
        file,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters: [{name: c, cluster: {server: "https://a.example"}}]',
          `users: [{name: u, user: {auth-provider: ${provider}}}]`,
          'contexts: [{name: x, context: {cluster: c, user: u}}]',
          'current-context: x',
        ].join('\n'),
      );
      assert.throws(
        () => loadKubeConfig(file, '--kubeconfig', {}),
        (error: unknown) =>
          error instanceof UsageError &&
          error.message === `--kubeconfig: the kubeconfig's ${field} ${JSON.stringify(path)}: ${reasons[index]}`,
        field,
      );
    }
  });

  it("a user's token-file: relative to the kubeconfig, trimmed, read for the current user only and only without a token", () => {
    const configDir = join(dir, 'token-file');
    mkdirSync(configDir);
    writeFileSync(join(configDir, 'token'), 'from-the-file\n');
    const load = (context: string) => {
      const file = join(configDir, `config-${context}`);
      writeFileSync(
        file,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters: [{name: c, cluster: {server: "https://a.example"}}]',
          'users:',
          '- {name: relative, user: {token-file: token}}',
          '- {name: both, user: {token: inline, token-file: /nonexistent/token}}',
          '- {name: unused, user: {token-file: /nonexistent/token}}',
          'contexts: [{name: relative, context: {cluster: c, user: relative}}, {name: both, context: {cluster: c, user: both}}]',
          `current-context: ${context}`,
        ].join('\n'),
      );
      return loadKubeConfig(file, '--kubeconfig', {}).getCurrentUser()?.token;
    };
    assert.equal(load('relative'), 'from-the-file');
    assert.equal(load('both'), 'inline');
  });

  it('files client-node reads on every call are checked again before each: a swapped one fails the call, named', async () => {
    const ca = join(dir, 'swap-ca.crt');
    const tokenFile = join(dir, 'swap-token');
    writeFileSync(ca, 'unused over http');
    writeFileSync(tokenFile, 'token');
    const file = join(dir, 'swap-config');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: c, cluster: {server: "http://127.0.0.1:1", insecure-skip-tls-verify: true, certificate-authority: "${ca}"}}]`,
        `users: [{name: u, user: {auth-provider: {name: tokenFile, config: {tokenFile: "${tokenFile}"}}}}]`,
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    const leases = loadKubeConfig(file, '--kubeconfig', {}).makeApiClient(CoordinationV1Api);
    const read = () => leases.readNamespacedLease({ name: 'x', namespace: 'default' });
    rmSync(ca);
    mkdirSync(ca);
    await assert.rejects(read(), {
      message: `the kubeconfig's certificate-authority ${JSON.stringify(ca)}: not a regular file (a directory)`,
    });
    rmSync(ca, { recursive: true });
    writeFileSync(ca, 'unused over http');
    writeFileSync(tokenFile, 'x'.repeat(1024 * 1024 + 1));
    await assert.rejects(read(), {
      message: `the kubeconfig's auth-provider tokenFile ${JSON.stringify(tokenFile)}: larger than 1 MiB, the limit for this file`,
    });
  });
});
