import { setFlagsFromString } from 'node:v8';

/**
 * V8 flags the sidecar runs with, set by the sidecar itself once its modules have loaded (src/cli.ts), not on the
 * `node` command line. Node.js ships its built-in modules precompiled, in a code cache keyed by V8's flags: any V8
 * flag on the command line made every start compile them from source instead, 71 ms of a 460 ms start to leader
 * (CPU profile of the bundle; start-up p50 462 -> 339 ms, `npm run bench`). Set here, they apply to what runs after
 * start-up, which is where they matter:
 * - `--optimize-for-size`: V8 favours memory over speed (smaller heap growth, less optimised code).
 * - `--no-concurrent-{sparkplug,recompilation,osr,cache-deserialization}`: V8 compiles on the main thread only.
 *   Node.js can deadlock in `process.exit` when a background compile job waits for a garbage collection that the
 *   exiting main thread never runs (nodejs/node#54918): a replica that had released its lock hung until it was killed
 *   (once in about 70 SIGTERMs; gdb showed that cycle). `--single-threaded` also removed it but raised the peak RSS
 *   with 50 targets from 112 to 152 MiB.
 */
export const SIDECAR_V8_FLAGS = [
  '--optimize-for-size',
  '--no-concurrent-sparkplug',
  '--no-concurrent-recompilation',
  '--no-concurrent-osr',
  '--no-concurrent-cache-deserialization',
] as const;

/** Sets SIDECAR_V8_FLAGS in this process (`v8.setFlagsFromString`); the library never calls it. */
export function applySidecarV8Flags(): void {
  for (const flag of SIDECAR_V8_FLAGS) setFlagsFromString(flag);
}
