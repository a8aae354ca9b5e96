// Memory and CPU of a running process, from /proc (Linux): what a container's memory limit and CPU request meet.
import { readFileSync } from 'node:fs';
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
