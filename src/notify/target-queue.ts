import { setTimeout as sleep } from 'node:timers/promises';
import pRetry, { AbortError } from 'p-retry';
import { attempt, type AttemptResult, type Request } from './delivery.ts';
import type { Log } from '../log/logger.ts';
import type { DeliveryLog, DeliveryRecord } from './delivery-log.ts';
import type { EventType, NotifyEvent } from './events.ts';
import type { FileValue } from './file-value.ts';
import type { Rendered } from './formats/index.ts';
import type { NotifyMetrics } from './metrics.ts';
import { signatureHeader, type SecretFiles } from './signing.ts';
import type { Target } from './targets.ts';

/** A `Retry-After` longer than this is cut to it. */
const RETRY_AFTER_CAP_MS = 5 * 60_000;

/**
 * The most events one target's queue holds (about 2 KB each). Beyond it the oldest is given up (reason `queue-full`):
 * a target that stays down while the election keeps changing costs bounded memory.
 */
export const MAX_QUEUED_EVENTS = 256;

export type SettledOutcome = 'delivered' | 'given-up' | 'superseded' | 'disabled';

export interface QueueItem<P = unknown> {
  event: NotifyEvent;
  rendered: Rendered;
  /** Opaque to the queue: the leader-scope cursor position, handed back on settle. */
  position?: P;
  /** `performance.now()` of the change, for the latency metric. */
  changedAt: number;
  recovered?: boolean;
}

interface Entry<P> extends QueueItem<P> {
  record: DeliveryRecord;
  /** Ends the retry loop (supersession, shutdown, the queue bound); never interrupts a request in flight. */
  stop: AbortController;
}

export interface TargetQueueOptions<P> {
  target: Target;
  log: Log;
  metrics: NotifyMetrics;
  deliveries: DeliveryLog;
  secrets: SecretFiles;
  headerFiles: ReadonlyMap<string, FileValue<string>>;
  /** The target's URL file (`urlFile`), re-read as it says; without it the target's `url` is used. */
  urlFile?: FileValue<string>;
  /** Called once per item. */
  onSettled?: (item: QueueItem<P>, outcome: SettledOutcome, reason: string | undefined) => void;
}

class DeliveryFailure extends Error {
  readonly result: Exclude<AttemptResult, { outcome: 'delivered' }>;

  constructor(result: Exclude<AttemptResult, { outcome: 'delivered' }>) {
    super(result.message);
    this.result = result;
  }
}

/**
 * One target's ordered queue: one event at a time, each retried with p-retry (exponential back-off with jitter,
 * `Retry-After` honoured) before the next starts, so the target sees its events in order, while other targets, the
 * election loop and the HTTP server never wait for it.
 */
export class TargetQueue<P = unknown> {
  readonly target: Target;
  readonly #options: TargetQueueOptions<P>;
  #entries: Entry<P>[] = [];
  /** Aborts requests in flight, at shutdown only. */
  readonly #shutdown = new AbortController();
  #running = false;
  #disabled = false;
  #closed = false;
  #idleWaiters: Array<() => void> = [];
  /** Woken after every attempt and when the queue empties. */
  #progressWaiters: Array<() => void> = [];

  constructor(options: TargetQueueOptions<P>) {
    this.target = options.target;
    this.#options = options;
  }

  get depth(): number {
    return this.#entries.length;
  }

  get disabled(): boolean {
    return this.#disabled;
  }

  /** Where the next attempt is sent: the URL file's last good value, or the target's `url`. */
  get url(): string {
    return this.#options.urlFile?.value() ?? this.target.url;
  }

