import { Hono } from 'hono';
import type { DeliveryLog } from './delivery-log.ts';
import { redactUrl, type Target } from './targets.ts';

/** What `/deliveries` shows of one target's queue. */
export interface QueueView {
  readonly target: Target;
  /** Where the target's deliveries go now (a `urlFile` is re-read); shown reduced to scheme://host. */
  readonly url: string;
  /** Events waiting or in delivery. */
  readonly depth: number;
  /** The target answered 410 Gone and gets nothing more from this process. */
  readonly disabled: boolean;
}

/**
 * A Hono sub-app, mounted with `app.route('/deliveries', deliveriesApp(…))`. `GET /` answers
 * `{targets: [{name, url, scope, format, events, queueDepth, disabled}], deliveries: DeliveryRecord[]}`: the targets
 * (the URL without path, query or credentials) and the last deliveries, newest first; `?target=NAME` and
 * `?status=given-up` (any `DeliveryStatus`) filter the deliveries. No header, body or secret is shown.
 */
export function deliveriesApp(queues: readonly QueueView[], deliveries: DeliveryLog): Hono {
  return new Hono().get('/', (c) => {
    const target = c.req.query('target');
    const status = c.req.query('status');
    return c.json({
      targets: queues.map((queue) => ({
        name: queue.target.name,
        url: redactUrl(queue.url),
        scope: queue.target.scope,
        format: queue.target.format,
        events: [...queue.target.events],
        queueDepth: queue.depth,
        disabled: queue.disabled,
      })),
      deliveries: deliveries
        .list()
        .filter((record) => (!target || record.target === target) && (!status || record.status === status)),
    });
  });
}
