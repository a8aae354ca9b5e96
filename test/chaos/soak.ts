// The chaos soak: leaderhook replicas as real processes, each behind its own fault proxy to the API server, each with
// a local hook (a real HTTP receiver standing for its main container), all with one leader-scope webhook receiver.
// Round after round it waits for a leader, injects one random fault that ends that leadership, heals it, and counts
// the transitions; meanwhile it samples every replica, and at the end it checks the receivers' logs.
//
// Checked (each break is a violation, with the evidence):
// - one-leader: two replicas believed they led at one instant, as proved by the sampling rounds (see `sampler`);
// - hook-order: a leadership.started reached a replica's hook before the previous leader's leadership.stopped reached
//   its own, where the previous leader could still reach its hook (not SIGKILLed, not SIGSTOPped);
// - lost-notice: a term's leadership.started, or an ended term's leadership.stopped, never reached the leader-scope
//   webhook;
// - webhook-id: two different events (type, term, subject) arrived with one webhook-id.
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster } from '../integration/cluster.ts';
import { Receiver } from '../notify/receiver.ts';
import { FaultProxy, kubeconfigServer, proxiedKubeconfig } from '../support/fault-proxy.ts';
import { Replica, type LogLine } from '../support/replica.ts';
import { seededRandom } from '../support/seeded-random.ts';

