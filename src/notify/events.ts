import { createHash } from 'node:crypto';
import type { LockKind } from '../lock/types.ts';

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
