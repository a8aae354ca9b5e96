import type { EventType } from './events.ts';
import type { FailureReason } from './delivery.ts';

type DeliveryStatus = 'queued' | 'sending' | 'retrying' | 'delivered' | 'given-up' | 'superseded' | 'disabled';

/** One event for one target, as `GET /deliveries` lists it. Holds no URL, header or body. */
export interface DeliveryRecord {
  target: string;
  id: string;
  type: EventType;
  transitions: number;
  leader: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode?: number;
  lastError?: FailureReason;
  /** Why it was given up: retries-exhausted | permanent | disabled | shutdown. */
  givenUpReason?: string;
  /** Re-sent by a new leader for a predecessor that did not confirm it. */
  recovered?: boolean;
  queuedAt: string;
  finishedAt?: string;
  /** From the change to the successful delivery. */
  latencyMs?: number;
}

/** How many deliveries the log keeps. */
const LIMIT = 200;

/** The last deliveries, newest last; records are updated in place as they progress. */
export class DeliveryLog {
  readonly #records: DeliveryRecord[] = [];

  add(record: DeliveryRecord): DeliveryRecord {
    this.#records.push(record);
    if (this.#records.length > LIMIT) this.#records.shift();
    return record;
  }

  /** Newest first. */
  list(): DeliveryRecord[] {
    return this.#records.map((record) => ({ ...record })).reverse();
  }
}
