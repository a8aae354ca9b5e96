// Handover: SIGTERM to the leader → another replica serves the new leader, with where the time goes. Three
// long-lived replicas; each round signals the leader and starts a fresh replica in its place.
//
// The steps, each from the clock that sees it (all wall clocks of this machine):
//   SIGTERM sent (bench) → release written (old leader's log "released the lock", after the PUT's answer)
//   → watch event seen (new leader's log "no leader": it applied the released record)
//   → acquire written (new leader's log "became leader", after the PUT's answer)
//   → served (bench/observer.ts reads the new leader's name on GET / of the others, asked as soon as their /watch
//     stream sends an event, and every 25 ms besides).
// Beside the steps, the CPU time each process used in the round (/proc schedstat, all threads) and how long their
// threads waited for a CPU: on a small machine the handover competes with itself.
// Log times have millisecond resolution, so a step can read 1 ms off either way. The /watch "started" event (what a
// /watch consumer hears) is timed too.
import { receiver, type Receiver } from './notify.ts';
import { schedTimesBetween, threadSchedTimes, type SchedTimes } from './process-stats.ts';
import { agreedLeader, wallNow, whenLogged, type Bench } from './setup.ts';

export interface HandoverRound {
  totalMs: number;
  /** SIGTERM → release written. */
  releaseMs: number;
  /** Release written → the new leader saw it (watch event). */
  watchMs: number;
  /** Seen → acquire written. */
  acquireMs: number;
  /** Acquire written → served on GET /. */
  serveMs: number;
  /** SIGTERM → the new leader's /watch sent `started`. */
  watchStartedMs: number;
  /**
   * CPU time used from SIGTERM to served by the old leader, the other replicas, the API server: every thread, but a
   * thread that ended meanwhile (the old leader's, as it exits) is not counted.
   */
  leaderCpuMs: number;
  followersCpuMs: number;
  apiServerCpuMs: number;
  /** Time these processes' threads were runnable but waited for a CPU, in the same window. */
  runQueueMs: number;
}

export const HANDOVER_STEPS: Array<[keyof HandoverRound, string]> = [
  ['releaseMs', 'SIGTERM → release written'],
  ['watchMs', "release written → watch event seen by the follower (below 0: the event beat the PUT's answer)"],
  ['acquireMs', 'event seen → acquire written'],
  ['serveMs', 'acquire written → served on GET /'],
  ['watchStartedMs', '(SIGTERM → /watch sent "started")'],
  ['leaderCpuMs', 'CPU used meanwhile by the old leader'],
  ['followersCpuMs', 'CPU used meanwhile by the two others'],
  ['apiServerCpuMs', 'CPU used meanwhile by the API server'],
  ['runQueueMs', 'time their threads waited for a CPU'],
];

/** `rounds` graceful handovers (SIGTERM), each broken down into its steps. */
export async function handovers(
  bench: Bench,
  rounds: number,
  onRound?: (round: HandoverRound, index: number) => void,
): Promise<HandoverRound[]> {
  const election = `handover-${Date.now().toString(36)}`;
  let next = 0;
  const replicas = await Promise.all([0, 1, 2].map(() => bench.start(`replica-${next++}`, election)));
  const observer: Receiver = await receiver();
  const results: HandoverRound[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const leader = await agreedLeader(replicas);
      const others = replicas.filter((replica) => replica !== leader);
      const watch = observer.nextStart(others);
      // Let the /watch streams connect and a renew or two pass, so the round starts from a steady state.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const served = observer.served(others, leader.id);
      const pids = {
        leader: [leader.process.pid as number],
        followers: others.map((replica) => replica.process.pid as number),
        apiServer: bench.apiServerPids(),
      };
      const threadsBefore = threadsOf(pids);
      const sentAt = wallNow();
      leader.signal('SIGTERM');
      const [{ at: servedAt, name }, { at: startedAt }] = await Promise.all([served, watch.started]);
      const threadsAfter = threadsOf(pids);
      const used = (role: keyof typeof pids) => schedTimesBetween(threadsBefore[role], threadsAfter[role]);
      watch.cancel();
      const successor = others.find((replica) => replica.id === name);
      if (!successor) throw new Error(`round ${round}: GET / named ${name}, not one of the replicas`);
      await leader.exited;
      const releasedAt = await whenLogged(leader, 'released the lock', sentAt);
      const seenAt = await whenLogged(successor, 'no leader', sentAt, (line) => line.previousLeader === leader.id);
      const acquiredAt = await whenLogged(successor, 'became leader', sentAt);
      const result = {
        totalMs: servedAt - sentAt,
        releaseMs: releasedAt - sentAt,
        watchMs: seenAt - releasedAt,
        acquireMs: acquiredAt - seenAt,
        serveMs: servedAt - acquiredAt,
        watchStartedMs: startedAt - sentAt,
        leaderCpuMs: used('leader').runMs,
        followersCpuMs: used('followers').runMs,
        apiServerCpuMs: used('apiServer').runMs,
        runQueueMs: used('leader').waitMs + used('followers').waitMs + used('apiServer').waitMs,
      };
      results.push(result);
      onRound?.(result, round);
      replicas[replicas.indexOf(leader)] = await bench.start(`replica-${next++}`, election);
    }
  } finally {
    observer.close();
    await Promise.all(replicas.map((replica) => replica.stop()));
  }
  return results;
}

/** The threads of each group of processes, with their run and run-queue times so far. */
function threadsOf<Role extends string>(pids: Record<Role, number[]>): Record<Role, Map<string, SchedTimes>> {
  return Object.fromEntries(
    Object.entries<number[]>(pids).map(([role, list]) => [
      role,
      new Map(list.flatMap((pid) => [...threadSchedTimes(pid)].map(([id, times]) => [`${pid}/${id}`, times] as const))),
    ]),
  ) as Record<Role, Map<string, SchedTimes>>;
}

/** `rounds` crash failovers (SIGKILL): the lease runs out, counted from the last renew the followers saw. */
export async function crashFailovers(bench: Bench, rounds: number): Promise<number[]> {
  const election = `crash-${Date.now().toString(36)}`;
  let next = 0;
  const replicas = await Promise.all([0, 1, 2].map(() => bench.start(`replica-${next++}`, election)));
  const observer = await receiver();
  const times: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const leader = await agreedLeader(replicas);
      const watch = observer.nextStart(replicas.filter((replica) => replica !== leader));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const sentAt = wallNow();
      leader.signal('SIGKILL');
      const { at } = await watch.started;
      watch.cancel();
      times.push(at - sentAt);
      await leader.exited;
      replicas[replicas.indexOf(leader)] = await bench.start(`replica-${next++}`, election);
    }
  } finally {
    observer.close();
    await Promise.all(replicas.map((replica) => replica.stop()));
  }
  return times;
}
