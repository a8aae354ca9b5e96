/**
 * kubectl against the embedded API, as a newcomer uses it during `npm start`: `get lease` (discovery, then a
 * server-side printed Table), `get lease -w` (a Table watch) through a failover, `describe lease` with the
 * leadership Events, and `get events`. The installed kubectl is the client; real leaderhook processes hold the Lease.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import { Replica, waitFor } from '../support/replica.ts';
import { requireTool } from '../support/tools.ts';

const ELECTION = 'kubectl-demo';
const execFileAsync = promisify(execFile);

let api: EmbeddedApi;
let scratch: string;
let kubeconfig: string;
const replicas: Replica[] = [];

before(async () => {
  api = await startEmbeddedApi();
  scratch = mkdtempSync(join(tmpdir(), 'leaderhook-kubectl-'));
  kubeconfig = join(scratch, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
  for (const id of ['kubectl-a', 'kubectl-b'])
    replicas.push(
      await Replica.start({
        id,
        kubeconfig,
        election: ELECTION,
        args: ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=250ms'],
      }),
    );
});

after(async () => {
  for (const replica of replicas) await replica.stop();
  await api.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** kubectl's arguments for this server: its kubeconfig and a discovery cache of this test's own. */
const connection = (): string[] => [`--kubeconfig=${kubeconfig}`, `--cache-dir=${join(scratch, 'cache')}`];

async function kubectl(t: TestContext, ...args: string[]): Promise<string | undefined> {
  const command = requireTool(t, 'kubectl', 'apt-get install kubernetes-client');
  if (!command) return undefined;
  try {
    const { stdout } = await execFileAsync(command, [...connection(), ...args], { timeout: 30_000 });
    return stdout;
  } catch (error) {
    const failure = error as Error & { stderr?: string };
    throw new Error(`kubectl ${args.join(' ')}: ${failure.message}\n${failure.stderr ?? ''}`, { cause: error });
  }
}

async function currentLeader(): Promise<string> {
  return waitFor('every replica names one leader', async () => {
    const views = await Promise.all(replicas.filter((r) => r.process.exitCode === null).map((r) => r.leader()));
    const leader = views[0]?.leader;
    return leader && views.every((view) => view?.leader === leader) ? leader : undefined;
  });
}

/** The rows of `kubectl get` output as arrays of cells (columns are separated by two or more spaces). */
const rows = (output: string): string[][] =>
  output
    .trimEnd()
    .split('\n')
    .map((line) => line.trim().split(/\s{2,}/));

test('kubectl get lease prints the holder as a real server does', async (t) => {
  const leader = await currentLeader();
  const output = await kubectl(t, 'get', 'lease');
  if (output === undefined) return;
  const [header, ...lines] = rows(output);
  assert.deepEqual(header, ['NAME', 'HOLDER', 'AGE']);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]![0], ELECTION);
  assert.equal(lines[0]![1], leader);
  assert.match(lines[0]![2]!, /^\d+s$/);
});

test('kubectl get lease -w shows the new holder when the leader goes', async (t) => {
  const command = requireTool(t, 'kubectl', 'apt-get install kubernetes-client');
  if (!command) return;
  const leader = await currentLeader();
  const watcher = spawn(command, [...connection(), 'get', 'lease', ELECTION, '-w'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let errors = '';
  createInterface({ input: watcher.stdout }).on('line', (line) => lines.push(line));
  watcher.stderr.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
  try {
    await waitFor('the watch prints the current holder', () => lines.some((line) => rows(line)[0]?.[1] === leader));
    assert.deepEqual(rows(lines[0]!)[0], ['NAME', 'HOLDER', 'AGE']);
    const departing = replicas.find((replica) => replica.id === leader)!;
    departing.signal('SIGTERM');
    await departing.exited;
    const successor = replicas.find((replica) => replica.id !== leader)!.id;
    await waitFor(`the watch prints ${successor} as holder`, () =>
      lines.some((line) => rows(line)[0]?.[0] === ELECTION && rows(line)[0]?.[1] === successor),
    );
    // Each change is one row under the one header, as kubectl prints a real server's Table watch.
    assert.equal(lines.filter((line) => line.startsWith('NAME')).length, 1, lines.join('\n'));
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- kubectl printed ---\n${lines.join('\n')}\n${errors}`, {
      cause: error,
    });
  } finally {
    watcher.kill();
  }
});

test('kubectl describe lease shows the holder and the leadership Events', async (t) => {
  const leader = await currentLeader();
  const output = await kubectl(t, 'describe', 'lease', ELECTION);
  if (output === undefined) return;
  assert.match(output, new RegExp(`^Name:\\s+${ELECTION}$`, 'm'));
  assert.match(output, new RegExp(`^\\s+Holder Identity:\\s+${leader}$`, 'm'));
  const events = output.slice(output.indexOf('\nEvents:'));
  assert.match(events, /Type\s+Reason\s+Age\s+From\s+Message/);
  assert.match(events, new RegExp(`Normal\\s+LeaderElection\\s+\\S+\\s+leaderhook\\s+${leader} became leader`));
});

test('kubectl get events lists every transition on the Lease', async (t) => {
  await currentLeader();
  const output = await kubectl(t, 'get', 'events', `--field-selector=involvedObject.name=${ELECTION}`);
  if (output === undefined) return;
  const [header, ...lines] = rows(output);
  assert.deepEqual(header, ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
  const messages = lines.map((cells) => {
    assert.deepEqual(cells.slice(1, 4), ['Normal', 'LeaderElection', `lease/${ELECTION}`]);
    return cells[4];
  });
  // The first holder's term and the successor's after the SIGTERM of the watch test (tests run in order).
  assert.ok(
    messages.some((message) => /^kubectl-[ab] became leader$/.test(message ?? '')),
    messages.join('\n'),
  );
  assert.ok(
    messages.some((message) => /^kubectl-[ab] stopped leading$/.test(message ?? '')),
    messages.join('\n'),
  );
});
