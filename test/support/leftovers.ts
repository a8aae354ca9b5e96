// What a test started and could not stop because it failed half-way (replica processes, sampling loops): stopped when
// the test file ends, so a failing scenario reports its failure instead of keeping the file's process alive.
import { after } from 'node:test';

const leftovers = new Set<() => void>();

// Only in a test file: scripts that share these helpers (npm run chaos) stop what they start themselves.
if (/\.test\.[cm]?[jt]s$/.test(process.argv[1] ?? '')) {
  after(() => {
    for (const stop of leftovers) stop();
    leftovers.clear();
  });
}

/** Registers `stop` to run when the test file ends; returns a function that unregisters it (once stopped in time). */
export function stopWhenFileEnds(stop: () => void): () => void {
  leftovers.add(stop);
  return () => leftovers.delete(stop);
}
