import { createHash } from 'node:crypto';
import type { LockKind } from '../lock/types.ts';
import { occurrenceOf, slotOf, type PlacedPosition } from './cursor.ts';

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
  /** `leadership.stopped` only, when known: lost | renew-deadline | shutdown | candidate-unhealthy. */
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
  /**
   * `leader.changed` as this replica observed it: when it first saw the election without a leader, for the outage
   * this change starts, continues or ends (absent when it saw none, e.g. a direct handover or a start with a leader).
   * Alertmanager's `startsAt`, so every replica's alert for one outage overlaps.
   */
  noLeaderSince?: Date;
}

export interface EventIdParts {
  namespace: string;
  election: string;
  /** The lock object's uid (`metadata.uid`): its transition count restarts at 0 when the lock is recreated. */
  lockUid: string;
  transitions: number;
  type: EventType;
  /**
   * Who the transition is about: for `leader.changed` the new leader (`''` for "no leader"), for
   * `leadership.started`/`leadership.stopped` the replica that started or stopped leading.
   */
  subject: string;
  /**
   * 1 for the first such event in a term: a replica that steps down and takes its own lock again counts its
   * `leadership.started`/`stopped` on; an observer that sees the leader change to the same value again in one term
   * counts that `leader.changed` on.
   */
  occurrence?: number;
}

/**
 * The event id recipe (version 2):
 *   `lh2_` + base64url(SHA-256(`leaderhook/v2` LF namespace LF election LF lockUid LF transitions LF type LF subject
 *                              [LF occurrence]))[0..27]
 * with `occurrence` only when above 1. The lock object's uid names the term unambiguously when the lock is deleted and
 * recreated (its transition count starts at 0 again). Nothing in it depends on the sender, the attempt or the clock,
 * so every replica and every retry computes the same id; it contains no `.`, as Standard Webhooks requires of
 * `webhook-id`. Two `leader.changed` events of one term (to X, then to "" when X goes) differ by their subject.
 * Version 1 (`lh1_`, without the uid) could give two transitions one id across a recreated lock.
 */
export function eventId(parts: EventIdParts): string {
  const fields = [
    'leaderhook/v2',
    parts.namespace,
    parts.election,
    parts.lockUid,
    String(parts.transitions),
    parts.type,
    parts.subject,
  ];
  if ((parts.occurrence ?? 1) > 1) fields.push(String(parts.occurrence));
  return `lh2_${createHash('sha256').update(fields.join('\n')).digest('base64url').slice(0, 27)}`;
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

/**
 * Which event: its type, its term (`transitions` of the lock object `lockUid`), who it is about and which occurrence
 * of that (1, 2, …).
 */
export interface EventKey {
  type: EventType;
  lockUid: string;
  term: number;
  subject: string;
  occurrence: number;
}

/** An event with its id (`eventId`) and JSON data, as `origin` sends it. */
export function buildEvent(origin: EventOrigin, key: EventKey, fields: EventFields, time: Date): NotifyEvent {
  const { kind, namespace, name } = origin.lock;
  const { type, lockUid, term, subject, occurrence } = key;
  return {
    id: eventId({ namespace, election: name, lockUid, transitions: term, type, subject, occurrence }),
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
 * The event at `position` of the election's canonical sequence (see cursor.ts), in a term held by `holder`: its type
 * and subject are those of the position's slot (`leader.changed` to `''` in the fourth). The occurrence of
 * `leadership.started`/`stopped` is the run the index falls in (`ceil(index / 4)`); that of `leader.changed` is 1: the
 * election's leader changes to the holder once in its term and to `''` at most once, at the term's end (a holder that
 * steps down and takes its own still-valid record back never reported `''`), so the id is the one every observer
 * computes for that change. Whoever builds it, the term's leader or a successor re-sending it, and whatever order the
 * changes were observed in, the id is the same.
 */
export function eventAt(
  origin: EventOrigin,
  position: PlacedPosition,
  holder: string,
  fields: EventFields,
  time: Date,
): NotifyEvent {
  const { term, index, lockUid } = position;
  const slot = slotOf(index);
  const type: EventType =
    slot === 'started' ? 'leadership.started' : slot === 'stopped' ? 'leadership.stopped' : 'leader.changed';
  const occurrence = type === 'leader.changed' ? 1 : occurrenceOf(index);
  const subject = slot === 'changed-out' ? '' : holder;
  return buildEvent(origin, { type, lockUid, term, subject, occurrence }, fields, time);
}

/**
 * A canonical event rebuilt by a successor of `holder` for a position its cursor had not settled (see `eventAt`): it
 * leads now (`isLeader` true); `previousHolder` held the term before (`''` when unknown).
 */
export function recoveredEvent(
  origin: EventOrigin,
  position: PlacedPosition,
  holder: string,
  previousHolder: string,
): NotifyEvent {
  const slot = slotOf(position.index);
  const arriving = slot === 'started' || slot === 'changed-in';
  const fields = arriving
    ? { leader: holder, previousLeader: previousHolder, isLeader: true }
    : { leader: '', previousLeader: holder, isLeader: true };
  return eventAt(origin, position, holder, fields, new Date());
}

/** How many (type, lock object, term, subject) keys the counter remembers; the oldest is forgotten first. */
const COUNTED_KEYS = 1000;

/**
 * How often each (type, lock object, term, subject) was seen here: the occurrence in the id of an event observed here
 * that has no canonical position to derive it from: `leader.changed` as observed here, for `self` and `all` targets.
 */
export class OccurrenceCounter {
  readonly #counts = new Map<string, number>();

  /** Counts one more and returns the count (1 the first time). */
  next(type: EventType, lockUid: string, term: number, subject: string): number {
    const key = `${type}\n${lockUid}\n${term}\n${subject}`;
    const count = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.set(key, count);
    if (this.#counts.size > COUNTED_KEYS) this.#counts.delete(this.#counts.keys().next().value as string);
    return count;
  }
}
