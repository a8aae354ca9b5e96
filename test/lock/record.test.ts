import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { LEADER_ANNOTATION } from '../../src/lock/annotation-lock.ts';
import { formatAnnotationRecord, parseAnnotationRecord, UNREADABLE_HOLDER } from '../../src/lock/record.ts';

const fixtures = new URL('../fixtures/kube-api/', import.meta.url);

describe('lock records', () => {
  it('reads the record the Python client writes: string duration, times without T or Z', () => {
    const configMap = JSON.parse(
      readFileSync(new URL('configmap-annotation-lock-python-client.json', fixtures), 'utf8'),
    ) as V1ConfigMap;
    const record = parseAnnotationRecord(configMap.metadata?.annotations?.[LEADER_ANNOTATION] ?? '');
    assert.equal(record.holderIdentity, 'py1');
    assert.equal(record.leaseDurationSeconds, 15);
    assert.equal(record.renewTime?.toISOString(), '2026-11-23T21:53:31.266Z');
    assert.equal(record.acquireTime?.toISOString(), '2026-11-23T21:53:27.180Z');
    assert.equal(record.leaderTransitions, 0);
  });

  it("reads leader-elector 0.4's record and writes one it can read back", () => {
    const text =
      '{"holderIdentity":"pod-a","leaseDurationSeconds":10,"acquireTime":"2016-01-14T10:00:00Z","renewTime":"2016-01-14T10:00:05Z","leaderTransitions":2}';
    const record = parseAnnotationRecord(text);
    assert.deepEqual(record, {
      holderIdentity: 'pod-a',
      leaseDurationSeconds: 10,
      acquireTime: new Date('2016-01-14T10:00:00Z'),
      renewTime: new Date('2016-01-14T10:00:05Z'),
      leaderTransitions: 2,
    });
    assert.equal(formatAnnotationRecord(record), text);
  });

  it('never throws on garbage: an unreadable record counts as held until it expires', () => {
    for (const text of [
      '',
      'not json',
      '[]',
      'null',
      '{"holderIdentity":{"x":1},"leaseDurationSeconds":"soon","renewTime":"yesterday"}',
    ]) {
      const record = parseAnnotationRecord(text);
      assert.equal(typeof record.holderIdentity, 'string');
      assert.equal(record.leaseDurationSeconds, 0);
    }
    assert.equal(parseAnnotationRecord('not json').holderIdentity, UNREADABLE_HOLDER);
    assert.equal(parseAnnotationRecord('{"leaseDurationSeconds":15}').holderIdentity, '', 'no holder: free');
  });
});
