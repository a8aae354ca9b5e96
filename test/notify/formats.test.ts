import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { HTTP } from 'cloudevents';
import { eventId } from '../../src/notify/events.ts';
import { renderAlertmanager } from '../../src/notify/formats/alertmanager.ts';
import { loadCloudEvents, percentEncodeHeaderValue, renderCloudEvent } from '../../src/notify/formats/cloudevents.ts';
import { renderJson } from '../../src/notify/formats/json.ts';
import { renderPagerDuty } from '../../src/notify/formats/pagerduty.ts';
import { renderSlack } from '../../src/notify/formats/slack.ts';
import { testEvent, testQueue, testTarget } from './helpers.ts';
import { Receiver } from './receiver.ts';
import type { WebhookBody } from './receiver.ts';

before(() => loadCloudEvents());

/** Alertmanager's API v2 postable alerts, with the fields these tests read. */
type AlertmanagerAlerts = Array<{
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
}>;

/** A PagerDuty Events API v2 event, with the fields these tests read. */
interface PagerDutyEvent {
  event_action: string;
  routing_key: string;
  dedup_key: string;
  payload?: { severity: string; summary: string; source: string };
}

describe('event ids', () => {
  const base = {
    namespace: 'default',
    election: 'demo',
    lockUid: '6a3e2f0c-8d1b-4f5e-9a7c-2b4d6e8f0a1c',
    transitions: 3,
    type: 'leader.changed',
    subject: 'pod-a',
  } as const;

  test('stable: the same inputs give the same id; lock uid, type, term, subject and occurrence each change it', () => {
    assert.equal(eventId(base), eventId({ ...base }));
    assert.equal(eventId(base), eventId({ ...base, occurrence: 1 }));
    assert.match(eventId(base), /^lh2_[A-Za-z0-9_-]{27}$/);
    const variants = [
      eventId({ ...base, subject: '' }),
      eventId({ ...base, transitions: 4 }),
      eventId({ ...base, type: 'leadership.started' }),
      eventId({ ...base, namespace: 'other' }),
      eventId({ ...base, election: 'other' }),
      eventId({ ...base, lockUid: '0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b' }),
      eventId({ ...base, occurrence: 2 }),
    ];
    assert.equal(new Set([eventId(base), ...variants]).size, variants.length + 1);
  });

  test("the README's recipe, computed here from its text, gives the same ids", () => {
    // lh2_ + base64url(SHA-256("leaderhook/v2" LF namespace LF election LF lockUid LF transitions LF type LF subject
    // [LF occurrence, only above 1]))[0..27]
    const recipe = (fields: string[]) =>
      `lh2_${createHash('sha256')
        .update(['leaderhook/v2', ...fields].join('\n'))
        .digest('base64url')
        .slice(0, 27)}`;
    const { namespace, election, lockUid, type, subject } = base;
    assert.equal(eventId(base), recipe([namespace, election, lockUid, '3', type, subject]));
    assert.equal(eventId({ ...base, occurrence: 2 }), recipe([namespace, election, lockUid, '3', type, subject, '2']));
    assert.equal(eventId({ ...base, subject: '' }), recipe([namespace, election, lockUid, '3', type, '']));
  });

  test("the README's example id is the one its inputs give", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const example = /^webhook-id: (lh2_\S+)$/m.exec(readme)?.[1];
    const uid = /uid `([0-9a-f-]{36})`, `0`, `leader.changed`, `pod-a`/.exec(readme)?.[1] ?? '';
    assert.equal(
      example,
      eventId({
        namespace: 'default',
        election: 'my-app',
        lockUid: uid,
        transitions: 0,
        type: 'leader.changed',
        subject: 'pod-a',
      }),
    );
  });
});

