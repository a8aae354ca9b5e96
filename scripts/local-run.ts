// `npm start`: a local election on a machine with no cluster. Starts the embedded Lease API and three leaderhook
// replicas as separate processes (HTTP on 127.0.0.1:4040-4042), prints who leads and every change, and shows a
// graceful (SIGTERM) and a crash (SIGKILL) failover. Runs until Ctrl-C; `npm start -- --once` exits after the demo.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmbeddedApi } from '../embedded-api/server.ts';

const { values: options } = parseArgs({
  options: { once: { type: 'boolean', default: false }, 'base-port': { type: 'string', default: '4040' } },
});
const basePort = Number(options['base-port']);
const ELECTION = 'local-demo';
const TIMINGS = ['--lease-duration=4s', '--renew-deadline=3s', '--retry-period=1s'];
const cli = new URL('../src/cli.ts', import.meta.url).pathname;

interface Replica {
  id: string;
  port: number;
  process: ChildProcess;
}

const directory = mkdtempSync(join(tmpdir(), 'leaderhook-local-'));
const kubeconfig = join(directory, 'kubeconfig');
const api = await startEmbeddedApi({ port: 0 });
await api.writeKubeconfig(kubeconfig);
const started = performance.now();
const stamp = () => `+${((performance.now() - started) / 1000).toFixed(3)}s`.padStart(9);
const say = (line: string) => console.log(`${stamp()}  ${line}`);
say(`embedded Lease API (for local runs and tests only, not for production) at ${api.url}`);
say(`kubeconfig for it: ${kubeconfig}`);
say(`watch the Lease change hands, in another terminal: kubectl --kubeconfig=${kubeconfig} get lease -w`);
say(`  (also: kubectl --kubeconfig=${kubeconfig} describe lease ${ELECTION}, ... get events)`);

const replicas: Replica[] = [];

function startReplica(index: number): Replica {
  const id = `replica-${index + 1}`;
  const port = basePort + index;
  const child = spawn(
    process.execPath,
    [
      cli,
      `--election=${ELECTION}`,
      '--election-namespace=default',
      `--id=${id}`,
      `--http=127.0.0.1:${port}`,
      `--kubeconfig=${kubeconfig}`,
      ...TIMINGS,
    ],
    // A process group of its own: Ctrl-C reaches this script alone, which stops each replica with one SIGTERM (a
    // replica that got the terminal's SIGINT and then that SIGTERM would take the second signal as "exit now", and
    // leave without releasing the lock).
    { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
  );
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) report(id, line);
  });
  const replica = { id, port, process: child };
  replicas[index] = replica;
  say(`${id} started (http://127.0.0.1:${port}/)`);
  return replica;
}

/** The fields of a replica's JSON log line that the report prints. */
interface LogEntry {
  msg?: string;
  level?: string;
  reason?: string;
  leader?: string;
  transitions?: number;
  err?: string;
}

/** Prints the transitions each replica logs, in one line each. */
function report(id: string, line: string): void {
  let entry: LogEntry;
  try {
    entry = JSON.parse(line) as LogEntry;
  } catch {
    return;
  }
  if (entry.msg === 'became leader') say(`${id} became leader (lease transitions: ${entry.transitions})`);
  else if (entry.msg === 'stopped leading') say(`${id} stopped leading (${entry.reason})`);
  else if (entry.msg === 'released the lock') say(`${id} released the lock`);
  else if (entry.level === 'error' || entry.level === 'fatal')
    say(`${id} error: ${entry.msg}${entry.err ? `: ${entry.err}` : ''}`);
}

async function leaderSeenBy(replica: Replica): Promise<{ leader: string; isLeader: boolean } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${replica.port}/leader`, { signal: AbortSignal.timeout(1000) });
    return (await response.json()) as { leader: string; isLeader: boolean };
  } catch {
    return undefined;
  }
}

/** Waits until every running replica names the same leader, other than `not`. */
async function agreedLeader(not = ''): Promise<string> {
  for (;;) {
    const running = replicas.filter(
      (replica) => replica.process.exitCode === null && replica.process.signalCode === null,
    );
    const views = await Promise.all(running.map(leaderSeenBy));
    const first = views[0]?.leader;
    if (first && first !== not && views.every((view) => view?.leader === first)) return first;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function failover(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const leader = await agreedLeader();
  const index = replicas.findIndex((replica) => replica.id === leader);
  const victim = replicas[index] as Replica;
  say(`--- ${signal} to the leader, ${leader} ---`);
  const sentAt = performance.now();
  victim.process.kill(signal);
  const next = await agreedLeader(leader);
  say(`all replicas name ${next} as leader, ${Math.round(performance.now() - sentAt)} ms after ${signal}`);
  await new Promise((resolve) =>
    victim.process.exitCode !== null || victim.process.signalCode !== null
      ? resolve(null)
      : victim.process.once('exit', resolve),
  );
  startReplica(index);
}

let stopping = false;

async function shutdown(code: number): Promise<void> {
  // npm forwards the terminal's SIGINT too: one shutdown, one SIGTERM per replica.
  if (stopping) return;
  stopping = true;
  for (const replica of replicas) replica.process.kill('SIGTERM');
  await Promise.all(
    replicas.map(
      (replica) =>
        new Promise((resolve) =>
          replica.process.exitCode !== null || replica.process.signalCode !== null
            ? resolve(null)
            : replica.process.once('exit', resolve),
        ),
    ),
  );
  await api.close();
  rmSync(directory, { recursive: true, force: true });
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
// Replicas in their own process groups outlive this script unless it stops them: on any exit, they go too.
process.on('exit', () => {
  for (const replica of replicas)
    if (replica.process.exitCode === null && replica.process.signalCode === null) replica.process.kill('SIGKILL');
});

for (let index = 0; index < 3; index++) startReplica(index);
say(`all replicas name ${await agreedLeader()} as leader`);
await sleep(2000);
await failover('SIGTERM');
await sleep(3000);
await failover('SIGKILL');
await sleep(2000);
say(
  `current leader: ${await agreedLeader()}. GET http://127.0.0.1:${basePort}/ answers ${JSON.stringify(await (await fetch(`http://127.0.0.1:${basePort}/`)).json())}`,
);
if (options.once) await shutdown(0);
say(
  `running; Ctrl-C to stop (try: curl -N http://127.0.0.1:${basePort}/watch, or kubectl --kubeconfig=${kubeconfig} get lease -w)`,
);
