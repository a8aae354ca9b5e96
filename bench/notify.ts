// The notifier's figures: push latency to a local hook (with where the time goes), 100 targets of which some hang,
// and the memory peak of a replica with 10 targets of every format through 100 transitions.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Replica } from '../test/support/replica.ts';
import { MemorySampler } from './process-stats.ts';
import { agreedLeader, FAST_TIMINGS, stealLease, wallNow, whenLogged, type Bench } from './setup.ts';

export interface Arrival {
  path: string;
  type: string;
  /** The event's `timestamp` (set when the elector emitted the change), wall-clock ms. */
  eventAt: number;
  /** When the request's headers were read, and when its body had arrived (the observer's clock). */
  arrivedAt: number;
  receivedAt: number;
  /** Whether the request came on a connection that had carried an earlier one. */
  reusedConnection: boolean;
}

export interface Receiver {
  port: number;
  arrivals: Arrival[];
  /** Resolves with the first arrival (present or future) that matches. */
  next(match: (arrival: Arrival) => boolean, timeoutMs?: number): Promise<Arrival>;
  count(match: (arrival: Arrival) => boolean, count: number, timeoutMs?: number): Promise<void>;
  /**
   * Resolves with the time (observer's clock) at which one of `replicas` announced on /watch that it started
   * leading, and which one.
   */
  nextStart(replicas: Replica[]): { started: Promise<{ at: number; replica: Replica }>; cancel: () => void };
  /**
   * Asks GET / on `replicas` (from the observer) until one names a leader other than `not`; resolves with when, and
   * the name. A replica is asked as soon as a /watch stream the observer holds on it (`nextStart`) sends an event,
   * and every 25 ms besides.
   */
  served(replicas: Replica[], not: string): Promise<{ at: number; name: string }>;
  close(): void;
}

const OBSERVER = fileURLToPath(new URL('./observer.ts', import.meta.url));
const REQUEST_FLOOR = fileURLToPath(new URL('./request-floor.ts', import.meta.url));

/**
 * The HTTP client's share of the push (see bench/request-floor.ts): one figure per fresh process, `runs` processes,
 * each run with `nodeArgs` (the image's Node.js options).
 */
export function requestFloor(client: 'got' | 'http', nodeArgs: readonly string[], runs: number): number[] {
  return Array.from({ length: runs }, () =>
    Number(execFileSync(process.execPath, [...nodeArgs, REQUEST_FLOOR, client], { encoding: 'utf8' }).trim()),
  );
}

/**
 * The hook receiver and /watch reader, in a process of its own (bench/observer.ts): answers 200 (never, for paths
 * under `hang`) and notes when each request arrived.
 */
