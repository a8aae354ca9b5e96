// `npm run bench`: leaderhook's speed and memory figures on this machine, against the embedded Lease API, with the
// compiled build (`dist/`, as the container runs it). Prints medians and percentiles over many runs; asserts nothing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startEmbeddedApi, type EmbeddedApi } from '../embedded-api/server.ts';
import { Replica, waitFor } from '../test/support/replica.ts';
import { readEvents } from '../test/support/sse.ts';
import { benchNotify } from './notify.ts';
import { percentile, summary } from './stats.ts';

const { values: options } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    'crash-runs': { type: 'string', default: '8' },
    'load-seconds': { type: 'string', default: '10' },
    'idle-seconds': { type: 'string', default: '60' },
  },
});
const RUNS = Number(options.runs);
const CRASH_RUNS = Number(options['crash-runs']);
const FAST_TIMINGS = ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=500ms'];

const root = fileURLToPath(new URL('..', import.meta.url));
console.log('building dist/ …');
execFileSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')],
  { stdio: 'inherit' },
);
const entry = join(root, 'dist/cli.js');

const directory = mkdtempSync(join(tmpdir(), 'leaderhook-bench-'));
const tokens = Object.fromEntries(
  Array.from({ length: 8 }, (_, index) => [`token-${index}`, { user: `replica-${index}` }]),
);
const api: EmbeddedApi = await startEmbeddedApi({ tokens });
const kubeconfigs: string[] = [];
for (let index = 0; index < 8; index++) {
  const path = join(directory, `kubeconfig-${index}`);
  await api.writeKubeconfig(path, { token: `token-${index}` });
  kubeconfigs.push(path);
}
const results: Array<[string, string]> = [];
const report = (name: string, value: string) => {
  results.push([name, value]);
  console.log(`${name}: ${value}`);
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function start(election: string, index: number, args: string[] = FAST_TIMINGS): Promise<Replica> {
  return Replica.start({ id: `replica-${index}`, kubeconfig: kubeconfigs[index] as string, election, args, entry });
}

async function leaderOf(replicas: Replica[]): Promise<Replica> {
  return waitFor('a leader', async () => {
    for (const replica of replicas) if ((await replica.leader())?.isLeader) return replica;
    return undefined;
  });
}

/** Resolves with the time at which any of `replicas` announces on /watch that it started leading. */
function nextStart(replicas: Replica[]): { started: Promise<number>; cancel: () => void } {
  const controller = new AbortController();
  const started = new Promise<number>((resolve, reject) => {
    for (const replica of replicas) {
      readEvents(
        `${replica.url}/watch`,
        (event) => event === 'started' && resolve(performance.now()),
        controller.signal,
      ).catch(reject);
    }
  });
  return { started, cancel: () => controller.abort() };
}

async function failovers(signal: 'SIGTERM' | 'SIGKILL', runs: number): Promise<number[]> {
  const election = `failover-${signal.toLowerCase()}`;
  const replicas = await Promise.all([0, 1, 2].map((index) => start(election, index)));
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const leader = await leaderOf(replicas);
    const others = replicas.filter((replica) => replica !== leader);
    await Promise.all(
      others.map((replica) => waitFor('ready', async () => (await replica.leader())?.leader === leader.id)),
    );
    const next = nextStart(others);
    await sleep(300); // let the /watch streams connect and a renew or two pass
    const sentAt = performance.now();
    leader.signal(signal);
    const startedAt = await next.started;
    next.cancel();
    times.push(startedAt - sentAt);
    await leader.exited;
    const index = replicas.indexOf(leader);
    replicas[index] = await start(election, Number(leader.id.split('-')[1]));
  }
  await Promise.all(replicas.map((replica) => replica.stop()));
  return times;
}

async function startupToAcquire(runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const startedAt = performance.now();
    const replica = await start(`startup-${run}`, 0);
    await waitFor('first acquire', async () => (await replica.leader())?.isLeader, 30_000, 5);
    times.push(performance.now() - startedAt);
    await replica.stop();
  }
  return times;
}

function rssMegabytes(replica: Replica): number {
  const status = readFileSync(`/proc/${replica.process.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
}

async function idleCosts(seconds: number): Promise<void> {
  // Default timings, as in production: client-go's followers would read every 2–4.4 s.
  const replicas = await Promise.all([6, 7].map((index) => start('idle', index, [])));
  const leader = await leaderOf(replicas);
  const follower = replicas.find((replica) => replica !== leader) as Replica;
  await sleep(5000);
  api.clearRequests();
  // RSS moves with each GC cycle: sample it through the idle window and report the median and the peak.
  const rss = new Map<Replica, number[]>(replicas.map((replica) => [replica, []]));
  const sampler = setInterval(() => {
    for (const [replica, samples] of rss) samples.push(rssMegabytes(replica));
  }, 500);
  await sleep(seconds * 1000);
  clearInterval(sampler);
  const rssSummary = (replica: Replica) => {
    const samples = rss.get(replica) ?? [];
    return `median ${percentile(samples, 50).toFixed(1)} MB, max ${Math.max(...samples).toFixed(1)} MB`;
  };
  const perMinute = (replica: Replica, verbs?: string[]) =>
    (api.requests.filter(
      (request) =>
        request.user === `replica-${replica.id.split('-')[1]}` && (!verbs || verbs.includes(request.verb ?? '')),
    ).length *
      60) /
    seconds;
  report(
    'API requests/min, leader (default timings)',
    `${perMinute(leader).toFixed(1)} (reads: ${perMinute(leader, ['get', 'list']).toFixed(1)})`,
  );
  report(
    'API requests/min, follower (default timings)',
    `${perMinute(follower).toFixed(1)} (reads: ${perMinute(follower, ['get', 'list']).toFixed(1)})`,
  );
  report(
    'idle RSS',
    `leader ${rssSummary(leader)}; follower ${rssSummary(follower)} (sampled every 500 ms for ${seconds} s)`,
  );
  await Promise.all(replicas.map((replica) => replica.stop()));
}

async function httpThroughput(seconds: number): Promise<void> {
  const replica = await start('http-load', 5, []);
  await leaderOf([replica]);
  const result = await autocannon({ url: `${replica.url}/`, connections: 32, pipelining: 1, duration: seconds });
  report(
    'GET / throughput',
    `${Math.round(result.requests.average)} req/s (32 connections, ${seconds} s, ${result.errors + result.non2xx} errors)`,
  );
  report('GET / latency', `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`);
  await replica.stop();
}

try {
  const graceful = await failovers('SIGTERM', RUNS);
  report('graceful failover (SIGTERM → a new leader serves /leader)', summary(graceful));
  const crash = await failovers('SIGKILL', CRASH_RUNS);
  report('crash failover (SIGKILL, lease 2s / retry 500ms)', summary(crash));
  const startup = await startupToAcquire(10);
  report('start-up to first acquire (process start included)', summary(startup));
  await idleCosts(Number(options['idle-seconds']));
  await httpThroughput(Number(options['load-seconds']));
  for (const [name, value] of await benchNotify({ kubeconfig: kubeconfigs[4] as string, directory, entry }))
    report(name, value);
  console.log('\n| measure | result |\n| --- | --- |');
  for (const [name, value] of results) console.log(`| ${name} | ${value} |`);
  console.log(
    `\ntargets: graceful p50 < 250 ms (${percentile(graceful, 50) < 250 ? 'met' : 'MISSED'}), p99 < 1 s (${percentile(graceful, 99) < 1000 ? 'met' : 'MISSED'})`,
  );
} finally {
  await api.close();
}
