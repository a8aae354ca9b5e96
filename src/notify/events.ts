import { createHash } from 'node:crypto';
import type { LockKind } from '../lock/types.ts';
import { occurrenceOf, slotOf, type Position } from './cursor.ts';

/** The three event types, as sent in the body's `type` (and as the CloudEvents type after `io.leaderhook.`). */
export const EVENT_TYPES = ['leadership.started', 'leadership.stopped', 'leader.changed'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface EventData {
  election: string;
  namespace: string;
  lock: LockKind;
  /** The election's leader after the change; `''` when there is none. */
  leader: string;
  previousLeader: string;
  /** The lease's transition count (`leaseTransitions`) of the leadership term the event belongs to. */
  transitions: number;
  /** The replica that sends the event. */
  observer: string;
  /** Whether the observer leads when it sends the event. */
  isLeader: boolean;
  /** `leadership.stopped` only, when known: lost | renew-deadline | released | shutdown. */
  reason?: string;
}

export interface NotifyEvent {
  /** Stable: the same for the same transition whichever replica sends it and on every retry (see `eventId`). */
  id: string;
  type: EventType;
  /** Who the change is about (see `EventIdParts.subject`); the CloudEvents `subject`. */
  subject: string;
  time: Date;
  data: EventData;
}

export interface EventIdParts {
  namespace: string;
  election: string;
  transitions: number;
  type: EventType;
  /**
   * Who the transition is about: for `leader.changed` the new leader (`''` for "no leader"), for
   * `leadership.started`/`leadership.stopped` the replica that started or stopped leading.
   */
  subject: string;
  /** 1 for the first such event in a term; a replica that steps down and takes its own lock again counts on. */
  occurrence?: number;
}

/**
 * The event id recipe (version 1):
 *   `lh1_` + base64url(SHA-256(`leaderhook/v1` LF namespace LF election LF transitions LF type LF subject [LF occurrence]))[0..27]
 * with `occurrence` only when above 1. Nothing in it depends on the sender, the attempt or the clock, so every replica
 * and every retry computes the same id; it contains no `.`, as Standard Webhooks requires of `webhook-id`.
 * Two `leader.changed` events of one term (to X, then to "" when X goes) differ by their subject.
 */
export function eventId(parts: EventIdParts): string {
  const fields = ['leaderhook/v1', parts.namespace, parts.election, String(parts.transitions), parts.type, parts.subject];
  if ((parts.occurrence ?? 1) > 1) fields.push(String(parts.occurrence));
  return `lh1_${createHash('sha256').update(fields.join('\n')).digest('base64url').slice(0, 27)}`;
}

/** The default JSON body: `{"type","timestamp","data"}`, the payload shape Standard Webhooks recommends. */
export function jsonPayload(event: NotifyEvent): { type: EventType; timestamp: string; data: EventData } {
  return { type: event.type, timestamp: event.time.toISOString(), data: event.data };
}

/** The election an event is about, and the replica that sends it (the `observer`). */
export interface EventOrigin {
  readonly identity: string;
  readonly lock: { readonly kind: LockKind; readonly namespace: string; readonly name: string };
}

/** What an event's data says of the change, besides its election, term and observer. */
export interface EventFields {
  leader: string;
  previousLeader: string;
  isLeader: boolean;
  reason?: string;
}

/** Which event: its type, its term (`transitions`), who it is about and which occurrence of that (1, 2, …). */
export interface EventKey {
  type: EventType;
  term: number;
  subject: string;
  occurrence: number;
}

/** An event with its id (`eventId`) and JSON data, as `origin` sends it. */
export function buildEvent(origin: EventOrigin, key: EventKey, fields: EventFields, time: Date): NotifyEvent {
  const { kind, namespace, name } = origin.lock;
  const { type, term, subject, occurrence } = key;
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
      observer: origin.identity,
      isLeader: fields.isLeader,
      ...(fields.reason ? { reason: fields.reason } : {}),
    },
  };
}

/**
 * A canonical leader-scope event rebuilt by a successor of `holder` (it leads now: `isLeader` is true): the type and
 * subject its slot holds, the occurrence its index, so the same id as the original; `previousHolder` held the term
 * before (`''` when unknown).
 */
export function recoveredEvent(
  origin: EventOrigin,
  position: Position,
  holder: string,
  previousHolder: string,
): NotifyEvent {
  const occurrence = occurrenceOf(position.index);
  const now = new Date();
  const { term } = position;
  const arriving = { leader: holder, previousLeader: previousHolder, isLeader: true };
  const leaving = { leader: '', previousLeader: holder, isLeader: true };
  switch (slotOf(position.index)) {
    case 'started':
      return buildEvent(origin, { type: 'leadership.started', term, subject: holder, occurrence }, arriving, now);
    case 'changed-in':
      return buildEvent(origin, { type: 'leader.changed', term, subject: holder, occurrence }, arriving, now);
    case 'stopped':
      return buildEvent(origin, { type: 'leadership.stopped', term, subject: holder, occurrence }, leaving, now);
    case 'changed-out':
      return buildEvent(origin, { type: 'leader.changed', term, subject: '', occurrence }, leaving, now);
  }
}

/** How many (type, term, subject) keys the counter remembers; the oldest is forgotten first. */
const COUNTED_KEYS = 1000;

/** How often each (type, term, subject) was seen here: the occurrence in an event id. */
export class OccurrenceCounter {
  readonly #counts = new Map<string, number>();

  /** Counts one more and returns the count (1 the first time). */
  next(type: EventType, term: number, subject: string): number {
    const key = `${type}\n${term}\n${subject}`;
    const count = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.set(key, count);
    if (this.#counts.size > COUNTED_KEYS) this.#counts.delete(this.#counts.keys().next().value as string);
    return count;
  }

  /** The occurrence the next such change will get (the elector reports it right after). */
  peek(type: EventType, term: number, subject: string): number {
    return (this.#counts.get(`${type}\n${term}\n${subject}`) ?? 0) + 1;
  }
}