export const FAULT_KINDS = [
  'sigterm',
  'sigkill',
  'sigstop',
  'partition-leader',
  'partition-then-sigterm',
  'silent-watch',
  'api-restart',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** Faults laid on a follower during a round, on top of the one that ends the leadership. */
export const BACKGROUND_KINDS = ['none', 'partition-follower', 'silence-follower'] as const;
export type BackgroundKind = (typeof BACKGROUND_KINDS)[number];

export interface SoakOptions {
  cluster: Cluster;
  /**
   * Stop once this many leadership transitions (leadership.started at any hook) were seen, each round's fault drawn
   * at random (`weights`: relative weights of the kinds; by default sigterm 3, api-restart 1, the others 2); or run
   * exactly the rounds of `faults`, in order.
   */
  run: { transitions: number; weights?: Partial<Record<FaultKind, number>> } | { faults: readonly FaultKind[] };
  replicas: number;
  seed: number;
  leaseMs: number;
  renewDeadlineMs: number;
  retryMs: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface Violation {
  invariant: 'one-leader' | 'hook-order' | 'lost-notice' | 'webhook-id' | 'no-leader' | 'crash';
  detail: string;
}

export interface SoakReport {
  transitions: number;
  rounds: number;
  faults: Record<string, number>;
  background: Record<string, number>;
  /** Time from the fault to the first leadership.started at any hook, per fault kind. */
  failoverMs: Record<string, number[]>;
  /** Whole rounds (waiting for a settled leader, the fault, the failover), per fault kind. */
  roundMs: Record<string, number[]>;
  violations: Violation[];
  samples: number;
  /**
   * Sampling rounds in which two replicas answered isLeader but no round before or after proved that they believed it
   * at one instant (a handover between their answers): counted, not violations.
   */
  unprovenOverlaps: number;
  durationMs: number;
  webhookEvents: number;
  hookEvents: number;
}

interface HookEvent {
  type: string;
  id: string;
  transitions: number;
  leader: string;
  previousLeader: string;
  observer: string;
  at: number;
}

/** One replica slot: a proxy and a receiver that outlive the processes started in it. */
interface Slot {
  id: string;
  proxy: FaultProxy;
  kubeconfig: string;
  hook: Receiver;
  replica: Replica | undefined;
  /** Log lines (warnings and above) of the slot's earlier processes. */
  pastLogs: LogLine[];
  /** The current process has answered on HTTP (a restarted one takes a moment to start). */
  up: boolean;
  paused: boolean;
  /** A fault ends the current process (a signal that makes it exit): its exit is no crash. */
  ending: boolean;
}

function parseEvents(receiver: Receiver): HookEvent[] {
  return receiver.received.map((request) => {
    const body = JSON.parse(request.body) as {
      type: string;
      data: { transitions: number; leader: string; previousLeader: string; observer: string };
    };
    return {
      type: body.type,
      id: String(request.headers['webhook-id']),
      transitions: body.data.transitions,
      leader: body.data.leader,
      previousLeader: body.data.previousLeader,
      observer: body.data.observer,
      at: request.at,
    };
  });
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { cluster } = options;
  const log = options.log ?? (() => {});
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const weights: Record<FaultKind, number> = {
    sigterm: 3,
    sigkill: 2,
    sigstop: 2,
    'partition-leader': 2,
    'partition-then-sigterm': 2,
    'silent-watch': 2,
    'api-restart': 1,
    ...('weights' in options.run ? options.run.weights : {}),
  };
  const pickKind = (): FaultKind => {
    const total = FAULT_KINDS.reduce((sum, kind) => sum + weights[kind], 0);
    let draw = random() * total;
    for (const kind of FAULT_KINDS) {
      draw -= weights[kind];
      if (draw < 0) return kind;
    }
    return 'sigterm';
  };

  const startedAt = performance.now();
  const election = `chaos-${Date.now().toString(36)}`;
  const directory = mkdtempSync(join(tmpdir(), 'leaderhook-chaos-'));
  const server = kubeconfigServer(cluster.replicaKubeconfig);
  const scheme = server.startsWith('https:') ? 'https' : 'http';
  const webhook = await Receiver.start();
  const timings = [
    `--lease-duration=${options.leaseMs}ms`,
    `--renew-deadline=${options.renewDeadlineMs}ms`,
    `--retry-period=${options.retryMs}ms`,
  ];
  const slots: Slot[] = [];
  for (let index = 0; index < options.replicas; index++) {
    const proxy = await FaultProxy.start(server);
    const kubeconfig = join(directory, `replica-${index}.kubeconfig`);
    proxiedKubeconfig(cluster.replicaKubeconfig, proxy.url(scheme), kubeconfig);
    slots.push({
      id: `${election}-${index + 1}`,
      proxy,
      kubeconfig,
      hook: await Receiver.start(),
      replica: undefined,
      pastLogs: [],
      up: false,
      paused: false,
      ending: false,
    });
  }

  const violations: Violation[] = [];
  const violation = (invariant: Violation['invariant'], detail: string) => {
    violations.push({ invariant, detail });
    log(`VIOLATION ${invariant}: ${detail}`);
  };

  let running = true;
  const launch = async (slot: Slot): Promise<void> => {
    const replica = await Replica.start({
      id: slot.id,
      kubeconfig: slot.kubeconfig,
      election,
      args: [
        `--election-namespace=${cluster.namespace}`,
        ...timings,
        `--hook=${slot.hook.url}`,
        `--webhook=${webhook.url}`,
        '--events=false',
        '--log-level=warn',
      ],
    });
    slot.replica = replica;
    slot.paused = false;
    slot.up = false;
    slot.ending = false;
    // A process that exits although no fault ended it crashed: that is a finding, and the slot runs a new one.
    void replica.exited.then(async (code) => {
      if (!running || slot.replica !== replica || slot.ending) return;
      const last = [...replica.stderr.slice(-5), ...replica.logs.slice(-5).map((line) => JSON.stringify(line))];
      violation('crash', `${slot.id} exited with ${code} although no fault ended it: ${last.join(' | ')}`);
      slot.pastLogs.push(...replica.logs);
      await launch(slot);
    });
  };
  /** Signals the slot's process with a signal that ends it, then starts a new one once it has exited. */
  const end = (slot: Slot, signal: NodeJS.Signals): void => {
    slot.ending = true;
    slot.replica?.signal(signal);
  };
  const restart = async (slot: Slot): Promise<void> => {
    await slot.replica?.exited;
    slot.pastLogs.push(...(slot.replica?.logs ?? []));
    await launch(slot);
  };
  await Promise.all(slots.map(launch));

  // Sampling every replica, round after round (see OverlapProof for what the rounds prove).
  let sampling = true;
  let samples = 0;
  let unprovenOverlaps = 0;
  const overlaps = new OverlapProof();
  const sampler = (async () => {
    while (sampling) {
      const live = slots.filter((slot) => slot.replica && !slot.paused);
      const views = await Promise.all(live.map(async (slot) => ({ slot, view: await leaderView(slot) })));
      for (const { slot, view } of views) if (view) slot.up = true;
      const round = new Map(
        views
          .filter(({ view }) => view?.isLeader)
          .map(({ slot, view }) => [slot.id, `${view?.transitions}/${view?.acquireTime}`] as const),
      );
      const proven = overlaps.next(round);
      for (const pair of proven)
        violation('one-leader', `${new Date().toISOString()}: ${pair} both believed they led (sampling rounds)`);
      if (round.size > 1 && proven.length === 0) unprovenOverlaps++;
      samples++;
      await sleep(10);
    }
  })();

  const hookStarts = () =>
    slots.flatMap((slot) => parseEvents(slot.hook).filter((event) => event.type === 'leadership.started'));
  const currentLeader = async (timeoutMs: number): Promise<Slot | undefined> => {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const live = slots.filter((slot) => slot.replica && slot.up && !slot.paused);
      const views = await Promise.all(live.map((slot) => leaderView(slot)));
      const leaders = live.filter((_, index) => views[index]?.isLeader);
      // Every replica that is up agrees (a restarted one joins once it answers), with at least two followers up.
      if (
        leaders.length === 1 &&
        live.length >= Math.min(3, options.replicas) &&
        views.every((view) => view?.leader === leaders[0]?.id)
      )
        return leaders[0];
      await sleep(20);
    }
    return undefined;
  };

  const faults: Record<string, number> = {};
  const background: Record<string, number> = {};
  const failoverMs: Record<string, number[]> = {};
  const roundMs: Record<string, number[]> = {};
  /** Terms whose leader could not reach its hook when it ended (SIGKILL, SIGSTOP): exempt from hook-order. */
  const unreachableEnds: Array<{ replica: string; from: number; to: number }> = [];
  let rounds = 0;

  try {
    const planned = 'faults' in options.run ? options.run.faults : undefined;
    const goal = 'transitions' in options.run ? options.run.transitions : Number.POSITIVE_INFINITY;
    const more = () => (planned ? rounds < planned.length : hookStarts().length - 1 < goal);
    while (more()) {
      const roundStartedAt = performance.now();
      const leader = await currentLeader(30_000 + options.leaseMs * 4);
      if (!leader) {
        violation(
          'no-leader',
          `no single agreed leader within ${Math.round((30_000 + options.leaseMs * 4) / 1000)} s (round ${rounds + 1})`,
        );
        // Heal everything and try again.
        for (const slot of slots) {
          slot.proxy.heal();
          if (slot.paused) {
            slot.replica?.signal('SIGCONT');
            slot.paused = false;
          }
        }
        continue;
      }
      const kind = planned ? (planned[rounds] as FaultKind) : pickKind();
      rounds++;
      const followers = slots.filter((slot) => slot !== leader && slot.replica && slot.up && !slot.paused);
      const backgroundKind: BackgroundKind =
        followers.length && kind !== 'silent-watch' ? pick(BACKGROUND_KINDS) : 'none';
      const victim = backgroundKind === 'none' ? undefined : pick(followers);
      faults[kind] = (faults[kind] ?? 0) + 1;
      background[backgroundKind] = (background[backgroundKind] ?? 0) + 1;
      const injectedAt = performance.now();

      if (backgroundKind === 'partition-follower') victim?.proxy.partition();
      if (backgroundKind === 'silence-follower') victim?.proxy.silence();
      const replica = leader.replica as Replica;
      const startedSince = () =>
        Math.min(...hookStarts().map((event) => (event.at > injectedAt ? event.at : Number.POSITIVE_INFINITY)));
      const untilStarted = async () => {
        const deadline = performance.now() + 30_000 + options.leaseMs * 4;
        while (!Number.isFinite(startedSince()) && performance.now() < deadline) await sleep(10);
      };
      /** Undoes a fault once somebody else leads, and never before `minimumMs` (e.g. a pause past the lease). */
      const holdUntilStarted = async (minimumMs: number) => {
        await Promise.all([untilStarted(), sleep(minimumMs)]);
      };
      switch (kind) {
        case 'sigterm':
          end(leader, 'SIGTERM');
          void restart(leader);
          break;
        case 'sigkill':
          unreachableEnds.push({ replica: leader.id, from: injectedAt, to: Number.POSITIVE_INFINITY });
          end(leader, 'SIGKILL');
          void restart(leader);
          break;
        case 'sigstop': {
          const pause = { replica: leader.id, from: injectedAt, to: Number.POSITIVE_INFINITY };
          unreachableEnds.push(pause);
          leader.paused = true;
          replica.signal('SIGSTOP');
          await holdUntilStarted(options.leaseMs + 200);
          replica.signal('SIGCONT');
          pause.to = performance.now();
          leader.paused = false;
          break;
        }
        case 'partition-leader':
          leader.proxy.partition();
          await holdUntilStarted(0);
          leader.proxy.heal();
          break;
        case 'partition-then-sigterm':
          // A rolling update during a network blip: the API is unreachable, then SIGTERM, before the renew deadline.
          leader.proxy.partition();
          await sleep(options.renewDeadlineMs * (0.2 + 0.6 * random()));
          end(leader, 'SIGTERM');
          await replica.exited;
          leader.proxy.heal();
          void restart(leader);
          break;
        case 'silent-watch':
          // Every follower's open connections (its watch) go silent; then the leader hands over. The successor must
          // learn of it without its watch.
          for (const follower of followers) follower.proxy.silence();
          end(leader, 'SIGTERM');
          void restart(leader);
          break;
        case 'api-restart':
          await cluster.stopApiServer();
          await sleep(options.leaseMs + 200);
          await cluster.startApiServer();
          break;
      }
      await untilStarted();
      const first = startedSince();
      if (Number.isFinite(first)) (failoverMs[kind] ??= []).push(first - injectedAt);
      (roundMs[kind] ??= []).push(performance.now() - roundStartedAt);
      if (process.env.LEADERHOOK_CHAOS_DEBUG) {
        const timeline = slots.flatMap((slot) =>
          parseEvents(slot.hook)
            .filter((event) => event.at > injectedAt - 100 && event.type !== 'leader.changed')
            .map((event) => `${Math.round(event.at - injectedAt)}ms ${slot.id} ${event.type} t${event.transitions}`),
        );
        log(
          `round ${rounds} ${kind} (leader ${leader.id}, ${backgroundKind} ${victim?.id ?? ''}): ${timeline.sort((a, b) => parseInt(a) - parseInt(b)).join(' | ')}`,
        );
      }
      if (backgroundKind === 'partition-follower') victim?.proxy.heal();
      if (rounds % 10 === 0)
        log(
          `round ${rounds}: ${hookStarts().length - 1} transitions, ${violations.length} violations, ${Math.round((performance.now() - startedAt) / 1000)} s`,
        );
    }
  } finally {
    sampling = false;
    await sampler;
  }

  // Let deliveries settle (a successor re-sends what a crashed leader left), then read the receivers.
  await sleep(Math.max(5_000, options.leaseMs * 3));
  const hookEvents = slots.flatMap((slot) => parseEvents(slot.hook));
  const webhookEvents = parseEvents(webhook);
  checkHookOrder(slots, unreachableEnds, violation);
  checkLeaderScope(hookEvents, webhookEvents, violation);
  checkIds([...hookEvents, ...webhookEvents], violation);
  if (violations.some((found) => found.invariant === 'lost-notice')) {
    for (const slot of slots) {
      for (const line of [...slot.pastLogs, ...(slot.replica?.logs ?? [])])
        if (line.component === 'notify') log(`${slot.id}: ${JSON.stringify(line)}`);
    }
  }

  running = false;
  for (const slot of slots) await slot.replica?.stop();
  await Promise.all([
    ...slots.map((slot) => slot.proxy.close()),
    ...slots.map((slot) => slot.hook.close()),
    webhook.close(),
  ]);
  return {
    transitions: hookEvents.filter((event) => event.type === 'leadership.started').length - 1,
    rounds,
    faults,
    background,
    failoverMs,
    roundMs,
    violations,
    samples,
    unprovenOverlaps,
    durationMs: performance.now() - startedAt,
    webhookEvents: webhookEvents.length,
    hookEvents: hookEvents.length,
  };
}

/**
 * What sampling rounds prove about two replicas leading at once. One round's answers are not simultaneous (each process
 * answers when its event loop gets to it, and a handover takes a few ms), so two isLeader answers in one round prove
 * nothing alone. But rounds run one after another, and a replica that answers isLeader for one term (its transitions
 * and acquireTime: a term another holder interrupted comes back as a new one) in rounds i and j believed it from its
 * answer in round i to its answer in round j. So two replicas overlapped when both lead in two consecutive rounds with
 * the same terms, or when one leads in a round between two rounds of the other's term.
 */
export class OverlapProof {
  #before: ReadonlyMap<string, string> | undefined;
  #twoBefore: ReadonlyMap<string, string> | undefined;

  /** `round`: replica → term key of every replica that answered isLeader. Returns the pairs proved, "a and b". */
  next(round: ReadonlyMap<string, string>): string[] {
    const proven = new Set<string>();
    const pair = (a: string, b: string) => proven.add([a, b].sort().join(' and '));
    for (const [id, term] of round) {
      if (this.#before?.get(id) === term)
        for (const [otherId, otherTerm] of this.#before)
          if (otherId !== id && round.get(otherId) === otherTerm) pair(id, otherId);
      if (this.#twoBefore?.get(id) === term)
        for (const otherId of this.#before?.keys() ?? []) if (otherId !== id) pair(id, otherId);
    }
    this.#twoBefore = this.#before;
    this.#before = round;
    return [...proven];
  }
}

/** The slot's process's view, if it answers; an answer from another process (its port reused) is no answer. */
interface LeaderView {
  leader: string;
  isLeader: boolean;
  self: string;
  transitions: number;
  acquireTime: string | null;
}
async function leaderView(slot: Slot): Promise<LeaderView | undefined> {
  if (!slot.replica) return undefined;
  try {
    const response = await fetch(`${slot.replica.url}/leader`, { signal: AbortSignal.timeout(500) });
    const view = (await response.json()) as LeaderView;
    return view.self === slot.id ? view : undefined;
  } catch {
    return undefined;
  }
}

/** A started never reaches its hook before the previous leader's stopped reached its own (when it could). */
function checkHookOrder(
  slots: Slot[],
  unreachable: Array<{ replica: string; from: number; to: number }>,
  violation: (invariant: Violation['invariant'], detail: string) => void,
): void {
  const events = slots.flatMap((slot) => parseEvents(slot.hook).map((event) => ({ ...event, slot: slot.id })));
  const starts = events
    .filter((event) => event.type === 'leadership.started' && event.observer === event.slot)
    .sort((a, b) => a.at - b.at);
  for (let index = 1; index < starts.length; index++) {
    const previous = starts[index - 1]!;
    const next = starts[index]!;
    if (previous.slot === next.slot) continue;
    const stopped = events.find(
      (event) =>
        event.slot === previous.slot &&
        event.type === 'leadership.stopped' &&
        event.transitions === previous.transitions &&
        event.at > previous.at,
    );
    const exempt = unreachable.some(
      (end) => end.replica === previous.slot && end.from >= previous.at && end.from <= next.at,
    );
    if (exempt) continue;
    if (!stopped) {
      violation(
        'hook-order',
        `${next.slot} started term ${next.transitions}, but ${previous.slot}'s hook never got leadership.stopped for term ${previous.transitions}`,
      );
    } else if (stopped.at >= next.at) {
      violation(
        'hook-order',
        `${next.slot}'s hook got leadership.started (term ${next.transitions}) ${Math.round(stopped.at - next.at)} ms before ${previous.slot}'s hook got leadership.stopped (term ${previous.transitions})`,
      );
    }
  }
}

/** Every term's leadership.started, and every ended term's leadership.stopped, reached the leader-scope webhook. */
function checkLeaderScope(
  hookEvents: HookEvent[],
  webhookEvents: HookEvent[],
  violation: (invariant: Violation['invariant'], detail: string) => void,
): void {
  const terms = new Map<string, { transitions: number; leader: string; at: number }>();
  for (const event of hookEvents) {
    if (event.type !== 'leadership.started' || event.observer !== event.leader) continue;
    const key = `${event.transitions}/${event.leader}`;
    if (!terms.has(key)) terms.set(key, { transitions: event.transitions, leader: event.leader, at: event.at });
  }
  const ordered = [...terms.values()].sort((a, b) => a.at - b.at);
  for (const [index, term] of ordered.entries()) {
    const started = webhookEvents.some(
      (event) =>
        event.type === 'leadership.started' && event.transitions === term.transitions && event.leader === term.leader,
    );
    if (!started)
      violation(
        'lost-notice',
        `the webhook never got leadership.started for term ${term.transitions} (${term.leader})`,
      );
    if (index === ordered.length - 1) continue;
    const stopped = webhookEvents.some(
      (event) =>
        event.type === 'leadership.stopped' &&
        event.transitions === term.transitions &&
        event.previousLeader === term.leader,
    );
    if (!stopped)
      violation(
        'lost-notice',
        `the webhook never got leadership.stopped for term ${term.transitions} (${term.leader})`,
      );
  }
}

/** One webhook-id, one event: the same (type, term, subject) wherever and however often it arrived. */
function checkIds(events: HookEvent[], violation: (invariant: Violation['invariant'], detail: string) => void): void {
  const byId = new Map<string, string>();
  for (const event of events) {
    const subject = event.type === 'leadership.stopped' ? event.previousLeader : event.leader;
    const key = `${event.type} term ${event.transitions} ${JSON.stringify(subject)}`;
    const known = byId.get(event.id);
    if (known === undefined) byId.set(event.id, key);
    else if (known !== key) violation('webhook-id', `${event.id} names two events: ${known} and ${key}`);
  }
}
