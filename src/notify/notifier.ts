import type { Hono } from 'hono';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { LeadershipChange, LeadershipSnapshot } from '../election/leadership.ts';
import type { LockKind } from '../lock/types.ts';
import {
  cursorAnnotation,
  formatPosition,
  formatTerm,
  indexOf,
  laterPosition,
  occurrenceOf,
  parsePosition,
  parseTerm,
  positionsAfter,
  slotOf,
  TERM_ANNOTATION,
  type Position,
} from './cursor.ts';
import { DeliveryLog } from './delivery-log.ts';
import { deliveriesApp } from './deliveries-app.ts';
import { eventId, type EventType, type NotifyEvent } from './events.ts';
import type { FileValue } from './file-value.ts';
import { FORMATTERS } from './formats/index.ts';
import { NotifyMetrics } from './metrics.ts';
import type { SecretFiles } from './signing.ts';
import { TargetQueue, type QueueItem, type SettledOutcome } from './target-queue.ts';
import type { Target } from './targets.ts';

/** What the notifier needs of the elector. */
export interface NotifierElection {
  readonly identity: string;
  readonly lock: { readonly kind: LockKind; readonly namespace: string; readonly name: string };
  subscribe(listener: (change: LeadershipChange) => void): () => void;
  snapshot(): LeadershipSnapshot;
  observedAnnotations(): Record<string, string>;
  setOwnAnnotations(annotations: Record<string, string>): void;
}

/** A target with its files opened (validated at startup). */
export interface ResolvedTarget {
  target: Target;
  secrets: SecretFiles;
  headerFiles: ReadonlyMap<string, FileValue<string>>;
  routingKey?: FileValue<string>;
}

export interface NotifierOptions {
  election: NotifierElection;
  targets: readonly ResolvedTarget[];
  log: Logger;
  registry: Registry;
}

/** How often a follower copies the lock's cursors into what it would write on acquiring. */
const MIRROR_INTERVAL_MS = 250;
/** A new leader re-sends the unconfirmed events of at most this many earlier terms. */
const MAX_RECOVERED_TERMS = 8;

interface Lane {
  resolved: ResolvedTarget;
  queue: TargetQueue<Position>;
  /** Ids this process has queued for the target, so a recovery never queues one twice. */
  queued: Set<string>;
  /** Leader scope: the last settled canonical position, as known here. */
  settled?: Position;
  /** A filtered-out position waiting for the events queued before it. */
  skipped?: Position;
}

/**
 * Turns the elector's leadership changes into deliveries: `self` and `all` targets get every change this replica
 * observes; `leader` targets get the election's canonical sequence (see cursor.ts) from the replica leading each term,
 * and a new leader first re-sends what the lock's cursor says its predecessors did not settle.
 */
