// The notifier's figures: time from taking the lease to the local hook receiving the POST, alone and with 100 targets
// of which 10 hang. Called by bench/run.ts; also runs on its own: `node bench/notify.ts` (against src/, embedded API).
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedApi } from '../embedded-api/server.ts';
import { Replica } from '../test/support/replica.ts';
import { percentile, summary } from './stats.ts';

export interface NotifyBenchOptions {
  /** A kubeconfig for the (embedded) API server. */
  kubeconfig: string;
  /** Scratch directory for config files. */
  directory: string;
  /** The CLI to run (default src/cli.ts; the main runner passes dist/cli.js). */
  entry?: string;
  runs?: number;
  fanoutRuns?: number;
}

const TIMINGS = ['--lease-duration=2s', '--renew-deadline=1500ms', '--retry-period=500ms'];

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
const now = () => performance.timeOrigin + performance.now();

interface Arrival {
  path: string;
  type: string;
  latencyMs: number;
}

/** A loopback receiver that notes, per request, how long after the event's `timestamp` it arrived. */
async function receiver(
  hangPaths: (path: string) => boolean = () => false,
): Promise<{ server: Server; port: number; arrivals: Arrival[]; next: (count: number) => Promise<void> }> {
  const arrivals: Arrival[] = [];
  let waiter: { count: number; resolve: () => void } | undefined;
  const server = createServer((request, response) => {
    const at = now();
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '';
      if (hangPaths(path)) return; // never answered: the sender times out
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; timestamp: string };
      arrivals.push({
        path,
        type: body.type,
        latencyMs: at - Date.parse(body.timestamp),
        ...(process.env.DEBUG_BENCH ? { body } : {}),
      });
      response.end();
      if (waiter && arrivals.length >= waiter.count) waiter.resolve();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const next = (count: number) =>
    new Promise<void>((resolve, reject) => {
      if (arrivals.length >= count) return resolve();
      const timer = setTimeout(
        () => reject(new Error(`only ${arrivals.length} of ${count} hook requests arrived`)),
        20_000,
      );
      waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });
  return { server, port, arrivals, next };
}

/**
 * Runs the two measurements; returns report rows. The latency is the hook's arrival time minus the event's
 * `timestamp`, which the elector sets the moment the write that took the lease is confirmed (millisecond resolution).
 */
export async function benchNotify(options: NotifyBenchOptions): Promise<Array<[string, string]>> {
  const runs = options.runs ?? 100;
  const fanoutRuns = options.fanoutRuns ?? 5;
  const rows: Array<[string, string]> = [];
  const tag = Date.now().toString(36);

  // 1. One local hook: a running follower takes the lease when the leader releases it (SIGTERM), as in a rollout.
  const single = await receiver();
  const alone: number[] = [];
  for (let run = 0; run < runs; run++) {
    const election = `bench-hook-${tag}-${run}`;
    const start = (id: string) =>
      Replica.start({
        id,
        kubeconfig: options.kubeconfig,
        election,
        args: [...TIMINGS, `--hook=http://127.0.0.1:${single.port}/${id}`],
        ...(options.entry ? { entry: options.entry } : {}),
      });
    const first = await start('first');
    await waitFor(single.arrivals, (arrival) => arrival.path === '/first' && arrival.type === 'leadership.started');
    const second = await start('second');
    await waitFor(single.arrivals, (arrival) => arrival.path === '/second' && arrival.type === 'leader.changed');
    await new Promise((resolve) => setTimeout(resolve, 300));
    first.signal('SIGTERM');
    const arrival = await waitFor(
      single.arrivals,
      (entry) => entry.path === '/second' && entry.type === 'leadership.started',
    );
    alone.push(arrival.latencyMs);
    single.arrivals.length = 0;
    await Promise.all([first.stop(), second.stop()]);
  }
  single.server.close();
  rows.push(['notify: lease taken on release → local hook POST received', summary(alone)]);
  rows.push(['notify: target p99 < 20 ms', percentile(alone, 99) < 20 ? 'met' : 'NOT met']);

  // 2. 100 self-scoped targets on a follower that takes over; with none hanging (baseline), then with 10 that never
  //    answer (5 s timeout): the 90 healthy ones must not wait for them.
  const fan = await receiver((path) => path.startsWith('/hang/'));
  for (const hanging of [0, 10]) {
    const config = join(options.directory, `notify-fanout-${tag}-${hanging}.yaml`);
    const paths = Array.from({ length: 100 }, (_, index) =>
      index % 10 === 9 && index / 10 < hanging ? `/hang/${index}` : `/ok/${index}`,
    );
    writeFileSync(
      config,
      [
        'targets:',
        ...paths.map(
          (path, index) =>
            `  - {name: t${index}, url: "http://127.0.0.1:${fan.port}${path}", scope: self, timeout: 5s}`,
        ),
      ].join('\n'),
    );
    const healthy: number[] = [];
    const lastHealthy: number[] = [];
    for (let run = 0; run < fanoutRuns; run++) {
      const election = `bench-fanout-${tag}-${hanging}-${run}`;
      const start = (id: string) =>
        Replica.start({
          id,
          kubeconfig: options.kubeconfig,
          election,
          args: [...TIMINGS, `--config=${config}`],
          ...(options.entry ? { entry: options.entry } : {}),
        });
      const first = await start('first');
      await waitForCount(fan.arrivals, (arrival) => arrival.type === 'leadership.started', 100 - hanging);
      const second = await start('second');
      await waitForCount(fan.arrivals, (arrival) => arrival.type === 'leader.changed', 2 * (100 - hanging));
      await new Promise((resolve) => setTimeout(resolve, 300));
      fan.arrivals.length = 0;
      first.signal('SIGTERM');
      await waitForCount(fan.arrivals, (arrival) => arrival.type === 'leadership.started', 100 - hanging);
      const latencies = fan.arrivals
        .filter((arrival) => arrival.type === 'leadership.started')
        .map((arrival) => arrival.latencyMs);
      healthy.push(...latencies);
      lastHealthy.push(Math.max(...latencies));
      fan.arrivals.length = 0;
      await Promise.all([first.stop(), second.stop()]);
    }
    rows.push([`notify: 100 targets, ${hanging} hanging → each healthy hook`, summary(healthy)]);
    rows.push([`notify: 100 targets, ${hanging} hanging → last healthy hook`, summary(lastHealthy)]);
  }
  fan.server.closeAllConnections();
  fan.server.close();
  return rows;
}

async function waitFor(arrivals: Arrival[], match: (arrival: Arrival) => boolean): Promise<Arrival> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    const found = arrivals.find(match);
    if (found) return found;
    if (performance.now() > deadline)
      throw new Error(`the hook request did not arrive (got ${JSON.stringify(arrivals)})`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function waitForCount(arrivals: Arrival[], match: (arrival: Arrival) => boolean, count: number): Promise<void> {
  const deadline = performance.now() + 20_000;
  while (arrivals.filter(match).length < count) {
    if (performance.now() > deadline)
      throw new Error(`only ${arrivals.filter(match).length} of ${count} hook requests arrived`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const api = await startEmbeddedApi();
  const directory = mkdtempSync(join(tmpdir(), 'leaderhook-bench-notify-'));
  const kubeconfig = join(directory, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
  try {
    for (const [name, value] of await benchNotify({ kubeconfig, directory, runs: Number(process.env.RUNS ?? 100) }))
      console.log(`${name.padEnd(60)} ${value}`);
  } finally {
    await api.close();
  }
}
