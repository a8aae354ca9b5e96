import type { NotifyEvent } from '../events.ts';
import { describeElection, type FormatContext, type Rendered } from './format.ts';

const NO_LEADER_ALERT = 'LeaderhookNoLeader';

/** The `severity` label when the target sets none: no leader means the leader's work is not being done. */
const DEFAULT_SEVERITY = 'critical';

/** The lock object of each lock kind: its kind, and what `kubectl describe` calls it. */
const LOCK_OBJECT = {
  leases: { kind: 'Lease', kubectl: 'lease' },
  configmaps: { kind: 'ConfigMap', kubectl: 'configmap' },
  endpoints: { kind: 'Endpoints', kubectl: 'endpoints' },
} as const;

/**
 * Alertmanager's `POST /api/v2/alerts`: one alert, `LeaderhookNoLeader{namespace, election, severity}`, firing when the
 * election is seen without a leader and resolved (`endsAt` = now) when one is elected. Only `leader.changed` maps to
 * it. `startsAt` is when this replica first saw the election without a leader (`noLeaderSince`), in the firing alert
 * and in the resolve alike: Alertmanager merges an alert into the stored one only when their times overlap, so with
 * scope `all` every replica's resolve overlaps the firing alert and the resolved notification keeps the outage's
 * start (the earliest `startsAt` wins). A replica that saw no outage (a direct handover, or a start with a leader)
 * sends nothing. A firing alert is sent without `endsAt`, so Alertmanager resolves it by itself after its
 * `resolve_timeout` (5m by default) unless a leader is elected first; a longer outage is a Prometheus rule's job
 * (manifests/components/monitoring). `severity` is the target's (default `critical`), so routing trees that match on
 * it page; the description says what to look at.
 */
export function renderAlertmanager(event: NotifyEvent, { target }: FormatContext): Rendered | null {
  if (event.type !== 'leader.changed') return null;
  const { namespace, election, leader, previousLeader, lock } = event.data;
  if (leader && !event.noLeaderSince) return null;
  const startsAt = (event.noLeaderSince ?? event.time).toISOString();
  const labels = { alertname: NO_LEADER_ALERT, namespace, election, severity: target.severity ?? DEFAULT_SEVERITY };
  const inspect = `kubectl -n ${namespace} describe ${LOCK_OBJECT[lock].kubectl} ${election}`;
  const alert = leader
    ? {
        labels,
        annotations: {
          summary: `${describeElection(event)} is led by ${leader} again`,
          description: `${describeElection(event)} had no leader from ${startsAt} until ${leader} was elected. ${inspect}`,
        },
        startsAt,
        endsAt: event.time.toISOString(),
      }
    : {
        labels,
        annotations: {
          summary: `${describeElection(event)} has no leader`,
          description: `No replica holds the ${LOCK_OBJECT[lock].kind} ${describeElection(event)} since ${startsAt}${
            previousLeader ? ` (the last leader was ${previousLeader})` : ''
          }. Check: ${inspect}`,
        },
        startsAt,
      };
  return { body: JSON.stringify([alert]), headers: { 'content-type': 'application/json' } };
}
