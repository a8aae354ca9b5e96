// Memory and CPU of a running process, from /proc (Linux): what a container's memory limit and CPU request meet.
import { readdirSync, readFileSync } from 'node:fs';
import { percentile } from './stats.ts';

export interface MemorySample {
  /** Resident set, MB (MiB): private and shared pages (the Node.js binary, mapped files). */
  rssMb: number;
  /** Resident anonymous pages, MB: the process's own memory (heap, code space, allocator). */
  anonMb: number;
}

/** RSS and RssAnon of `pid` now. */
export function memory(pid: number): MemorySample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rssMb: field('VmRSS'), anonMb: field('RssAnon') };
}

/** The medians of RSS and RssAnon over `samples` (nearest rank). */
export function medianMemory(samples: readonly MemorySample[]): MemorySample {
  return {
    rssMb: percentile(
      samples.map((sample) => sample.rssMb),
      50,
    ),
    anonMb: percentile(
      samples.map((sample) => sample.anonMb),
      50,
    ),
  };
}

/** CPU time (user + system) `pid` has used so far, in milliseconds. */
export function cpuTimeMs(pid: number): number {
  // Fields after the command name (which may hold spaces, so split after its closing parenthesis): utime is the 14th
  // field of the line, stime the 15th, in clock ticks (100 a second on Linux).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Samples memory every `intervalMs` until stopped; a process that has exited ends the sampling of it quietly. */
export class MemorySampler {
  readonly samples = new Map<number, MemorySample[]>();
  readonly #timer: NodeJS.Timeout;

  constructor(pids: number[], intervalMs = 500) {
    for (const pid of pids) this.samples.set(pid, []);
    const take = () => {
      for (const [pid, samples] of this.samples) {
        try {
          samples.push(memory(pid));
        } catch {
          // exited
        }
      }
    };
    take();
    this.#timer = setInterval(take, intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Time threads have run on a CPU, and waited for one while runnable: milliseconds (ns precision). */
export interface SchedTimes {
  runMs: number;
  waitMs: number;
}

/** SchedTimes of each thread of `pid` now (/proc/PID/task/TID/schedstat), by thread id; empty once it has exited. */
export function threadSchedTimes(pid: number): Map<string, SchedTimes> {
  const threads = new Map<string, SchedTimes>();
  let ids: string[];
  try {
    ids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads; // exited
  }
  for (const id of ids) {
    try {
      const [run, wait] = readFileSync(`/proc/${pid}/task/${id}/schedstat`, 'utf8').split(' ').map(Number);
      threads.set(id, { runMs: (run ?? 0) / 1e6, waitMs: (wait ?? 0) / 1e6 });
    } catch {
      // the thread ended between listing and reading
    }
  }
  return threads;
}

/**
 * What the threads of `after` used since `before`; a thread that ended in between is not counted, and when every
 * thread has (the process exited), the times are unknown: NaN.
 */
export function schedTimesBetween(before: Map<string, SchedTimes>, after: Map<string, SchedTimes>): SchedTimes {
  if (before.size > 0 && after.size === 0) return { runMs: Number.NaN, waitMs: Number.NaN };
  let runMs = 0;
  let waitMs = 0;
  for (const [id, now] of after) {
    runMs += now.runMs - (before.get(id)?.runMs ?? 0);
    waitMs += now.waitMs - (before.get(id)?.waitMs ?? 0);
  }
  return { runMs, waitMs };
}

/** The processes whose command name (/proc/PID/comm) matches `name`. */
export function pidsNamed(name: RegExp): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return name.test(readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
      } catch {
        return false;
      }
    })
    .map(Number);
}
