import type { Clock } from '../../src/runtime/clock.ts';

/** A clock the test moves by hand: timers fire only inside `advance`, in time order. */
export class FakeClock implements Clock {
  #now = 0;
  readonly #epoch: number;
  #timers: Array<{ at: number; callback: () => void; id: number }> = [];
  #nextId = 0;

  constructor(epoch = Date.parse('2026-11-24T12:00:00Z')) {
    this.#epoch = epoch;
  }

  now(): number {
    return this.#now;
  }

  date(): Date {
    return new Date(this.#epoch + this.#now);
  }

  setTimer(ms: number, callback: () => void): () => void {
    const id = this.#nextId++;
    this.#timers.push({ at: this.#now + Math.max(0, ms), callback, id });
    return () => {
      this.#timers = this.#timers.filter((timer) => timer.id !== id);
    };
  }

  /** Moves time forward by `ms`, firing due timers and letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.#timers[0];
      if (!next || next.at > end) break;
      this.#timers.shift();
      this.#now = Math.max(this.#now, next.at);
      next.callback();
      await settle();
    }
    this.#now = end;
    await settle();
  }

  /** Jumps time without firing timers: a process that was paused (SIGSTOP, a long GC). */
  jump(ms: number): void {
    this.#now += ms;
  }
}

/** Lets pending promise chains (several hops of async/await) run to completion. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
