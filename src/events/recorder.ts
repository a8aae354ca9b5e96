import type { LeadershipFeed } from '../election/leadership.ts';
import { toKubeApiError, type KubeApiError } from '../kube-api/api-error.ts';
import { accessHint, type ApiAccess } from '../kube-api/hints.ts';
import type { Log } from '../log/logger.ts';
import { systemClock, WakeableSleep, type Clock } from '../runtime/clock.ts';
import { OnceUntilSuccess } from '../runtime/once-until-success.ts';
import { EventCorrelator } from './correlator.ts';
import type { EventSink } from './event-sink.ts';
import { eventName, type CoreEvent, type EventSource, type InvolvedObject } from './event.ts';

/** client-go's reason for leader-election events. */
const LEADER_ELECTION_REASON = 'LeaderElection';
/** client-go: 12 tries per event, 10 s apart (the first wait randomised). */
const MAX_TRIES = 12;
const RETRY_SLEEP_MS = 10_000;
/**
 * An event is written this long after its leadership change at the earliest, or after the release for one held through
 * it, so that change's own work goes first: the successor's acquire and local hooks, /watch, the other replicas' watch
 * events. An Event's request and the API server's write of it compete with them for the CPU; the old leader's
 * "stopped leading", written right after its release, did most: the successor's push p50 3.7 → 2.4–2.9 ms and p99
 * 10–12 → 6.3–6.4 ms on kube-apiserver (`npm run bench -- --real-api --only=push`, builds alternating). A shutdown
 * waits it out too (a leader's exit comes 25 ms later). The event's time is taken when it is made, so the delay
 * changes nothing in it.
 */
export const EVENT_WRITE_DELAY_MS = 25;
/** Events waiting to be written; more are dropped, as client-go's broadcaster does past 1000. */
const MAX_QUEUED = 1000;

/** What recording events needs of the API: create, and patch to count a repeat; event names cannot be granted. */
function eventsAccess(namespace: string): ApiAccess {
  return {
    resource: 'events',
    group: '',
    namespace,
    verbs: ['create', 'patch'],
    purpose: 'to record leadership events (--events=false turns them off)',
    meanwhile: 'the election is unaffected, events are skipped',
  };
}

export interface EventRecorderOptions {
  sink: EventSink;
  /** The object events are about; read when an event is made (the lock's uid may only be known after a write). */
  involvedObject: () => InvolvedObject;
  source: EventSource;
  log: Log;
  clock?: Clock;
  random?: () => number;
}

/**
 * Records Kubernetes Events as client-go's tools/record does: made at once, then written one at a time in the
 * background (25 ms after their change, or after the release, at the earliest) through the correlator (aggregation,
 * counting of repeats, spam filter), retried only while the API server cannot be reached. A missing RBAC right is
 * logged once; nothing here ever reaches the election.
 */
export class EventRecorder {
  readonly #sink: EventSink;
  readonly #involvedObject: () => InvolvedObject;
  readonly #source: EventSource;
  readonly #log: Log;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #correlator: EventCorrelator;

  /** Queued events, each with the monotonic time before which it is not written. */
  readonly #queue: Array<{ event: CoreEvent; notBeforeMs: number }> = [];
  /** When held writes were last let go (the release), monotonic: nothing is written within the delay after it. */
  #resumedAtMs = Number.NEGATIVE_INFINITY;
  #running: Promise<void> | undefined;
  #shuttingDown = false;
  readonly #sleeper: WakeableSleep;
  /** A refused right is logged once until an event is written again. */
  readonly #accessProblem = new OnceUntilSuccess();
  #unsubscribe: (() => void) | undefined;
  /** Set while writes are held (`hold`): resolves when they may go on. */
  #held: { until: Promise<void>; resume: () => void } | undefined;
  /** Counts by outcome, for tests and logs. */
  readonly stats = { created: 0, patched: 0, skipped: 0, dropped: 0, failed: 0 };

  constructor(options: EventRecorderOptions) {
    this.#sink = options.sink;
    this.#involvedObject = options.involvedObject;
    this.#source = options.source;
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
    this.#sleeper = new WakeableSleep(this.#clock);
    this.#random = options.random ?? Math.random;
    this.#correlator = new EventCorrelator(this.#clock);
  }

