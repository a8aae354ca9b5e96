// Idle cost (memory, CPU, API requests), start-up, GET / throughput, and the memory each optional feature adds.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Result } from 'autocannon';
import type { Replica } from '../test/support/replica.ts';
import { waitFor } from '../test/support/replica.ts';
import { cpuTimeMs, MemorySampler, type MemorySample } from './process-stats.ts';
import { agreedLeader, FAST_TIMINGS, wallNow, type Bench } from './setup.ts';
import { percentile } from './stats.ts';

export interface IdleFigures {
  rssMb: { median: number; max: number };
  anonMb: { median: number; max: number };
  /** CPU used over the window, as a percentage of one core. */
  cpuPercent: number;
  requestsPerMinute: number;
}

/** Sum of `leaderhook_api_requests_total` on a replica's /metrics. */
async function apiRequests(replica: Replica): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('leaderhook_api_requests_total{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

function summarise(samples: MemorySample[], key: keyof MemorySample): { median: number; max: number } {
  const values = samples.map((sample) => sample[key]);
  return { median: percentile(values, 50), max: Math.max(...values) };
}

/**
 * A leader and a follower with default timings (as in production), after `settleSeconds` sampled every 500 ms for
 * `seconds`: RSS moves with each GC cycle, so the median and the peak are reported.
 */
export async function idle(
  bench: Bench,
  seconds: number,
  settleSeconds = 10,
  args: string[] = [],
): Promise<{ leader: IdleFigures; follower: IdleFigures }> {
  const election = `idle-${Date.now().toString(36)}`;
  const replicas = [await bench.start('idle-a', election, args), await bench.start('idle-b', election, args)];
  try {
    const leader = await agreedLeader(replicas);
    const follower = replicas.find((replica) => replica !== leader) as Replica;
    await new Promise((resolve) => setTimeout(resolve, settleSeconds * 1000));
    const pids = [leader, follower].map((replica) => replica.process.pid as number);
    const cpuBefore = pids.map(cpuTimeMs);
    const requestsBefore = await Promise.all([leader, follower].map(apiRequests));
    const startedAt = wallNow();
    const sampler = new MemorySampler(pids);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    sampler.stop();
    const elapsedMs = wallNow() - startedAt;
    const requestsAfter = await Promise.all([leader, follower].map(apiRequests));
    const figures = (index: number): IdleFigures => {
      const samples = sampler.samples.get(pids[index] as number) ?? [];
      return {
        rssMb: summarise(samples, 'rssMb'),
        anonMb: summarise(samples, 'anonMb'),
        cpuPercent: ((cpuTimeMs(pids[index] as number) - (cpuBefore[index] as number)) / elapsedMs) * 100,
        // /metrics reads count as no API requests; the counter holds only Kubernetes API calls.
        requestsPerMinute:
          (((requestsAfter[index] as number) - (requestsBefore[index] as number)) * 60_000) / elapsedMs,
      };
    };
    return { leader: figures(0), follower: figures(1) };
  } finally {
    await Promise.all(replicas.map((replica) => replica.stop()));
  }
}

/** Process start → GET /leader says it leads (a fresh election each time). */
export async function startupToLeader(bench: Bench, runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const startedAt = wallNow();
    const replica = await bench.start('startup', `startup-${Date.now().toString(36)}-${run}`);
    try {
      await waitFor('the first acquire', async () => (await replica.leader())?.isLeader, 30_000, 5);
      times.push(wallNow() - startedAt);
    } finally {
      await replica.stop();
    }
  }
  return times;
}

const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

/**
 * `GET /` on a leader: 32 connections for `seconds`. The load comes from autocannon in a process of its own, as a
 * client's would: generated in the bench's process it shares that process's core with the bench's other work and
 * is the bottleneck on a loaded machine (half the figure).
 */