describe('formats', () => {
  const event = testEvent(5, 'leader.changed', 'pod-b');

  test('json: {type, timestamp, data}', () => {
    const body = JSON.parse(renderJson(event).body) as WebhookBody;
    assert.deepEqual(Object.keys(body), ['type', 'timestamp', 'data']);
    assert.deepEqual(Object.keys(body.data).sort(), [
      'election',
      'isLeader',
      'leader',
      'lock',
      'namespace',
      'observer',
      'previousLeader',
      'transitions',
    ]);
  });

  test('cloudevents binary mode, parsed by the CloudEvents SDK', () => {
    const rendered = renderCloudEvent(event, {
      target: testTarget('http://x/', { format: 'cloudevents', mode: 'binary' }),
    });
    const parsed = HTTP.toEvent({ headers: rendered.headers, body: rendered.body });
    const ce = Array.isArray(parsed) ? parsed[0] : parsed;
    assert.ok(ce);
    assert.equal(ce.id, event.id);
    assert.equal(ce.specversion, '1.0');
    assert.equal(ce.type, 'io.leaderhook.leader.changed');
    assert.equal(ce.source, '/apis/coordination.k8s.io/v1/namespaces/default/leases/demo');
    assert.equal(ce.subject, 'pod-b');
    assert.equal(ce.time, event.time.toISOString());
    assert.deepEqual(ce.data, JSON.parse(JSON.stringify(event.data)));
    assert.equal((ce as unknown as { validate(): boolean }).validate(), true);
  });

  test('cloudevents structured mode, parsed by the CloudEvents SDK', () => {
    const rendered = renderCloudEvent(event, {
      target: testTarget('http://x/', { format: 'cloudevents', mode: 'structured' }),
    });
    assert.match(rendered.headers['content-type'] ?? '', /^application\/cloudevents\+json/);
    const parsed = HTTP.toEvent({ headers: rendered.headers, body: rendered.body });
    const ce = Array.isArray(parsed) ? parsed[0] : parsed;
    assert.ok(ce);
    assert.equal(ce.id, event.id);
    assert.equal(ce.datacontenttype, 'application/json');
    assert.deepEqual(ce.data, JSON.parse(JSON.stringify(event.data)));
  });

  test('slack: {text}', () => {
    assert.deepEqual(JSON.parse(renderSlack(event).body), {
      text: ':white_check_mark: `default/demo` is led by *pod-b*',
    });
    assert.match(
      (JSON.parse(renderSlack(testEvent(5, 'leader.changed', '')).body) as { text: string }).text,
      /has no leader/,
    );
  });

  test('alertmanager: firing LeaderhookNoLeader from when the outage was first seen, resolved with the same start', () => {
    const target = testTarget('http://am:9093/api/v2/alerts', { format: 'alertmanager' });
    const outageSeenAt = new Date('2026-11-24T18:58:00.000Z');
    const noLeader = { ...testEvent(5, 'leader.changed', ''), time: outageSeenAt, noLeaderSince: outageSeenAt };
    const firing = JSON.parse(renderAlertmanager(noLeader, { target })?.body ?? '') as AlertmanagerAlerts;
    assert.equal(firing.length, 1);
    assert.deepEqual(firing[0]!.labels, {
      alertname: 'LeaderhookNoLeader',
      namespace: 'default',
      election: 'demo',
      severity: 'critical',
    });
    assert.equal(firing[0]!.startsAt, '2026-11-24T18:58:00.000Z');
    assert.equal(firing[0]!.endsAt, undefined);
    assert.match(firing[0]!.annotations.description ?? '', /Check: kubectl -n default describe lease demo$/);

    // The resolve keeps the start, so Alertmanager merges it into the firing alert whichever replica sends it.
    const elected = { ...testEvent(6, 'leader.changed', 'pod-b'), time: new Date('2026-11-24T18:58:09.500Z') };
    const resolved = JSON.parse(
      renderAlertmanager({ ...elected, noLeaderSince: outageSeenAt }, { target })?.body ?? '',
    ) as AlertmanagerAlerts;
    assert.deepEqual(resolved[0]!.labels, firing[0]!.labels);
    assert.equal(resolved[0]!.startsAt, '2026-11-24T18:58:00.000Z');
    assert.equal(resolved[0]!.endsAt, '2026-11-24T18:58:09.500Z');

    // A replica that saw no outage resolves nothing; other event types send nothing; the severity is the target's.
    assert.equal(renderAlertmanager(elected, { target }), null);
    assert.equal(renderAlertmanager(testEvent(5, 'leadership.started', 'pod-b'), { target }), null);
    const warning = testTarget('http://am:9093/api/v2/alerts', { format: 'alertmanager', severity: 'warning' });
    const labelled = JSON.parse(renderAlertmanager(noLeader, { target: warning })?.body ?? '') as AlertmanagerAlerts;
    assert.equal(labelled[0]!.labels.severity, 'warning');
  });

  test('pagerduty: trigger and resolve on one dedup_key per election', () => {
    const target = testTarget('https://events.pagerduty.com/v2/enqueue', { format: 'pagerduty', severity: 'critical' });
    const trigger = JSON.parse(
      renderPagerDuty(testEvent(5, 'leader.changed', ''), { target, routingKey: () => 'R'.repeat(32) })?.body ?? '',
    ) as PagerDutyEvent;
    assert.equal(trigger.event_action, 'trigger');
    assert.equal(trigger.routing_key, 'R'.repeat(32));
    assert.equal(trigger.dedup_key, 'leaderhook/default/demo');
    assert.equal(trigger.payload?.severity, 'critical');
    assert.ok(trigger.payload.summary && trigger.payload.source);
    const resolve = JSON.parse(
      renderPagerDuty(event, { target, routingKey: () => 'R'.repeat(32) })?.body ?? '',
    ) as PagerDutyEvent;
    assert.deepEqual(resolve, {
      routing_key: 'R'.repeat(32),
      event_action: 'resolve',
      dedup_key: 'leaderhook/default/demo',
    });
  });
});