  /** client-go's leader-election events: `<id> became leader` and `<id> stopped leading`, type Normal, on the lock. */
  recordLeadership(election: LeadershipFeed): void {
    const { identity } = election.snapshot();
    this.#unsubscribe = election.subscribe((change) => {
      if (change.type === 'started') this.event('Normal', LEADER_ELECTION_REASON, `${identity} became leader`);
      else if (change.type === 'stopped') this.event('Normal', LEADER_ELECTION_REASON, `${identity} stopped leading`);
    });
  }

  /** Queues one event; never blocks and never throws. */
  event(type: CoreEvent['type'], reason: string, message: string): void {
    try {
      const object = this.#involvedObject();
      const at = this.#clock.date();
      const event: CoreEvent = {
        name: eventName(object.name, at),
        namespace: object.namespace,
        involvedObject: object,
        type,
        reason,
        message,
        source: this.#source,
        reportingComponent: this.#source.component,
        reportingInstance: this.#source.host ?? '',
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
      };
      if (this.#queue.length >= MAX_QUEUED) {
        this.stats.dropped += 1;
        this.#log.warn({ reason, message }, 'too many events queued: dropped one');
        return;
      }
      this.#queue.push({ event, notBeforeMs: this.#clock.now() + EVENT_WRITE_DELAY_MS });
      this.#running ??= this.#drain().finally(() => {
        this.#running = undefined;
      });
    } catch (error) {
      this.#log.error({ err: error }, 'could not make an event');
    }
  }

  /**
   * Holds writes until `resume()`; events are still made, and timed, at once. The lock's release is held clear of them:
   * a "stopped leading" write beside it competes for the CPU and the connection, and the release took 3–5 ms longer
   * on kube-apiserver (`npm run bench -- --real-api`).
   */
  hold(): void {
    if (this.#held) return;
    let resume = () => {};
    const until = new Promise<void>((resolve) => (resume = resolve));
    this.#held = { until, resume };
  }

  /** Lets held writes go on, in the order their events were made. */
  resume(): void {
    if (!this.#held) return;
    this.#resumedAtMs = this.#clock.now();
    this.#held.resume();
    this.#held = undefined;
  }

  /**
   * Stops listening and gives queued events until `timeoutMs` to be written, each tried once from now on
   * (client-go's Shutdown). Resolves true when the queue is empty.
   */
  async shutdown(timeoutMs: number): Promise<boolean> {
    this.#unsubscribe?.();
    this.#shuttingDown = true;
    this.resume();
    this.#sleeper.wake();
    if (!this.#running) return true;
    let timer: (() => void) | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = this.#clock.setTimer(timeoutMs, () => resolve(false));
    });
    const done = await Promise.race([this.#running.then(() => true as const), timedOut]);
    timer?.();
    return done;
  }

  async #drain(): Promise<void> {
    for (let queued = this.#queue.shift(); queued; queued = this.#queue.shift()) {
      const { event, notBeforeMs } = queued;
      await this.#untilDue(notBeforeMs);
      const correlated = this.#correlator.correlate(event);
      if (correlated.skip) {
        this.stats.skipped += 1;
        this.#log.debug({ reason: event.reason, message: event.message }, 'event dropped by the spam filter');
        continue;
      }
      await this.#write(correlated.event, correlated.patch);
    }
  }

  /** Waits while writes are held, and until `notBeforeMs` and the delay after the last release have passed. */
  async #untilDue(notBeforeMs: number): Promise<void> {
    for (;;) {
      while (this.#held) await this.#held.until;
      const waitMs = Math.max(notBeforeMs, this.#resumedAtMs + EVENT_WRITE_DELAY_MS) - this.#clock.now();
      if (waitMs <= 0) return;
      // Not the sleeper: a shutdown ends the retries' waits, not this one.
      await new Promise<void>((resolve) => this.#clock.setTimer(waitMs, resolve));
    }
  }

  async #write(event: CoreEvent, patch: Parameters<EventSink['patch']>[1] | undefined): Promise<void> {
    for (let tries = 1; ; tries++) {
      const outcome = await this.#attempt(event, patch);
      if (outcome === 'done') return;
      if (tries >= MAX_TRIES || this.#shuttingDown) {
        this.stats.failed += 1;
        this.#log.warn(
          { reason: event.reason, message: event.message, tries },
          'could not write an event; giving up on it',
        );
        return;
      }
      // The first wait is randomised so replicas do not all retry together after an API outage.
      await this.#sleep(tries === 1 ? RETRY_SLEEP_MS * this.#random() : RETRY_SLEEP_MS);
      if (this.#shuttingDown) {
        this.stats.failed += 1;
        this.#log.warn(
          { reason: event.reason, message: event.message, tries },
          'shutting down: could not write an event',
        );
        return;
      }
    }
  }

  /** One try: `done` when written or abandoned, `retry` when the API server could not be reached. */
  async #attempt(event: CoreEvent, patch: Parameters<EventSink['patch']>[1] | undefined): Promise<'done' | 'retry'> {
    let verb = 'create';
    try {
      let stored: CoreEvent | undefined;
      if (patch) {
        verb = 'patch';
        try {
          stored = await this.#sink.patch(event, patch);
          this.stats.patched += 1;
        } catch (error) {
          // The repeated event may have expired from the API (events live an hour): create it again.
          if (toKubeApiError('patch', error).kind !== 'not-found') throw error;
          verb = 'create';
        }
      }
      if (!stored) {
        stored = await this.#sink.create({ ...event, resourceVersion: undefined });
        this.stats.created += 1;
      }
      this.#correlator.updateState(stored);
      this.#accessProblem.succeeded();
      return 'done';
    } catch (error) {
      return this.#failed(toKubeApiError(verb, error), event);
    }
  }

  #failed(failure: KubeApiError, event: CoreEvent): 'done' | 'retry' {
    const fields = { reason: event.reason, message: event.message, status: failure.status };
    const hint = accessHint(failure, eventsAccess(event.namespace));
    if (hint) {
      this.stats.failed += 1;
      if (this.#accessProblem.first(hint)) this.#log.warn(fields, hint);
      else this.#log.debug(fields, 'event skipped: the API server refused access');
      return 'done';
    }
    switch (failure.kind) {
      case 'network':
      case 'server':
      case 'throttled':
        this.#log.debug({ ...fields, err: failure.message }, 'could not write an event; will retry');
        return 'retry';
      case 'conflict':
        this.#log.debug({ ...fields, err: failure.message }, 'the API server already has this event; not retrying');
        return 'done';
      default:
        // The server rejected this event (e.g. AlreadyExists, a terminating namespace): as client-go, do not retry.
        this.stats.failed += 1;
        this.#log.warn({ ...fields, err: failure.message }, 'the API server rejected an event; not retrying');
        return 'done';
    }
  }

  #sleep(ms: number): Promise<void> {
    return this.#shuttingDown ? Promise.resolve() : this.#sleeper.sleep(ms);
  }
}
