import type { Clock } from '../runtime/clock.ts';
import { formatTime } from '../kube-api/wire-time.ts';
import { eventName, type CoreEvent } from './event.ts';
import { Lru } from './lru.ts';
import { TokenBucket } from './token-bucket.ts';

/** client-go tools/record defaults (events_cache.go). */
const CORRELATOR_DEFAULTS = {
  lruCacheSize: 4096,
  /** More than this many similar events (same everything but the message) within the interval are combined. */
  aggregateMaxEvents: 10,
  aggregateIntervalMs: 600_000,
  /** Per source and object: a burst of 25 events, then one every five minutes. */
  spamBurst: 25,
  spamQps: 1 / 300,
} as const;

/** What to do with one event: create it, patch an existing one (count, lastTimestamp, message), or drop it. */
export type Correlated = { skip: true } | { skip: false; event: CoreEvent; patch: EventPatch | undefined };

/** The strategic-merge patch client-go sends for a repeated event. */
export interface EventPatch {
  count: number;
  lastTimestamp: string;
  message: string;
}

interface AggregateRecord {
  messages: Set<string>;
  lastAt: number;
}

interface EventLog {
  count: number;
  firstTimestamp: Date;
  name: string;
  resourceVersion: string | undefined;
}

const objectKey = (event: CoreEvent) => {
  const object = event.involvedObject;
  return [object.kind, object.namespace, object.name, object.uid ?? '', object.apiVersion];
};

/** Everything but the timestamps: identical events are counted on one Event object. */
function eventKey(event: CoreEvent): string {
  const object = event.involvedObject;
  return [
    event.source.component,
    event.source.host ?? '',
    object.kind,
    object.namespace,
    object.name,
    object.fieldPath ?? '',
    object.uid ?? '',
    object.apiVersion,
    event.type,
    event.reason,
    event.message,
  ].join('\u0000');
}

/** Same source and object: one rate limit for all events about it. */
function spamKey(event: CoreEvent): string {
  return [event.source.component, event.source.host ?? '', ...objectKey(event)].join('\u0000');
}

/** Everything but the message: similar events, combined when too many differ. */
function aggregateKey(event: CoreEvent): string {
  return [
    event.source.component,
    event.source.host ?? '',
    ...objectKey(event),
    event.type,
    event.reason,
    event.reportingComponent,
    event.reportingInstance,
  ].join('\u0000');
}

/**
 * client-go's EventCorrelator, so events reach the API as tools/record sends them:
 * 1. aggregation — from the 10th distinct message of similar events within 10 minutes, one combined event
 *    "(combined from similar events): <message>" is counted instead;
 * 2. de-duplication — an event identical to an earlier one patches that one's count and lastTimestamp;
 * 3. spam filter — a token bucket per source and object (burst 25, then 1 per 5 minutes) drops the excess.
 */
export class EventCorrelator {
  readonly #clock: Clock;
  readonly #aggregates: Lru<AggregateRecord>;
  readonly #logs: Lru<EventLog>;
  readonly #buckets: Lru<TokenBucket>;

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#aggregates = new Lru(CORRELATOR_DEFAULTS.lruCacheSize);
    this.#logs = new Lru(CORRELATOR_DEFAULTS.lruCacheSize);
    this.#buckets = new Lru(CORRELATOR_DEFAULTS.lruCacheSize);
  }

  correlate(incoming: CoreEvent): Correlated {
    const { event: aggregated, key } = this.#aggregate(incoming);
    const { event, patch } = this.#observe(aggregated, key);
    if (!this.#accept(event)) return { skip: true };
    return { skip: false, event, patch };
  }

  /** Records what the server stored (name, resourceVersion, count), so the next repeat patches the right object. */
  updateState(stored: CoreEvent): void {
    this.#logs.set(eventKey(stored), {
      count: stored.count,
      firstTimestamp: stored.firstTimestamp,
      name: stored.name,
      resourceVersion: stored.resourceVersion,
    });
  }

  #aggregate(event: CoreEvent): { event: CoreEvent; key: string } {
    const now = this.#clock.now();
    const key = aggregateKey(event);
    let record = this.#aggregates.get(key);
    if (!record || now - record.lastAt > CORRELATOR_DEFAULTS.aggregateIntervalMs)
      record = { messages: new Set(), lastAt: now };
    record.messages.add(event.message);
    record.lastAt = now;
    this.#aggregates.set(key, record);
    if (record.messages.size < CORRELATOR_DEFAULTS.aggregateMaxEvents) return { event, key: eventKey(event) };
    // Keep the set from growing past the limit.
    const any = record.messages.values().next().value;
    if (any !== undefined) record.messages.delete(any);
    const at = this.#clock.date();
    return {
      event: {
        ...event,
        name: eventName(event.involvedObject.name, at),
        resourceVersion: undefined,
        message: `(combined from similar events): ${event.message}`,
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
      },
      key,
    };
  }

  #observe(incoming: CoreEvent, key: string): { event: CoreEvent; patch: EventPatch | undefined } {
    const last = this.#logs.get(key);
    let event = incoming;
    let patch: EventPatch | undefined;
    if (last && last.count > 0) {
      event = {
        ...incoming,
        name: last.name,
        resourceVersion: last.resourceVersion,
        firstTimestamp: last.firstTimestamp,
        count: last.count + 1,
      };
      patch = { count: event.count, lastTimestamp: formatTime(event.lastTimestamp), message: event.message };
    }
    this.#logs.set(key, {
      count: event.count,
      firstTimestamp: event.firstTimestamp,
      name: event.name,
      resourceVersion: event.resourceVersion,
    });
    return { event, patch };
  }

  #accept(event: CoreEvent): boolean {
    const key = spamKey(event);
    const now = this.#clock.now();
    let bucket = this.#buckets.get(key);
    if (!bucket) bucket = new TokenBucket(CORRELATOR_DEFAULTS.spamBurst, CORRELATOR_DEFAULTS.spamQps, now);
    const accepted = bucket.tryAccept(now);
    this.#buckets.set(key, bucket);
    return accepted;
  }
}