export async function receiver(hang?: string): Promise<Receiver> {
  const child = spawn(process.execPath, [OBSERVER, ...(hang ? [`--hang=${hang}`] : [])], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const arrivals: Arrival[] = [];
  const starts: Array<{ id: string; at: number }> = [];
  const served: Array<{ id: string; at: number; name: string }> = [];
  const waiters = new Set<() => void>();
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench/observer.ts exited (${code})`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const message = JSON.parse(line) as {
        port?: number;
        hook?: Arrival;
        sse?: { id: string; event: string; at: number };
        served?: { id: string; at: number; name: string };
      };
      if (message.served) served.push(message.served);
      if (message.port) resolve(message.port);
      if (message.hook) arrivals.push(message.hook);
      if (message.sse?.event === 'started') starts.push(message.sse);
      for (const wake of waiters) wake();
    });
  });
  const wait = (ready: () => boolean, what: string, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      if (ready()) return resolve();
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const check = () => {
        if (!ready()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });
  const send = (command: unknown) => child.stdin.write(`${JSON.stringify(command)}\n`);
  let streams = 0;
  return {
    port,
    arrivals,
    async next(match, timeoutMs = 20_000) {
      await wait(() => arrivals.some(match), 'a hook request', timeoutMs);
      return arrivals.find(match) as Arrival;
    },
    count: (match, count, timeoutMs = 30_000) =>
      wait(() => arrivals.filter(match).length >= count, `${count} hook requests`, timeoutMs),
    nextStart(replicas) {
      const ids = replicas.map((replica) => {
        const id = `s${streams++}`;
        send({ watch: `${replica.url}/watch`, id });
        return id;
      });
      const from = starts.length;
      const started = wait(
        () => starts.slice(from).some((start) => ids.includes(start.id)),
        'a new leader on /watch',
        30_000,
      ).then(() => {
        const start = starts.slice(from).find((entry) => ids.includes(entry.id)) as { id: string; at: number };
        return { at: start.at, replica: replicas[ids.indexOf(start.id)] as Replica };
      });
      return { started, cancel: () => ids.forEach((id) => send({ unwatch: id })) };
    },
    async served(replicas, not) {
      const id = `p${streams++}`;
      send({ poll: replicas.map((replica) => replica.url), id, not });
      await wait(() => served.some((entry) => entry.id === id), 'a new leader on GET /', 15_000);
      return served.find((entry) => entry.id === id) as { at: number; name: string };
    },
    close() {
      child.stdin.end();
      child.kill();
    },
  };
}

export interface PushRound {
  /** Acquire written → the local hook has received `leadership.started`. */
  totalMs: number;
  /** Acquire written (log) → the event stamped (its `timestamp`). */
  stampMs: number;
  /** Event stamped → the request's headers arrive at the hook. */
  sendMs: number;
  /** Headers → body received. */
  bodyMs: number;
  reusedConnection: boolean;
}

export const PUSH_STEPS: Array<[keyof PushRound, string]> = [
  ['stampMs', 'acquire written → event stamped'],
  ['sendMs', 'event stamped → request at the hook'],
  ['bodyMs', 'request → body received'],
];

/**
 * Push latency, as in a rollout: two replicas, each with its local hook (`--hook`, scope self); the leader gets
 * SIGTERM, the follower takes over and its hook must hear `leadership.started`. A fresh replica replaces the old one.
 */
export async function pushLatency(bench: Bench, rounds: number): Promise<PushRound[]> {
  const hook = await receiver();
  const election = `push-${Date.now().toString(36)}`;
  let next = 0;
  const start = () => {
    const id = `replica-${next++}`;
    return bench.start(id, election, [...FAST_TIMINGS, `--hook=http://127.0.0.1:${hook.port}/${id}`]);
  };
  const replicas: Replica[] = [await start(), await start()];
  const results: PushRound[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const leader = await agreedLeader(replicas);
      const successor = replicas.find((replica) => replica !== leader) as Replica;
      // The follower's hook has heard who leads (its connection to the hook is open, as it would be in a pod).
      await hook.next((arrival) => arrival.path === `/${successor.id}` && arrival.type === 'leader.changed');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const sentAt = wallNow();
      leader.signal('SIGTERM');
      const arrival = await hook.next(
        (entry) =>
          entry.path === `/${successor.id}` && entry.type === 'leadership.started' && entry.arrivedAt >= sentAt,
      );
      const acquiredAt = await whenLogged(successor, 'became leader', sentAt);
      results.push({
        totalMs: arrival.receivedAt - acquiredAt,
        stampMs: arrival.eventAt - acquiredAt,
        sendMs: arrival.arrivedAt - arrival.eventAt,
        bodyMs: arrival.receivedAt - arrival.arrivedAt,
        reusedConnection: arrival.reusedConnection,
      });
      await leader.exited;
      replicas[replicas.indexOf(leader)] = await start();
    }
  } finally {
    await Promise.all(replicas.map((replica) => replica.stop()));
    hook.close();
  }
  return results;
}

/**
 * 100 targets on a follower that takes over; `hanging` of them never answer (5 s timeout). Returns the latency of
 * each healthy target's `leadership.started` (hook arrival − event timestamp) and the last healthy one per run.
 */
export async function fanOut(bench: Bench, hanging: number, runs: number): Promise<{ each: number[]; last: number[] }> {
  const fan = await receiver('/hang/');
  const config = join(bench.directory, `fanout-${hanging}.yaml`);
  const paths = Array.from({ length: 100 }, (_, index) =>
    index % 10 === 9 && index / 10 < hanging ? `/hang/${index}` : `/ok/${index}`,
  );
  writeFileSync(
    config,
    [
      'targets:',
      ...paths.map(
        (path, index) => `  - {name: t${index}, url: "http://127.0.0.1:${fan.port}${path}", scope: self, timeout: 5s}`,
      ),
    ].join('\n'),
  );
  const each: number[] = [];
  const last: number[] = [];
  const started = (arrival: Arrival) => arrival.type === 'leadership.started';
  try {
    for (let run = 0; run < runs; run++) {
      const election = `fanout-${hanging}-${Date.now().toString(36)}-${run}`;
      const first = await bench.start('first', election, [...FAST_TIMINGS, `--config=${config}`]);
      await fan.count(started, 100 - hanging);
      const second = await bench.start('second', election, [...FAST_TIMINGS, `--config=${config}`]);
      await fan.count((arrival) => arrival.type === 'leader.changed', 2 * (100 - hanging));
      await new Promise((resolve) => setTimeout(resolve, 300));
      fan.arrivals.length = 0;
      first.signal('SIGTERM');
      await fan.count(started, 100 - hanging);
      const latencies = fan.arrivals.filter(started).map((arrival) => arrival.receivedAt - arrival.eventAt);
      each.push(...latencies);
      last.push(Math.max(...latencies));
      fan.arrivals.length = 0;
      await Promise.all([first.stop(), second.stop()]);
    }
  } finally {
    fan.close();
  }
  return { each, last };
}

