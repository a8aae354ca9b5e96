import type { LockKind } from '../lock/types.ts';

/**
 * One leadership change, as every consumer (HTTP, metrics, notifier) receives it.
 * - `started`: this replica became leader;
 * - `stopped`: this replica stopped leading (lost the lock, released it, or could not renew in time);
 * - `leader-changed`: the election's leader changed as seen here, including to no leader (`leader` is `''`).
 */
export type LeadershipChangeType = 'started' | 'stopped' | 'leader-changed';

export type StopReason =
  | 'lost' // another replica holds the lock
  | 'renew-deadline' // no successful renew within the renew deadline (API down, or this process was paused)
  | 'released' // clean shutdown: the lock was handed back
  | 'shutdown'; // shutdown without a confirmed release

export interface LeadershipChange {
  type: LeadershipChangeType;
  leader: string;
  previousLeader: string;
  isLeader: boolean;
  /** `leaseTransitions` of the lock record the change was observed on. */
  transitions: number;
  reason?: StopReason;
  at: Date;
}

/** The election's state as this replica knows it now. */
export interface LeadershipSnapshot {
  election: string;
  namespace: string;
  lock: LockKind;
  identity: string;
  leader: string;
  isLeader: boolean;
  transitions: number;
  acquireTime: Date | null;
  renewTime: Date | null;
  /** Wall-clock time at which the current record was first observed here. */
  observedAt: Date | null;
  /** The lock has been read at least once. */
  ready: boolean;
}

export type Listener<T> = (value: T) => void;

/**
 * A minimal typed fan-out: listeners run synchronously, in subscription order, and one throwing never stops the rest.
 * A value emitted from inside a listener is delivered after the current one has reached every listener, so all
 * listeners see the same order.
 */
export class Fanout<T> {
  readonly #listeners = new Set<Listener<T>>();
  readonly #onError: (error: unknown) => void;
  readonly #pending: T[] = [];
  #emitting = false;

  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  subscribe(listener: Listener<T>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(value: T): void {
    this.#pending.push(value);
    if (this.#emitting) return;
    this.#emitting = true;
    try {
      for (let next = this.#pending.shift(); next !== undefined; next = this.#pending.shift()) {
        for (const listener of this.#listeners) {
          try {
            listener(next);
          } catch (error) {
            this.#onError(error);
          }
        }
      }
    } finally {
      this.#emitting = false;
    }
  }
}
