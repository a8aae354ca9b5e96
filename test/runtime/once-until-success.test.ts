import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OnceUntilSuccess } from '../../src/runtime/once-until-success.ts';

describe('OnceUntilSuccess', () => {
  it('says a repeated problem once, a different one at once, and the same one again after a success', () => {
    const once = new OnceUntilSuccess();
    const said = (problem: string) => once.first(problem);
    assert.deepEqual([said('forbidden'), said('forbidden'), said('forbidden')], [true, false, false]);
    assert.equal(said('unauthorized'), true, 'another problem is news');
    assert.equal(said('unauthorized'), false);
    once.succeeded();
    assert.equal(said('unauthorized'), true, 'back after a success: said again');
  });
});