export const FORMATS = ['json', 'cloudevents', 'slack', 'alertmanager', 'pagerduty'] as const;

/**
 * Memory through many transitions with 10 targets of every format (50, scope leader) on a leader and a follower:
 * the bench takes the Lease away (a third candidate) and lets it expire, again and again, until the Lease has
 * changed hands `transitions` times. Returns the peak RSS and RssAnon seen on either replica, and the deliveries.
 */
export async function peakWithTargets(
  bench: Bench,
  transitions: number,
): Promise<{
  peakRssMb: number;
  peakAnonMb: number;
  finalRssMb: number;
  deliveries: number;
  /** Deliveries by format: a format that renders nothing shows as 0 (its events lost, or never sent). */
  byFormat: Record<string, number>;
  transitions: number;
}> {
  const sink = await receiver();
  const keyFile = join(bench.directory, 'routing-key');
  writeFileSync(keyFile, 'bench-routing-key\n');
  const targets = FORMATS.flatMap((format) =>
    Array.from({ length: 10 }, (_, index) => {
      const name = `${format}-${index}`;
      const base = `http://127.0.0.1:${sink.port}/${name}`;
      switch (format) {
        case 'alertmanager':
          return `  - {name: ${name}, format: alertmanager, url: "${base}/api/v2/alerts"}`;
        case 'pagerduty':
          return `  - {name: ${name}, format: pagerduty, url: "${base}", routingKeyFile: "${keyFile}"}`;
        case 'cloudevents':
          return `  - {name: ${name}, format: cloudevents, mode: ${index % 2 ? 'structured' : 'binary'}, url: "${base}"}`;
        default:
          return `  - {name: ${name}, format: ${format}, url: "${base}"}`;
      }
    }),
  );
  const config = join(bench.directory, 'every-format.yaml');
  writeFileSync(config, ['targets:', ...targets].join('\n'));
  const election = `peak-${Date.now().toString(36)}`;
  const replicas = [
    await bench.start('a', election, [...FAST_TIMINGS, `--config=${config}`]),
    await bench.start('b', election, [...FAST_TIMINGS, `--config=${config}`]),
  ];
  const sampler = new MemorySampler(
    replicas.map((replica) => replica.process.pid as number),
    200,
  );
  try {
    await agreedLeader(replicas);
    const read = async () =>
      (await bench.leases.readNamespacedLease({ name: election, namespace: bench.namespace })).spec?.leaseTransitions ??
      0;
    const first = await read();
    let seen = first;
    while (seen - first < transitions) {
      await stealLease(bench, election);
      const stolenAt = seen + 1;
      // Wait until a replica has taken it back (the thief's one-second lease expired).
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        seen = await read();
        if (seen > stolenAt) break;
      }
    }
    // Let the last deliveries finish.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const samples = [...sampler.samples.values()].flat();
    const finals = [...sampler.samples.values()].map((list) => list.at(-1)?.rssMb ?? 0);
    return {
      peakRssMb: Math.max(...samples.map((sample) => sample.rssMb)),
      peakAnonMb: Math.max(...samples.map((sample) => sample.anonMb)),
      finalRssMb: Math.max(...finals),
      deliveries: sink.arrivals.length,
      byFormat: Object.fromEntries(
        FORMATS.map((format) => [
          format,
          sink.arrivals.filter((arrival) => arrival.path.startsWith(`/${format}-`)).length,
        ]),
      ),
      transitions: seen - first,
    };
  } finally {
    sampler.stop();
    await Promise.all(replicas.map((replica) => replica.stop()));
    sink.close();
  }
}
