import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatMicroTime, parseTimestamp } from '../../src/kube-api/wire-time.ts';

describe('wire time formats', () => {
  it('formats MicroTime with exactly six fractional digits, as the API server requires', () => {
    assert.equal(formatMicroTime(new Date('2026-11-23T21:00:00.123Z')), '2026-11-23T21:00:00.123000Z');
    assert.match(formatMicroTime(new Date()), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('reads RFC 3339 with a zone offset; garbage is null, never an exception', () => {
    assert.equal(parseTimestamp('yesterday'), null);
    assert.equal(parseTimestamp('2026-11-23T21:00:00.000000+01:00')?.toISOString(), '2026-11-23T20:00:00.000Z');
  });
});