export async function httpThroughput(
  bench: Bench,
  seconds: number,
): Promise<{ requestsPerSecond: number; p50: number; p99: number; errors: number }> {
  const replica = await bench.start('http-load', `http-${Date.now().toString(36)}`, []);
  try {
    await agreedLeader([replica]);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [AUTOCANNON, '--json', '--connections=32', '--pipelining=1', `--duration=${seconds}`, `${replica.url}/`],
      { maxBuffer: 16 * 1024 * 1024, timeout: (seconds + 30) * 1000 },
    );
    const result = JSON.parse(stdout) as Result;
    return {
      requestsPerSecond: Math.round(result.requests.average),
      p50: result.latency.p50,
      p99: result.latency.p99,
      errors: result.errors + result.non2xx,
    };
  } finally {
    await replica.stop();
  }
}

export interface FeatureFigure {
  feature: string;
  rssMb: number;
  anonMb: number;
}

/**
 * The memory a lone leader holds with each optional feature configured (median over `seconds`), the first row
 * with none. Each loads only with its option: the delivery stack with a target, YAML with `--config`, the
 * CloudEvents SDK with a cloudevents target.
 */
export async function perFeature(bench: Bench, seconds: number, hookPort: number): Promise<FeatureFigure[]> {
  const yamlConfig = join(bench.directory, 'feature-json.yaml');
  writeFileSync(yamlConfig, `targets:\n  - {name: local, url: "http://127.0.0.1:${hookPort}/json", scope: self}\n`);
  const cloudEventsConfig = join(bench.directory, 'feature-cloudevents.yaml');
  writeFileSync(
    cloudEventsConfig,
    `targets:\n  - {name: local, url: "http://127.0.0.1:${hookPort}/ce", scope: self, format: cloudevents}\n`,
  );
  const features: Array<[string, string[]]> = [
    ['none (election, HTTP, metrics, Events)', []],
    ['--hook (the delivery stack: got, p-retry, signing)', [`--hook=http://127.0.0.1:${hookPort}/hook`]],
    ['--config with a JSON target (+ YAML, the config schema)', [`--config=${yamlConfig}`]],
    ['--config with a CloudEvents target (+ the CloudEvents SDK)', [`--config=${cloudEventsConfig}`]],
    ['--state-file', [`--state-file=${join(bench.directory, 'state.json')}`]],
  ];
  const figures: FeatureFigure[] = [];
  for (const [feature, args] of features) {
    const replica = await bench.start('feature', `feature-${Date.now().toString(36)}`, [...FAST_TIMINGS, ...args]);
    figures.push({ feature, ...(await loneLeaderMemory(replica, seconds)) });
  }
  return figures;
}

/**
 * A lone replica's idle memory: once it leads and has settled (5 s), the medians of RSS and RssAnon in MiB sampled
 * over `seconds`; the replica is stopped either way.
 */
async function loneLeaderMemory(replica: Replica, seconds: number): Promise<{ rssMb: number; anonMb: number }> {
  try {
    await agreedLeader([replica]);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const pid = replica.process.pid as number;
    const sampler = new MemorySampler([pid]);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    sampler.stop();
    const samples = sampler.samples.get(pid) ?? [];
    return { rssMb: summarise(samples, 'rssMb').median, anonMb: summarise(samples, 'anonMb').median };
  } finally {
    await replica.stop();
  }
}

export interface RuntimeVariant {
  name: string;
  /** Node.js options before the script (replacing the image's). */
  nodeArgs: string[];
  /** The environment (replacing the image's). */
  env: Record<string, string>;
}

/**
 * The runtime settings the image's choice came from: a lone leader's idle RSS and RssAnon (medians over `seconds`)
 * under each combination of Node.js options and allocator settings, on this machine's C library (glibc).
 */
export async function runtimeVariants(
  bench: Bench,
  variants: RuntimeVariant[],
  seconds: number,
): Promise<Array<{ name: string; rssMb: number; anonMb: number }>> {
  const image = bench.command;
  const script = image.args.at(-1) as string;
  const rows: Array<{ name: string; rssMb: number; anonMb: number }> = [];
  try {
    for (const variant of variants) {
      bench.command = { args: [...variant.nodeArgs, script], env: variant.env };
      const replica = await bench.start('runtime', `runtime-${Date.now().toString(36)}`);
      rows.push({ name: variant.name, ...(await loneLeaderMemory(replica, seconds)) });
    }
  } finally {
    bench.command = image;
  }
  return rows;
}