export class Notifier {
  readonly #election: NotifierElection;
  readonly #log: Logger;
  readonly #lanes: Lane[];
  /** The lanes of `leader` targets, whose cursors ride on the lock. */
  readonly #leaderLanes: Lane[];
  readonly #deliveries = new DeliveryLog();
  readonly #metrics: NotifyMetrics;
  /** Holders of terms, from the changes observed here and the lock's term annotation. */
  readonly #holders = new Map<number, string>();
  /** How often each (type, term, subject) was seen here: the occurrence in the event id. */
  readonly #occurrences = new Map<string, number>();
  /** The term this replica leads (or last led, for its stop events). */
  #term: { term: number; occurrence: number } | undefined;
  #leading = false;
  readonly #inbox: LeadershipChange[] = [];
  #handling = false;
  #published = '';
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: NotifierOptions) {
    this.#election = options.election;
    this.#log = options.log.child({ component: 'notify' });
    this.#metrics = new NotifyMetrics(options.registry);
    this.#lanes = options.targets.map((resolved) => {
      const lane: Lane = {
        resolved,
        queued: new Set(),
        queue: new TargetQueue<Position>({
          target: resolved.target,
          log: this.#log,
          metrics: this.#metrics,
          deliveries: this.#deliveries,
          secrets: resolved.secrets,
          headerFiles: resolved.headerFiles,
          onSettled: (item, outcome, reason) => this.#onSettled(lane, item, outcome, reason),
        }),
      };
      this.#metrics.addTarget(resolved.target.name);
      return lane;
    });
    this.#leaderLanes = this.#lanes.filter((lane) => lane.resolved.target.scope === 'leader');
  }

  start(): void {
    if (this.#unsubscribe) return;
    this.#unsubscribe = this.#election.subscribe((change) => this.#onChange(change));
    if (this.#leaderLanes.length > 0) {
      this.#publish();
      this.#timer = setInterval(() => this.#publish(), MIRROR_INTERVAL_MS);
      this.#timer.unref();
    }
  }

  /** The `/deliveries` sub-app over this notifier's queues and delivery log (see `deliveriesApp`). */
  deliveriesApp(): Hono {
    return deliveriesApp(
      this.#lanes.map((lane) => lane.queue),
      this.#deliveries,
    );
  }

  /**
   * Waits up to `timeoutMs` for every queue to empty (the final `leadership.stopped` included), then gives up on what
   * is left. Returns how many events were left undelivered.
   */
  async drain(timeoutMs: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const done = Promise.all(this.#lanes.map((lane) => lane.queue.idle())).then(() => 'done' as const);
    const result = await Promise.race([done, timedOut]);
    clearTimeout(timer);
    let left = 0;
    if (result === 'timeout') {
      for (const lane of this.#lanes) {
        left += lane.queue.depth;
        if (lane.queue.depth) lane.queue.abandon();
      }
      this.#log.warn({ left, drainTimeoutMs: timeoutMs }, 'drain timeout: giving up on undelivered events');
      // Let the abandoned retry loops record their outcome.
      await Promise.race([Promise.all(this.#lanes.map((lane) => lane.queue.idle())), new Promise((resolve) => setTimeout(resolve, 100))]);
    }
    this.stop();
    return left;
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearInterval(this.#timer);
  }

  /**
   * Changes are handled one at a time, in order: the elector can report a change from inside `snapshot()`, which this
   * handler calls (annotations), and a nested change must not overtake the one being handled.
   */
  #onChange(change: LeadershipChange): void {
    this.#inbox.push(change);
    if (this.#handling) return;
    this.#handling = true;
    try {
      for (let next = this.#inbox.shift(); next; next = this.#inbox.shift()) this.#handle(next);
    } finally {
      this.#handling = false;
    }
  }

  #handle(change: LeadershipChange): void {
    const { identity } = this.#election;
    const changedAt = performance.now();
    if (change.type === 'leader-changed' && change.leader) this.#holders.set(change.transitions, change.leader);

    let event: NotifyEvent;
    if (change.type === 'started') {
      const occurrence = this.#count('leadership.started', change.transitions, identity);
      this.#term = { term: change.transitions, occurrence };
      this.#leading = true;
      this.#holders.set(change.transitions, identity);
      event = this.#event('leadership.started', change.transitions, identity, occurrence, { leader: identity, previousLeader: change.previousLeader, isLeader: true }, change.at);
    } else if (change.type === 'stopped') {
      // The term that ended, even when the change was observed on the successor's record (`lost`).
      const term = this.#term?.term ?? change.transitions;
      const occurrence = this.#count('leadership.stopped', term, identity);
      event = this.#event(
        'leadership.stopped',
        term,
        identity,
        occurrence,
        { leader: change.leader, previousLeader: identity, isLeader: false, ...(change.reason ? { reason: change.reason } : {}) },
        change.at,
      );
    } else {
      const occurrence = this.#count('leader.changed', change.transitions, change.leader);
      event = this.#event('leader.changed', change.transitions, change.leader, occurrence, { leader: change.leader, previousLeader: change.previousLeader, isLeader: change.isLeader }, change.at);
    }

    for (const lane of this.#lanes) {
      if (lane.resolved.target.scope !== 'leader') this.#enqueue(lane, event, changedAt);
    }
    if (change.type === 'started') this.#startTerm(change, event, changedAt);
    if (change.type === 'stopped') this.#endTerm(change, event, changedAt);
    this.#publish();
  }

  /** Leader scope, on taking the lock: first what predecessors left unsettled, then this term's start. */
  #startTerm(change: LeadershipChange, started: NotifyEvent, changedAt: number): void {
    const { term, occurrence } = this.#term as { term: number; occurrence: number };
    const observed = this.#election.observedAnnotations();
    const announced = parseTerm(observed[TERM_ANNOTATION]);
    if (announced && !this.#holders.has(announced.term)) this.#holders.set(announced.term, announced.holder);
    const changedIn = this.#event('leader.changed', term, this.#election.identity, this.#peek('leader.changed', term, this.#election.identity), {
      leader: this.#election.identity,
      previousLeader: change.previousLeader,
      isLeader: true,
    }, change.at);
    for (const lane of this.#leaderLanes) {
      const cursor = laterPosition(parsePosition(observed[cursorAnnotation(lane.resolved.target.cursorKey)]), lane.settled);
      if (cursor && cursor.term <= term) this.#recover(lane, cursor, term, occurrence, changedAt);
      this.#enqueue(lane, started, changedAt, { term, index: indexOf('started', occurrence) });
      this.#enqueue(lane, changedIn, changedAt, { term, index: indexOf('changed-in', occurrence) });
    }
  }

  /** Leader scope, on stepping down: this term's end. */
  #endTerm(change: LeadershipChange, stopped: NotifyEvent, changedAt: number): void {
    this.#leading = false;
    const current = this.#term;
    if (!current) return;
    const { term, occurrence } = current;
    const identity = this.#election.identity;
    const changedOut = this.#event('leader.changed', term, '', this.#peek('leader.changed', term, ''), { leader: '', previousLeader: identity, isLeader: false }, change.at);
    for (const lane of this.#leaderLanes) {
      this.#enqueue(lane, stopped, changedAt, { term, index: indexOf('stopped', occurrence) });
      this.#enqueue(lane, changedOut, changedAt, { term, index: indexOf('changed-out', occurrence) });
    }
  }

  /** Re-sends the canonical events after `cursor` of the terms before this one (and of earlier runs of this term). */
  #recover(lane: Lane, cursor: Position, term: number, occurrence: number, changedAt: number): void {
    // Whole earlier terms (none when the cursor is in this term), then this term's positions before its own start.
    const positions = positionsAfter(cursor, term, MAX_RECOVERED_TERMS);
    const firstOwn = indexOf('started', occurrence);
    const start = cursor.term === term ? cursor.index + 1 : 1;
    for (let index = start; index < firstOwn; index++) positions.push({ term, index });
    if (term - cursor.term > MAX_RECOVERED_TERMS) {
      this.#log.warn({ target: lane.resolved.target.name, cursor: formatPosition(cursor), term }, 'the delivery cursor is too far behind; older terms are not re-sent');
    }
    const unknown = new Set<number>();
    for (const position of positions) {
      const holder = this.#holders.get(position.term);
      if (!holder) {
        unknown.add(position.term);
        continue;
      }
      const event = this.#canonical(position, holder);
      if (lane.queued.has(event.id)) continue;
      this.#enqueue(lane, event, changedAt, position, true);
    }
    if (unknown.size) {
      this.#log.warn({ target: lane.resolved.target.name, terms: [...unknown] }, 'cannot re-send the events of terms whose holder was never observed here');
    }
    if (positions.length) this.#log.info({ target: lane.resolved.target.name, from: formatPosition(cursor), count: positions.length - unknown.size }, 're-sending events a previous leader did not confirm');
  }

  /** A canonical leader-scope event rebuilt by a successor: the same id as the original, sent by this replica. */
  #canonical(position: Position, holder: string): NotifyEvent {
    const occurrence = occurrenceOf(position.index);
    const now = new Date();
    const previous = this.#holders.get(position.term - 1) ?? '';
    switch (slotOf(position.index)) {
      case 'started':
        return this.#event('leadership.started', position.term, holder, occurrence, { leader: holder, previousLeader: previous, isLeader: true }, now);
      case 'changed-in':
        return this.#event('leader.changed', position.term, holder, occurrence, { leader: holder, previousLeader: previous, isLeader: true }, now);
      case 'stopped':
        return this.#event('leadership.stopped', position.term, holder, occurrence, { leader: '', previousLeader: holder, isLeader: true }, now);
      case 'changed-out':
        return this.#event('leader.changed', position.term, '', occurrence, { leader: '', previousLeader: holder, isLeader: true }, now);
    }
  }

  #event(
    type: EventType,
    term: number,
    subject: string,
    occurrence: number,
    fields: { leader: string; previousLeader: string; isLeader: boolean; reason?: string },
    time: Date,
  ): NotifyEvent {
    const { kind, namespace, name } = this.#election.lock;
    return {
      id: eventId({ namespace, election: name, transitions: term, type, subject, occurrence }),
      type,
      subject,
      time,
      data: {
        election: name,
        namespace,
        lock: kind,
        leader: fields.leader,
        previousLeader: fields.previousLeader,
        transitions: term,
        observer: this.#election.identity,
        isLeader: fields.isLeader,
        ...(fields.reason ? { reason: fields.reason } : {}),
      },
    };
  }

  #count(type: EventType, term: number, subject: string): number {
    const key = `${type}\n${term}\n${subject}`;
    const count = (this.#occurrences.get(key) ?? 0) + 1;
    this.#occurrences.set(key, count);
    if (this.#occurrences.size > 1000) this.#occurrences.delete(this.#occurrences.keys().next().value as string);
    return count;
  }

  /** The occurrence the next such change will get (the elector reports it right after). */
  #peek(type: EventType, term: number, subject: string): number {
    return (this.#occurrences.get(`${type}\n${term}\n${subject}`) ?? 0) + 1;
  }

  #enqueue(lane: Lane, event: NotifyEvent, changedAt: number, position?: Position, recovered = false): void {
    const { target, routingKey } = lane.resolved;
    const skip = !target.events.has(event.type);
    const rendered = skip ? null : FORMATTERS[target.format](event, { target, ...(routingKey ? { routingKey: () => routingKey.value() } : {}) });
    if (!rendered) {
      // Nothing to send for this event; it counts as settled once everything queued before it is.
      if (position) {
        if (lane.queue.depth === 0) this.#advance(lane, position);
        else lane.skipped = laterPosition(lane.skipped, position);
      }
      return;
    }
    lane.queued.add(event.id);
    if (lane.queued.size > 1000) lane.queued.delete(lane.queued.values().next().value as string);
    const item: QueueItem<Position> = { event, rendered, changedAt, ...(position ? { position } : {}), ...(recovered ? { recovered } : {}) };
    lane.queue.enqueue(item);
  }

  #onSettled(lane: Lane, item: QueueItem<Position>, outcome: SettledOutcome, reason: string | undefined): void {
    if (!item.position) return;
    // A disabled target, or an event abandoned at shutdown, keeps its cursor: a successor tries again.
    if (outcome === 'disabled' || reason === 'shutdown') return;
    this.#advance(lane, item.position);
    if (lane.skipped && lane.queue.depth === 0) {
      this.#advance(lane, lane.skipped);
      lane.skipped = undefined;
    }
    this.#publish();
  }

  /** Where a target without a cursor starts: the lock's current term, or before the first one for a lock never held. */
  #seedPosition(): Position {
    const snapshot = this.#election.snapshot();
    return { term: snapshot.acquireTime || snapshot.renewTime || snapshot.leader ? snapshot.transitions : -1, index: 4 };
  }

  #advance(lane: Lane, position: Position): void {
    lane.settled = laterPosition(lane.settled, position);
  }

  /**
   * The annotations this replica writes with its next lock write: the lock's leaderhook annotations as observed, with
   * each leader target's cursor moved forward to what was settled here, and this replica's term while it leads. A
   * follower keeps them current too, so the write by which it takes the lock carries its predecessor's cursors forward.
   */
  #publish(): void {
    if (this.#leaderLanes.length === 0) return;
    const observed = this.#election.observedAnnotations();
    const own: Record<string, string> = { ...observed };
    for (const lane of this.#leaderLanes) {
      const key = cursorAnnotation(lane.resolved.target.cursorKey);
      // No cursor yet: nothing before the lock's current term is owed to this target.
      const cursor = laterPosition(parsePosition(observed[key]), lane.settled) ?? this.#seedPosition();
      own[key] = formatPosition(cursor);
    }
    if (this.#leading && this.#term) own[TERM_ANNOTATION] = formatTerm(this.#term.term, this.#election.identity);
    const text = JSON.stringify(own);
    if (text === this.#published) return;
    this.#published = text;
    this.#election.setOwnAnnotations(own);
  }
}
