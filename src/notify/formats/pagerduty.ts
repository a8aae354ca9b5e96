import type { NotifyEvent } from '../events.ts';
import { describeElection, type FormatContext, type Rendered } from './format.ts';

/** One incident per election. */
function pagerDutyDedupKey(event: NotifyEvent): string {
  return `leaderhook/${event.data.namespace}/${event.data.election}`;
}

/**
 * PagerDuty Events API v2: `trigger` when the election is seen without a leader, `resolve` when one is elected, both
 * with the election's `dedup_key`, so repeats from several replicas or retries fold into one incident.
 */
export function renderPagerDuty(event: NotifyEvent, { target, routingKey }: FormatContext): Rendered | null {
  if (event.type !== 'leader.changed') return null;
  const { leader, previousLeader } = event.data;
  const routing_key = routingKey?.() ?? '';
  const dedup_key = pagerDutyDedupKey(event);
  const body = leader
    ? { routing_key, event_action: 'resolve', dedup_key }
    : {
        routing_key,
        event_action: 'trigger',
        dedup_key,
        payload: {
          summary: `${describeElection(event)} has no leader${previousLeader ? ` (was ${previousLeader})` : ''}`.slice(
            0,
            1024,
          ),
          source: describeElection(event),
          severity: target.severity ?? 'error',
          timestamp: event.time.toISOString(),
          component: event.data.election,
          group: event.data.namespace,
          class: 'leader-election',
          custom_details: event.data,
        },
      };
  return { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
}