describe('CloudEvents binary mode: ce- header values percent-encoded (HTTP binding §3.1.3.2)', () => {
  test('space, ", % and everything outside U+0021–U+007E are encoded as UTF-8 bytes; the rest passes unchanged', () => {
    const cases: Array<[string, string]> = [
      ['pod-a.example-1', 'pod-a.example-1'],
      ['Euro € 😀', 'Euro%20%E2%82%AC%20%F0%9F%98%80'], // the binding's own example
      ['pod ☃ "x" 100%', 'pod%20%E2%98%83%20%22x%22%20100%25'],
      ['a\r\nInjected: yes', 'a%0D%0AInjected:%20yes'],
      ['tab\there', 'tab%09here'],
      ['café', 'caf%C3%A9'],
      ["!#$&'()*+,/:;<=>?@[\\]^_`{|}~", "!#$&'()*+,/:;<=>?@[\\]^_`{|}~"],
    ];
    for (const [value, encoded] of cases) {
      assert.equal(percentEncodeHeaderValue(value), encoded, value);
      assert.equal(decodeURIComponent(encoded), value, `one round of percent-decoding gives back ${value}`);
    }
  });

  test('a leader named `pod ☃ "x" 100%` reaches a real receiver; the CloudEvents SDK reads the event and the subject decodes back', async () => {
    const receiver = await Receiver.start();
    try {
      const subject = 'pod ☃ "x" 100%';
      const event = testEvent(3, 'leader.changed', subject);
      const { queue, push, deliveries } = testQueue(
        testTarget(receiver.url, { format: 'cloudevents', mode: 'binary' }),
      );
      push(event, renderCloudEvent(event, { target: testTarget(receiver.url, { format: 'cloudevents' }) }));
      await queue.idle();
      assert.equal(deliveries.list()[0]?.status, 'delivered');
      const request = receiver.received[0];
      assert.ok(request);
      assert.equal(request.headers['ce-subject'], 'pod%20%E2%98%83%20%22x%22%20100%25');
      const parsed = HTTP.toEvent({ headers: request.headers, body: request.body });
      const ce = Array.isArray(parsed) ? parsed[0] : parsed;
      assert.ok(ce);
      assert.equal((ce as unknown as { validate(): boolean }).validate(), true);
      assert.equal(ce.id, event.id);
      assert.equal(ce.type, 'io.leaderhook.leader.changed');
      assert.equal(decodeURIComponent(ce.subject ?? ''), subject);
      assert.equal((ce.data as { leader: string }).leader, subject);
    } finally {
      await receiver.close();
    }
  });
});
