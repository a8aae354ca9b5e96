import type { NotifyEvent } from '../events.ts';
import { describeElection, type Rendered } from './format.ts';

const NO_LEADER_ALERT = 'LeaderhookNoLeader';

/**
 * Alertmanager's `POST /api/v2/alerts`: one alert, `LeaderhookNoLeader{namespace, election}`, firing when the election
 * is seen without a leader and resolved (`endsAt` = now) when one is elected. Only `leader.changed` maps to it.
 * A firing alert is sent without `endsAt`, so Alertmanager resolves it by itself after its `resolve_timeout` (5m by
 * default) unless a leader is elected first; a longer outage is a Prometheus rule's job
 * (`sum(leaderhook_is_leader) == 0`).
 */
export function renderAlertmanager(event: NotifyEvent): Rendered | null {
  if (event.type !== 'leader.changed') return null;
  const { namespace, election, leader, previousLeader } = event.data;
  const time = event.time.toISOString();
  const labels = { alertname: NO_LEADER_ALERT, namespace, election };
  const alert = leader
    ? {
        labels,
        annotations: { summary: `${describeElection(event)} is led by ${leader}` },
        startsAt: time,
        endsAt: time,
      }
    : {
        labels,
        annotations: {
          summary: `${describeElection(event)} has no leader`,
          description: previousLeader ? `the last leader was ${previousLeader}` : 'no replica holds the lock',
        },
        startsAt: time,
      };
  return { body: JSON.stringify([alert]), headers: { 'content-type': 'application/json' } };
}
