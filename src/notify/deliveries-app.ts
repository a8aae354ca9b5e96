import type { Hono } from 'hono';
import type { DeliveryLog } from './delivery-log.ts';
import { redactUrl, type Target } from './targets.ts';

export interface QueueView {
  readonly target: Target;
  readonly depth: number;
  readonly disabled: boolean;
}

/**
 * `GET /deliveries`: the targets (name, scope, format, the URL without path or query, queue depth, disabled) and the
 * last deliveries, newest first; `?target=NAME` and `?status=given-up` filter. No header, body or secret is shown.
 */
export function deliveriesRoute(app: Hono, queues: readonly QueueView[], deliveries: DeliveryLog): void {
  app.get('/deliveries', (c) => {
    const target = c.req.query('target');
    const status = c.req.query('status');
    return c.json({
      targets: queues.map((queue) => ({
        name: queue.target.name,
        url: redactUrl(queue.target.url),
        scope: queue.target.scope,
        format: queue.target.format,
        events: [...queue.target.events],
        queueDepth: queue.depth,
        disabled: queue.disabled,
      })),
      deliveries: deliveries.list().filter((record) => (!target || record.target === target) && (!status || record.status === status)),
    });
  });
}
