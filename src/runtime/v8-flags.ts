import { setFlagsFromString } from 'node:v8';

/**
 * The V8 flag the sidecar sets itself at the end of start-up (src/cli.ts), not on the `node` command line:
 * `--optimize-for-size`, V8 favouring memory over speed (idle RSS about -5 MiB, RssAnon -6 MiB; the same set here as
 * on the command line, `npm run bench -- --only=runtime`). Node.js ships its built-in modules precompiled in a code
 * cache keyed by the V8 flags that change generated code; on the command line this one made every start compile them
 * from source instead (about 70 ms of start-up). The flags that must hold from process start, V8's compilers on the
 * main thread only, stay on the command line (Dockerfile): they leave that cache usable. So does
 * `--max-semi-space-size=1`, which `--optimize-for-size` implies only when given at start (V8 sizes the young
 * generation once): it is on the command line too. A built-in module first loaded after the flag is set is compiled
 * from source, so the flag is set once the sidecar has loaded what it uses (the HTTP server's `cluster`, the
 * notifier's `timers/promises`); a test runs an election from start to exit and finds none compiled.
 */
export const SIDECAR_V8_FLAGS = ['--optimize-for-size'] as const;

/** Sets SIDECAR_V8_FLAGS in this process (`v8.setFlagsFromString`); the library never calls it. */
export function applySidecarV8Flags(): void {
  for (const flag of SIDECAR_V8_FLAGS) setFlagsFromString(flag);
}
