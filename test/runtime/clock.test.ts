import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { longTimer, MAX_TIMER_MS, systemClock } from '../../src/runtime/clock.ts';

/**
 * A stand-in for setTimeout on a virtual clock: records the delays asked for; `fire` runs a timer after moving the
 * clock by its delay, minus `earlyMs` (Node may run a timer up to a millisecond early as performance.now() counts).
 */
function manualTimers() {
  let time = 1000.4;
  const armed: Array<{ ms: number; fire: (earlyMs?: number) => void; cancelled: boolean }> = [];
  return {
    armed,
    now: () => time,
    schedule: (callback: () => void, ms: number) => {
      const timer = {
        ms,
        cancelled: false,
        fire: (earlyMs = 0) => {
          time += ms - earlyMs;
          callback();
        },
      };
      armed.push(timer);
      return timer;
    },
    cancel: (timer: unknown) => {
      (timer as { cancelled: boolean }).cancelled = true;
    },
  };
}

describe('timers beyond what Node holds', () => {
  it('a delay above 2^31 − 1 ms is armed in steps Node can hold and fires once, after the whole delay', () => {
    const timers = manualTimers();
    let fired = 0;
    longTimer(2_147_483_647_000, () => fired++, timers.schedule, timers.cancel, timers.now);
    for (let step = 0; fired === 0; step++) {
      const last = timers.armed.at(-1)!;
      assert.ok(last.ms <= MAX_TIMER_MS && last.ms >= 0, `step ${step} asks for ${last.ms} ms`);
      last.fire();
    }
    assert.equal(
      timers.armed.reduce((sum, timer) => sum + timer.ms, 0),
      2_147_483_647_000,
      'the steps add up to the delay',
    );
    assert.equal(fired, 1);
  });

  it('cancel stops a re-armed timer; Infinity never arms; a negative delay fires at once', () => {
    const timers = manualTimers();
    let fired = 0;
    const cancel = longTimer(MAX_TIMER_MS + 10, () => fired++, timers.schedule, timers.cancel, timers.now);
    timers.armed[0]!.fire();
    assert.equal(timers.armed.length, 2);
    cancel();
    assert.equal(timers.armed[1]!.cancelled, true);
    longTimer(Number.POSITIVE_INFINITY, () => fired++, timers.schedule, timers.cancel, timers.now);
    assert.equal(timers.armed.length, 2, 'nothing armed for Infinity');
    longTimer(-5, () => fired++, timers.schedule, timers.cancel, timers.now);
    assert.equal(timers.armed.at(-1)!.ms, 0);
    assert.equal(fired, 0);
  });

  it('a timer that Node runs early is armed again for what is left: it never fires before its time', () => {
    const timers = manualTimers();
    let firedAt: number | undefined;
    const start = timers.now();
    longTimer(2000.5, () => (firedAt = timers.now()), timers.schedule, timers.cancel, timers.now);
    assert.equal(timers.armed[0]!.ms, 2001, 'a fraction is rounded up, as Node would');
    timers.armed[0]!.fire(1.3);
    assert.equal(firedAt, undefined, 'not before its time');
    assert.equal(timers.armed.length, 2);
    assert.equal(timers.armed[1]!.ms, 1, 'armed again for the rest');
    timers.armed[1]!.fire();
    assert.ok(firedAt !== undefined && firedAt - start >= 2000.5, `fired after ${firedAt! - start} ms`);
  });

  it('the system clock never fires a timer before its time as performance.now() counts', async () => {
    // One after another, as a renew-deadline timer is armed: Node alone runs about a third of these early.
    let earliest = Number.POSITIVE_INFINITY;
    for (let index = 0; index < 100; index++) {
      const ms = 2 + (index % 5) + (index % 7) / 7;
      const dueAt = performance.now() + ms;
      earliest = Math.min(
        earliest,
        await new Promise<number>((resolve) => systemClock.setTimer(ms, () => resolve(performance.now() - dueAt))),
      );
    }
    assert.ok(earliest >= 0, `a timer fired ${-earliest} ms early`);
  });

  it("the system clock's timer for 2147483647 s does not fire (Node alone would fire it after 1 ms)", async () => {
    let fired = false;
    const cancel = systemClock.setTimer(2_147_483_647_000, () => {
      fired = true;
    });
    await sleep(50);
    cancel();
    assert.equal(fired, false);
  });
});
