import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { longTimer, MAX_TIMER_MS, systemClock } from '../../src/runtime/clock.ts';

/** A stand-in for setTimeout that records the delays asked for and fires by hand. */
function manualTimers() {
  const armed: Array<{ ms: number; fire: () => void; cancelled: boolean }> = [];
  return {
    armed,
    schedule: (fire: () => void, ms: number) => {
      const timer = { ms, fire, cancelled: false };
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
    longTimer(2_147_483_647_000, () => fired++, timers.schedule, timers.cancel);
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
    const cancel = longTimer(MAX_TIMER_MS + 10, () => fired++, timers.schedule, timers.cancel);
    timers.armed[0]!.fire();
    assert.equal(timers.armed.length, 2);
    cancel();
    assert.equal(timers.armed[1]!.cancelled, true);
    longTimer(Number.POSITIVE_INFINITY, () => fired++, timers.schedule, timers.cancel);
    assert.equal(timers.armed.length, 2, 'nothing armed for Infinity');
    longTimer(-5, () => fired++, timers.schedule, timers.cancel);
    assert.equal(timers.armed.at(-1)!.ms, 0);
    assert.equal(fired, 0);
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
