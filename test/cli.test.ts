import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startEmbeddedApi } from '../embedded-api/server.ts';
import { badTokenFiles } from './support/bad-token-files.ts';
import { cliArgs, leaderhookCommand, Replica, waitFor } from './support/replica.ts';

function run(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000) {
  const result = spawnSync(process.execPath, cliArgs(...args), {
    encoding: 'utf8',
    env: { ...leaderhookCommand().env, PATH: process.env.PATH, HOME: '/nonexistent', ...env },
    timeout: timeoutMs,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const IN_A_POD = existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token');

describe('leaderhook command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leaderhook-cli-'));
  const garbage = join(dir, 'kubeconfig');
  writeFileSync(garbage, 'this: is: not: a kubeconfig: [');
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const good = join(dir, 'good-kubeconfig');
  writeFileSync(
    good,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]',
      'users: [{name: u, user: {}}]',
      'contexts: [{name: x, context: {cluster: c, user: u}}]',
      'current-context: x',
    ].join('\n'),
  );

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
      'a FIFO as the state file (a rename would replace it)',
      ['--election=x', `--kubeconfig=${good}`, `--state-file=${fifo}`],
      {},
      /^leaderhook: --state-file: ".*fifo" exists and is not a regular file: it would be replaced/,
    ],
    [
      'a state file in a directory that does not exist',
      ['--election=x', `--kubeconfig=${good}`, '--state-file=/nonexistent/dir/state.json'],
      {},
      /^leaderhook: --state-file: directory "\/nonexistent\/dir" does not exist\n$/,
    ],
    [
      'a state file in a directory that takes no new file',
      ['--election=x', `--kubeconfig=${good}`, '--state-file=/proc/1/state.json'],
      {},
      /^leaderhook: --state-file: cannot create files in directory "\/proc\/1" \(ENOENT\)\n$/,
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
    [
      'the second file of $KUBECONFIG missing',
      ['--election=x'],
      { KUBECONFIG: `${good}:/nonexistent/second` },
      /^leaderhook: KUBECONFIG: cannot read kubeconfig "\/nonexistent\/second": no such file\n$/,
    ],
    [
      '/dev/zero as the kubeconfig',
      ['--election=x', '--kubeconfig=/dev/zero'],
      {},
      /^leaderhook: --kubeconfig: cannot read kubeconfig "\/dev\/zero": not a regular file \(a character device\)\n$/,
    ],
    [
      'LEADERHOOK_KUBECONFIG naming /dev/zero',
      ['--election=x'],
      { LEADERHOOK_KUBECONFIG: '/dev/zero' },
      /^leaderhook: LEADERHOOK_KUBECONFIG: cannot read kubeconfig "\/dev\/zero": not a regular file/,
    ],
    [
      'a FIFO as the kubeconfig',
      ['--election=x', `--kubeconfig=${fifo}`],
      {},
      /^leaderhook: --kubeconfig: cannot read kubeconfig ".*fifo": not a regular file \(a FIFO\)\n$/,
    ],
    ['--ttl beyond a timer', ['--election=x', '--ttl=9999999h'], {}, /^leaderhook: --ttl: "9999999h" is too long/],
    [
      '--lease-duration beyond the Lease',
      ['--election=x', '--lease-duration=3000000000s'],
      {},
      /^leaderhook: --lease-duration: "3000000000s" is too long: at most 596h31m23\.647s/,
    ],
    [
      'an --id that cannot be a Pod name, with --leader-label',
      ['--election=x', '--id=Pod_1', '--leader-label=role=leader'],
      {},
      /^leaderhook: --id: "Pod_1" cannot be a Pod name/,
    ],
    [
      '--max-watch-clients that is not a number',
      ['--election=x', '--max-watch-clients=lots'],
      {},
      /^leaderhook: --max-watch-clients: must be a whole number of clients\n$/,
    ],
    [
      '--candidate-check that is not an HTTP URL',
      ['--election=x', '--candidate-check=tcp://127.0.0.1:8080'],
      {},
      /^leaderhook: --candidate-check: must be an http:\/\/ or https:\/\/ URL, not tcp:/,
    ],
    [
      '--candidate-check-failures 0',
      ['--election=x', '--candidate-check=http://127.0.0.1:8080/ready', '--candidate-check-failures=0'],
      {},
      /^leaderhook: --candidate-check-failures: must be at least 1\n$/,
    ],
    [
      '--candidate-check-timeout longer than the interval',
      ['--election=x', '--candidate-check=http://127.0.0.1:8080/ready', '--candidate-check-timeout=5s'],
      {},
      /^leaderhook: --candidate-check-timeout: must be at most the interval \(5s > --candidate-check-interval 2s\)/,
    ],
    [
      '--candidate-check-interval without --candidate-check',
      ['--election=x', '--candidate-check-interval=1s'],
      {},
      /^leaderhook: --candidate-check-interval: sets the candidate check, but --candidate-check is not given\n$/,
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

  describe("a kubeconfig whose user's token-file is not a regular file of at most 1 MiB", () => {
    const bad = badTokenFiles(join(dir, 'token-files'));
    for (const { name, kubeconfig, tokenFile, reason } of bad) {
      it(`${name}: refused before it is read, one line naming token-file and the file, exit 2`, () => {
        // Killed after 10 s (null, not 2): a FIFO would block for good, /dev/zero fill memory.
        const { code, stdout, stderr } = run(['--election=x', `--kubeconfig=${kubeconfig}`], {}, 10_000);
        assert.equal(
          stderr,
          `leaderhook: --kubeconfig: the kubeconfig's token-file ${JSON.stringify(tokenFile)}: ${reason}\n`,
        );
        assert.equal(code, 2);
        assert.equal(stdout, '');
      });
    }

    it('a FIFO named by a $KUBECONFIG file: the message names KUBECONFIG', () => {
      const fifo = bad[0]!;
      const { code, stderr } = run(['--election=x'], { KUBECONFIG: fifo.kubeconfig }, 10_000);
      assert.equal(
        stderr,
        `leaderhook: KUBECONFIG: the kubeconfig's token-file ${JSON.stringify(fifo.tokenFile)}: ${fifo.reason}\n`,
      );
      assert.equal(code, 2);
    });
  });

  it("a token-file named relative to its kubeconfig authenticates, its final newline trimmed (client-go's rules)", async () => {
    const api = await startEmbeddedApi({ tokens: { 'token-from-file': { user: 'leaderhook' } } });
    const configDir = mkdtempSync(join(dir, 'relative-'));
    writeFileSync(join(configDir, 'token'), 'token-from-file\n');
    const kubeconfig = join(configDir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: c, cluster: {server: "${api.url}", insecure-skip-tls-verify: true}}]`,
        'users: [{name: u, user: {token-file: token}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    const replica = await Replica.start({ id: 'token-file', kubeconfig, election: 'token-file' });
    try {
      await waitFor('leadership with the token from the file', async () => (await replica.leader())?.isLeader);
    } finally {
      await replica.stop();
      await api.close();
    }
  });

  it('a certificate-authority swapped for a FIFO while leading: calls fail naming it, the process keeps answering', async () => {
    const api = await startEmbeddedApi();
    const ca = join(dir, 'swapped-ca.crt');
    // An http:// server reads no certificate; client-node reads the file on every call all the same.
    writeFileSync(ca, 'unused over http');
    const kubeconfig = join(dir, 'swapped-ca-kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: c, cluster: {server: "${api.url}", insecure-skip-tls-verify: true, certificate-authority: "${ca}"}}]`,
        'users: [{name: u, user: {}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    const replica = await Replica.start({
      id: 'swapped-ca',
      kubeconfig,
      election: 'swapped-ca',
      args: ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=250ms'],
    });
    try {
      await waitFor('leadership', async () => (await replica.leader())?.isLeader);
      rmSync(ca);
      execFileSync('mkfifo', [ca]);
      const refusal = `the kubeconfig's certificate-authority ${JSON.stringify(ca)}: not a regular file (a FIFO)`;
      await waitFor('the refusal logged', () => replica.logs.find((line) => line.err === refusal), 5000);
      await waitFor('stepping down', async () => (await replica.leader())?.isLeader === false, 5000);
      assert.equal((await fetch(`${replica.url}/healthz`, { signal: AbortSignal.timeout(2000) })).status, 200);
    } finally {
      await replica.stop();
      await api.close();
    }
  });

  it('no credentials anywhere and not in a pod: exit 2, naming the three ways to give them', { skip: IN_A_POD }, () => {
    const { code, stdout, stderr } = run(['--election=x']);
    assert.equal(code, 2);
    assert.equal(stderr, 'leaderhook: no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG, or run in a pod\n');
    assert.equal(stdout, '');
  });

  it('-h answers as --help does', () => {
    const short = run(['-h']);
    assert.equal(short.code, 0);
    assert.equal(short.stdout, run(['--help']).stdout);
    assert.match(short.stdout, /-h, --help/);
  });

  it('the HTTP port in use: one line on stderr naming --http, exit 1, nothing on stdout', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address() as { port: number };
    try {
      const { code, stdout, stderr } = run(['--election=x', `--kubeconfig=${good}`, `--http=127.0.0.1:${port}`]);
      assert.equal(code, 1);
      assert.equal(stderr, `leaderhook: --http 127.0.0.1:${port}: the address is already in use (EADDRINUSE)\n`);
      assert.equal(stdout, '');
    } finally {
      taken.close();
    }
  });

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

  it("its log lines advise in the sidecar's words: --id on an identity clash, --leader-label on a missing pod, the local hooks on a release that could not wait", async () => {
    const api = await startEmbeddedApi();
    const kubeconfig = join(dir, 'wording-kubeconfig');
    await api.writeKubeconfig(kubeconfig);
    // A local hook that accepts connections and never answers: leadership.stopped is never acknowledged.
    const silentHook = createServer(() => {});
    silentHook.listen(0, '127.0.0.1');
    await once(silentHook, 'listening');
    const hookPort = (silentHook.address() as { port: number }).port;
    const replicas = await Promise.all(
      [0, 1].map(() =>
        Replica.start({
          id: 'twin',
          kubeconfig,
          election: 'wording',
          args: [
            '--lease-duration=3s',
            '--renew-deadline=2s',
            '--retry-period=500ms',
            '--drain-timeout=500ms',
            `--hook=http://127.0.0.1:${hookPort}/`,
            // No Pod of that name in the embedded API: the leader warns.
            '--leader-label=role=leader',
          ],
        }),
      ),
    );
    try {
      const clash = await waitFor('the identity clash error', () =>
        replicas
          .flatMap((replica) => replica.logs)
          .find((line) => line.level === 'error' && /identity "twin"/.test(String(line.msg))),
      );
      assert.match(
        String(clash.msg),
        /identities must be unique\. Set --id \(or POD_NAME from the downward API\) to the pod name; /,
      );
      const leader = await waitFor('a leader', async () => {
        for (const replica of replicas) if ((await replica.leader())?.isLeader) return replica;
        return undefined;
      });
      const missingPod = await waitFor('the missing pod warning', () =>
        leader.logs.find((line) => String(line.msg).startsWith('pod "twin" not found')),
      );
      assert.equal(
        missingPod.msg,
        'pod "twin" not found in namespace "default": --leader-label labels the pod named by --id (default $POD_NAME) ' +
          'in $POD_NAMESPACE; set both from the Downward API; retrying with back-off',
      );
      leader.signal('SIGTERM');
      assert.equal(await leader.exited, 0);
      assert.deepEqual(
        leader.logs.filter((line) => line.level === 'warn' && /release/.test(String(line.msg))).map((line) => line.msg),
        ['the local hooks did not acknowledge leadership.stopped before the release had to go ahead'],
      );
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
      silentHook.close();
      await api.close();
    }
  });

  it('--http :0: the start line names the port the system chose, and the API server without credentials', async () => {
    const api = await startEmbeddedApi();
    const kubeconfig = join(dir, 'embedded-kubeconfig');
    await api.writeKubeconfig(kubeconfig);
    const replica = await Replica.start({
      id: 'port-zero',
      kubeconfig,
      election: 'port-zero',
      args: ['--http=127.0.0.1:0'],
    });
    try {
      const started = await waitFor('the start line', () =>
        replica.logs.find((line) => line.msg === 'leaderhook started'),
      );
      const port = Number(/^127\.0\.0\.1:(\d+)$/.exec(String(started.http))?.[1]);
      assert.ok(port > 0, `logged ${String(started.http)}`);
      assert.equal(started.apiServer, api.url);
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    } finally {
      await replica.stop();
      await api.close();
    }
  });
});

describe('the leaderhook command on an older Node.js', () => {
  // The machines this project targets come with Node.js 20 as the system's node.
  const systemNode = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => existsSync(path));
  const version = systemNode ? spawnSync(systemNode, ['--version'], { encoding: 'utf8' }).stdout.trim() : '';
  const older = /^v(\d+)\./.exec(version) && Number(/^v(\d+)\./.exec(version)![1]) < 24;
  it(
    'says in one line which Node.js it needs, exit 1',
    { skip: older ? false : 'no Node.js older than 24 here' },
    () => {
      const bin = join(import.meta.dirname, '..', 'bin', 'leaderhook.js');
      const result = spawnSync(systemNode!, [bin, '--election=x'], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.status, 1);
      assert.equal(result.stderr, `leaderhook: needs Node.js 24 or later; this is ${version}\n`);
    },
  );
});