  enqueue(item: QueueItem<P>): void {
    const { target, metrics, deliveries } = this.#options;
    const record = deliveries.add({
      target: target.name,
      id: item.event.id,
      type: item.event.type,
      transitions: item.event.data.transitions,
      leader: item.event.data.leader,
      status: 'queued',
      attempts: 0,
      queuedAt: new Date().toISOString(),
      ...(item.recovered ? { recovered: true } : {}),
    });
    const entry: Entry<P> = { ...item, record, stop: new AbortController() };
    if (this.#disabled || this.#closed) {
      this.#finish(entry, this.#disabled ? 'disabled' : 'given-up', this.#disabled ? 'disabled' : 'shutdown');
      return;
    }
    this.#entries.push(entry);
    this.#supersedeStale();
    this.#dropBeyondBound();
    metrics.queueDepth.set({ target: target.name }, this.#entries.length);
    if (!this.#running) void this.#pump();
  }

  /**
   * Supersession, for state hooks (`supersede`), only while the target fails (the event at the head has failed an
   * attempt: the receiver is down or still starting): a queued `leader.changed` is dropped once a newer
   * `leader.changed` is queued behind it, as the newer one says who leads now. `leadership.started` and
   * `leadership.stopped` are never superseded: each says something no later event repeats (that this replica started
   * or stopped a run of leadership, in which term, and why it stopped), and a receiver that acts on them must see
   * every start and stop, in order. While the receiver answers, every event is delivered in order.
   */
  #supersedeStale(): void {
    if (!this.target.supersede || this.#entries.length < 2) return;
    const head = this.#entries[0] as Entry<P>;
    if (head.record.lastError === undefined) return;
    const newest = this.#entries.findLastIndex((entry) => entry.event.type === 'leader.changed');
    if (newest < 1) return;
    const stale = this.#entries.filter((entry, index) => index > 0 && index < newest && isStateEvent(entry));
    this.#entries = this.#entries.filter((entry) => !stale.includes(entry));
    for (const old of stale) this.#finish(old, 'superseded');
    // The head may have a request in flight: it ends its retry loop and is settled by the pump.
    if (isStateEvent(head)) head.stop.abort('superseded');
  }

  /**
   * Keeps the queue within `MAX_QUEUED_EVENTS`: the oldest events are given up first (the head's retry loop ends, a
   * request in flight finishes), so whatever is delivered stays in order.
   */
  #dropBeyondBound(): void {
    const head = this.#entries[0];
    // A head whose retry loop was ended is on its way out.
    const leaving = head?.stop.signal.aborted ? 1 : 0;
    let excess = this.#entries.length - leaving - MAX_QUEUED_EVENTS;
    if (excess <= 0 || !head) return;
    if (!leaving) {
      head.stop.abort('queue-full');
      excess--;
    }
    for (const old of this.#entries.splice(1, excess)) this.#finish(old, 'given-up', 'queue-full');
  }

  /** Resolves when nothing is queued or in delivery. */
  idle(): Promise<void> {
    if (this.#entries.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Resolves once the last event of `type` queued now has settled (delivered, given up), and with it everything queued
   * ahead of it, or once the event at the head was refused a connection (nothing listens at the target, so nothing is
   * there to wait for). Resolves at once when no event of `type` is queued. Events queued behind it are not waited for.
   */
  async settledThrough(type: EventType): Promise<void> {
    const awaited = this.#entries.findLast((entry) => entry.event.type === type);
    if (!awaited) return;
    while (this.#entries.includes(awaited) && this.#entries[0]?.record.lastError !== 'connection-refused') {
      await new Promise<void>((resolve) => this.#progressWaiters.push(resolve));
    }
  }

  /** Shutdown past the drain bound: abort what is in flight and give up on everything queued. */
  abandon(): void {
    this.#closed = true;
    this.#shutdown.abort('shutdown');
    for (const entry of this.#entries) entry.stop.abort('shutdown');
  }

  async #pump(): Promise<void> {
    this.#running = true;
    const { target, metrics } = this.#options;
    while (this.#entries.length > 0) {
      const entry = this.#entries[0] as Entry<P>;
      const [outcome, reason] = await this.#deliver(entry);
      this.#entries.shift();
      this.#finish(entry, outcome, reason);
      if (outcome === 'disabled') {
        for (const rest of this.#entries.splice(0)) this.#finish(rest, 'disabled', 'disabled');
      }
      metrics.queueDepth.set({ target: target.name }, this.#entries.length);
      for (const resolve of this.#progressWaiters.splice(0)) resolve();
    }
    this.#running = false;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
    for (const resolve of this.#progressWaiters.splice(0)) resolve();
  }

  async #deliver(entry: Entry<P>): Promise<[SettledOutcome, string?]> {
    const { target, metrics, log } = this.#options;
    const { retry } = target;
    const labels = { target: target.name };
    try {
      await pRetry(
        async () => {
          entry.record.status = 'sending';
          entry.record.attempts++;
          metrics.attempts.inc(labels);
          const result = await attempt(this.#request(entry));
          if (result.outcome === 'delivered') {
            entry.record.lastStatusCode = result.status;
            return;
          }
          entry.record.lastError = result.reason;
          if (result.status !== undefined) entry.record.lastStatusCode = result.status;
          metrics.failures.inc({ ...labels, reason: result.reason });
          const failure = new DeliveryFailure(result);
          if (result.outcome === 'retry') throw failure;
          this.#logFailure(entry, result, undefined);
          throw new AbortError(failure);
        },
        {
          retries: Number.isFinite(retry.attempts) ? Math.max(0, retry.attempts - 1) : Number.POSITIVE_INFINITY,
          factor: 2,
          minTimeout: retry.minDelayMs,
          maxTimeout: retry.maxDelayMs,
          randomize: true,
          maxRetryTime: retry.maxElapsedMs,
          signal: entry.stop.signal,
          onFailedAttempt: async ({ error, retriesLeft, retryDelay }) => {
            if (!(error instanceof DeliveryFailure)) return;
            const retrying = retriesLeft > 0 && retryDelay > 0;
            const retryAfter = error.result.outcome === 'retry' ? error.result.retryAfterMs : undefined;
            const wait =
              retrying && retryAfter !== undefined
                ? Math.max(retryDelay, Math.min(retryAfter, RETRY_AFTER_CAP_MS))
                : retryDelay;
            this.#logFailure(entry, error.result, retrying ? wait : undefined);
            if (retrying) entry.record.status = 'retrying';
            for (const resolve of this.#progressWaiters.splice(0)) resolve();
            this.#supersedeStale();
            // p-retry waits `retryDelay` next; a longer Retry-After adds the difference first.
            if (retrying && wait > retryDelay) await sleep(wait - retryDelay, undefined, { signal: entry.stop.signal });
          },
          shouldRetry: ({ error }) => error instanceof DeliveryFailure && error.result.outcome === 'retry',
        },
      );
      metrics.delivered.inc(labels);
      const latency = performance.now() - entry.changedAt;
      metrics.latency.observe(labels, latency / 1000);
      entry.record.latencyMs = Math.round(latency * 10) / 10;
      return ['delivered'];
    } catch (error) {
      const stopped = entry.stop.signal.aborted ? String(entry.stop.signal.reason) : undefined;
      if (stopped === 'superseded') return ['superseded'];
      if (stopped === 'shutdown' || stopped === 'queue-full') return ['given-up', stopped];
      if (error instanceof DeliveryFailure) {
        if (error.result.outcome === 'disable') {
          this.#disabled = true;
          metrics.disabled.set(labels, 1);
          log.error(
            { target: target.name, eventId: entry.event.id },
            'the target answered 410 Gone: disabled, nothing more is sent to it',
          );
          return ['disabled', 'disabled'];
        }
        return ['given-up', error.result.outcome === 'permanent' ? 'permanent' : 'retries-exhausted'];
      }
      log.error(
        { target: target.name, eventId: entry.event.id, err: (error as Error).message },
        'delivery failed unexpectedly',
      );
      return ['given-up', 'error'];
    }
  }

  #request(entry: Entry<P>): Request {
    const { target, secrets, headerFiles } = this.#options;
    const headers: Record<string, string> = { ...entry.rendered.headers, ...target.headers };
    for (const [name, value] of headerFiles) headers[name] = value.value();
    const timestamp = Math.floor(Date.now() / 1000);
    headers['webhook-id'] = entry.event.id;
    headers['webhook-timestamp'] = String(timestamp);
    const keys = secrets.keys();
    if (keys.length)
      headers['webhook-signature'] = signatureHeader(keys, entry.event.id, timestamp, entry.rendered.body);
    return {
      url: this.url,
      body: entry.rendered.body,
      headers,
      timeoutMs: target.timeoutMs,
      signal: this.#shutdown.signal,
    };
  }

  #logFailure(
    entry: Entry<P>,
    result: Exclude<AttemptResult, { outcome: 'delivered' }>,
    retryInMs: number | undefined,
  ): void {
    this.#options.log.warn(
      {
        target: this.target.name,
        eventId: entry.event.id,
        type: entry.event.type,
        transitions: entry.event.data.transitions,
        attempt: entry.record.attempts,
        reason: result.reason,
        ...(result.status !== undefined ? { status: result.status } : {}),
        durationMs: result.durationMs,
        ...(retryInMs !== undefined ? { retryInMs: Math.round(retryInMs) } : { final: true }),
      },
      `delivery attempt failed: ${result.message}`,
    );
  }

  #finish(entry: Entry<P>, outcome: SettledOutcome, reason?: string): void {
    const { target, metrics, log, onSettled } = this.#options;
    entry.record.status = outcome;
    entry.record.finishedAt = new Date().toISOString();
    if (outcome === 'superseded') metrics.superseded.inc({ target: target.name });
    if (outcome === 'given-up' || outcome === 'disabled') {
      entry.record.givenUpReason = reason ?? outcome;
      metrics.givenUp.inc({ target: target.name, reason: reason ?? outcome });
      log.error(
        {
          target: target.name,
          eventId: entry.event.id,
          type: entry.event.type,
          transitions: entry.event.data.transitions,
          attempts: entry.record.attempts,
          reason,
        },
        'gave up delivering an event',
      );
    }
    onSettled?.(entry, outcome, reason);
  }
}

/** A `leader.changed` tells the election's state, which a newer one replaces; the other types tell a change of it. */
function isStateEvent(entry: QueueItem): boolean {
  return entry.event.type === 'leader.changed';
}
