import { Registry } from 'prom-client';
import { DeliveryLog } from '../../src/notify/delivery-log.ts';
import { eventId, type EventType, type NotifyEvent } from '../../src/notify/events.ts';
import type { Rendered } from '../../src/notify/formats/index.ts';
import { renderJson } from '../../src/notify/formats/json.ts';
import { NotifyMetrics } from '../../src/notify/metrics.ts';
import { SecretFiles } from '../../src/notify/signing.ts';
import { TargetQueue, type QueueItem, type SettledOutcome } from '../../src/notify/target-queue.ts';
import { EVENT_TYPES } from '../../src/notify/events.ts';
import type { Target } from '../../src/notify/targets.ts';

export interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

/** A logger that keeps what it is given. */
export function captureLog() {
  const lines: LogLine[] = [];
  const at = (level: string) => (fields: unknown, msg?: string) => {
    if (typeof fields === 'string') lines.push({ level, fields: {}, msg: fields });
    else lines.push({ level, fields: fields as Record<string, unknown>, msg: msg ?? '' });
  };
  return { lines, warn: at('warn'), info: at('info'), error: at('error'), debug: at('debug') };
}

export function testTarget(url: string, overrides: Partial<Target> = {}): Target {
  return {
    name: 'test',
    cursorKey: 'test',
    url,
    scope: 'all',
    events: new Set(EVENT_TYPES),
    format: 'json',
    mode: 'binary',
    headers: {},
    headerFiles: {},
    secretFiles: [],
    timeoutMs: 1_000,
    retry: { attempts: 6, minDelayMs: 20, maxDelayMs: 200, maxElapsedMs: 10_000 },
    supersede: false,
    ...overrides,
  };
}

export function testEvent(
  transitions: number,
  type: EventType = 'leader.changed',
  leader = `pod-${transitions}`,
): NotifyEvent {
  return {
    id: eventId({ namespace: 'default', election: 'demo', lockUid: 'uid-1', transitions, type, subject: leader }),
    type,
    subject: leader,
    time: new Date(),
    data: {
      election: 'demo',
      namespace: 'default',
      lock: 'leases',
      leader,
      previousLeader: '',
      transitions,
      observer: 'pod-x',
      isLeader: false,
    },
  };
}

export function testQueue(target: Target, options: { secrets?: SecretFiles } = {}) {
  const log = captureLog();
  const registry = new Registry();
  const metrics = new NotifyMetrics(registry);
  const deliveries = new DeliveryLog();
  const settled: Array<{ id: string; outcome: SettledOutcome; reason: string | undefined }> = [];
  const queue = new TargetQueue({
    target,
    log,
    metrics,
    deliveries,
    secrets: options.secrets ?? new SecretFiles([]),
    headerFiles: new Map(),
    onSettled: (item, outcome, reason) => settled.push({ id: item.event.id, outcome, reason }),
  });
  const push = (event: NotifyEvent, rendered: Rendered = renderJson(event)) => {
    const item: QueueItem = { event, rendered, changedAt: performance.now() };
    queue.enqueue(item);
  };
  return { queue, push, log, registry, metrics, deliveries, settled };
}

export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((entry) => entry.name === name);
  const values = (metric?.values ?? []) as Array<{ labels: Record<string, string | number>; value: number }>;
  return values
    .filter((value) => Object.entries(labels).every(([key, want]) => String(value.labels[key]) === want))
    .reduce((sum, value) => sum + value.value, 0);
}
