// What the process tests ask of a set of leaderhook replicas: who leads, and that never two at once.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { stopWhenFileEnds } from './leftovers.ts';
import { waitFor, type Replica } from './replica.ts';

/** Waits until every replica names the same leader (not `not`), and exactly that one says it leads. */
export async function agreedLeader(replicas: Replica[], not?: string, timeoutMs = 20_000): Promise<string> {
  return waitFor(
    'the replicas to agree on a leader',
    async () => {
      const views = await Promise.all(replicas.map((replica) => replica.leader()));
      const leader = views[0]?.leader;
      if (!leader || leader === not || !views.every((view) => view?.leader === leader)) return undefined;
      const leading = views.filter((view) => view?.isLeader).map((view) => view?.self);
      if (leading.length !== 1 || leading[0] !== leader) return undefined;
      return leader;
    },
    timeoutMs,
  );
}

/** Samples every replica's /leader continuously; stop() fails if two ever said `isLeader: true` at once. */
export function guardOneLeader(replicas: () => Replica[]): { stop(): Promise<number> } {
  let running = true;
  let samples = 0;
  const violations: string[] = [];
  const forget = stopWhenFileEnds(() => (running = false));
  const loop = (async () => {
    while (running) {
      const views = await Promise.all(replicas().map((replica) => replica.leader()));
      const leading = views.filter((view) => view?.isLeader).map((view) => view?.self);
      if (leading.length > 1) violations.push(`${new Date().toISOString()}: ${leading.join(', ')}`);
      samples++;
      await sleep(5);
    }
  })();
  return {
    async stop() {
      running = false;
      forget();
      await loop;
      assert.deepEqual(violations, [], 'two replicas said they lead at the same time');
      return samples;
    },
  };
}
