import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Per-target delivery metrics, labelled by the target's name (never its URL). */
export class NotifyMetrics {
  readonly attempts: Counter<'target'>;
  readonly delivered: Counter<'target'>;
  readonly failures: Counter<'target' | 'reason'>;
  readonly givenUp: Counter<'target' | 'reason'>;
  readonly superseded: Counter<'target'>;
  readonly queueDepth: Gauge<'target'>;
  readonly disabled: Gauge<'target'>;
  readonly latency: Histogram<'target'>;
  readonly fileReloadFailures: Counter<'target' | 'file'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.attempts = new Counter({
      name: 'leaderhook_notify_attempts_total',
      help: 'Delivery attempts (HTTP requests), by target',
      labelNames: ['target'],
      registers,
    });
    this.delivered = new Counter({
      name: 'leaderhook_notify_delivered_total',
      help: 'Events delivered (a 2xx answer), by target',
      labelNames: ['target'],
      registers,
    });
    this.failures = new Counter({
      name: 'leaderhook_notify_failures_total',
      help: 'Failed attempts by target and reason (timeout, connection-refused, connection, http-408, http-429, http-5xx, http-3xx, http-4xx, http-410)',
      labelNames: ['target', 'reason'],
      registers,
    });
    this.givenUp = new Counter({
      name: 'leaderhook_notify_given_up_total',
      help: 'Events not delivered, by target and reason (retries-exhausted, permanent, disabled, shutdown)',
      labelNames: ['target', 'reason'],
      registers,
    });
    this.superseded = new Counter({
      name: 'leaderhook_notify_superseded_total',
      help: 'Queued state events replaced by a newer state before delivery, by target',
      labelNames: ['target'],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'leaderhook_notify_queue_depth',
      help: 'Events waiting or in delivery, by target',
      labelNames: ['target'],
      registers,
    });
    this.disabled = new Gauge({
      name: 'leaderhook_notify_target_disabled',
      help: '1 once a target answered 410 Gone and was disabled',
      labelNames: ['target'],
      registers,
    });
    this.latency = new Histogram({
      name: 'leaderhook_notify_delivery_seconds',
      help: 'Time from the leadership change to its successful delivery, retries included, by target',
      labelNames: ['target'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.fileReloadFailures = new Counter({
      name: 'leaderhook_notify_file_reload_failures_total',
      help: 'Re-reads of a secret, header or routing-key file that failed (the last good value stays in use), by target and file',
      labelNames: ['target', 'file'],
      registers,
    });
  }

  addTarget(name: string): void {
    this.queueDepth.set({ target: name }, 0);
    this.disabled.set({ target: name }, 0);
    this.attempts.inc({ target: name }, 0);
    this.delivered.inc({ target: name }, 0);
  }
}
