import type { LeadershipChange, LeadershipSnapshot } from '../election/leadership.ts';
import type { Log } from '../log/logger.ts';
import {
  cursorAnnotation,
  formatPosition,
  formatTerm,
  indexOf,
  laterPosition,
  parsePosition,
  parseTerm,
  positionsAfter,
  TERM_ANNOTATION,
  type Position,
  type Slot,
} from './cursor.ts';

/** A new leader re-sends the unconfirmed events of at most this many earlier terms. */
const MAX_RECOVERED_TERMS = 8;
/** How many terms' holders and runs are remembered, the oldest forgotten first (recovery needs the last few). */
const REMEMBERED_TERMS = 1000;

/**
 * A term this replica leads: `term` is the lease's transition count, `run` counts the times this replica took the
 * lock in that term (1, then 2 when it steps down and takes its own lock again without the count changing, …). The
 * run's four canonical events are at indexes `4 * (run - 1) + 1 … 4 * run` of the term (see cursor.ts).
 */
export interface LedTerm {
  readonly term: number;
  readonly run: number;
}

/** A canonical event a new leader re-sends: its position, the holder of its term and of the term before (`''`). */
export interface UnsettledEvent {
  readonly position: Position;
  readonly holder: string;
  readonly previousHolder: string;
}

/**
 * One `leader` target's delivery cursor as known here: the last canonical position settled for it (delivered, given
 * up, or with nothing to send), published on the lock as `leaderhook.io/cursor.<cursorKey>`.
 */
export class TargetCursor {
  /** The target's name, for logs. */
  readonly target: string;
  /** The lock annotation that carries the cursor. */
  readonly annotation: string;
  #settled: Position | undefined;
  /** A position with nothing to send, waiting for the events queued before it. */
  #skipped: Position | undefined;

  constructor(target: string, cursorKey: string) {
    this.target = target;
    this.annotation = cursorAnnotation(cursorKey);
  }

  /** The later of what the lock says (`observed`) and what was settled here; `undefined` when neither knows. */
  current(observed: Readonly<Record<string, string>>): Position | undefined {
    return laterPosition(parsePosition(observed[this.annotation]), this.#settled);
  }

  /** `position` was delivered or given up; `queueEmpty`: nothing is left before a skipped position either. */
  settle(position: Position, queueEmpty: boolean): void {
    this.#settled = laterPosition(this.#settled, position);
    if (this.#skipped && queueEmpty) {
      this.#settled = laterPosition(this.#settled, this.#skipped);
      this.#skipped = undefined;
    }
  }

  /** Nothing is sent for `position` (the target's format or event filter skips it): it settles with the queue. */
  skip(position: Position, queueEmpty: boolean): void {
    if (queueEmpty) this.#settled = laterPosition(this.#settled, position);
    else this.#skipped = laterPosition(this.#skipped, position);
  }
}

/**
 * The leader-scope ledger: where the election's canonical event sequence stands (see cursor.ts for the sequence and
 * the annotations). It knows the holders of terms (from the changes observed here and the lock's term annotation),
 * the term this replica leads, each `leader` target's cursor, what a new leader owes its predecessors, and the
 * annotations this replica writes with its next lock write.
 */
export class LeaderLedger {
  readonly #identity: string;
  readonly #log: Log;
  readonly #cursors: TargetCursor[] = [];
  /** Holders of terms, from the changes observed here and the lock's term annotation. */
  readonly #holders = new Map<number, string>();
  /** How many times this replica took the lock in each term. */
  readonly #runs = new Map<number, number>();
  /** The term this replica leads (or last led, for its stop events). */
  #led: LedTerm | undefined;
  #leading = false;

  constructor(identity: string, log: Log) {
    this.#identity = identity;
    this.#log = log;
  }

  /** A cursor for one `leader` target; `cursorKey` names its annotation. */
  track(target: string, cursorKey: string): TargetCursor {
    const cursor = new TargetCursor(target, cursorKey);
    this.#cursors.push(cursor);
    return cursor;
  }

  /** Whether any `leader` target is tracked: without one, the ledger writes nothing on the lock. */
  get tracking(): boolean {
    return this.#cursors.length > 0;
  }

  /** Learns the holder of a term from a leader change observed here. */
  observe(change: LeadershipChange): void {
    if (change.type === 'leader-changed' && change.leader) remember(this.#holders, change.transitions, change.leader);
  }

  /**
   * This replica took the lock in `term` (the lease's transition count): returns the run it leads, the next after
   * the runs of that term this replica led before. `observed` holds the lock's annotations as read before, whose
   * term annotation names the holder of the term before when it was never observed here.
   */
  start(term: number, observed: Readonly<Record<string, string>>): LedTerm {
    const run = (this.#runs.get(term) ?? 0) + 1;
    remember(this.#runs, term, run);
    this.#led = { term, run };
    this.#leading = true;
    remember(this.#holders, term, this.#identity);
    const announced = parseTerm(observed[TERM_ANNOTATION]);
    if (announced && !this.#holders.has(announced.term)) remember(this.#holders, announced.term, announced.holder);
    return this.#led;
  }

  /** This replica stopped leading; returns the run it led, `undefined` when no start was seen here. */
  stop(): LedTerm | undefined {
    this.#leading = false;
    return this.#led;
  }

  /** Where `slot` of the run `led` sits in the canonical sequence. */
  positionOf(led: LedTerm, slot: Slot): Position {
    return { term: led.term, index: indexOf(slot, led.run) };
  }

  /**
   * The canonical events `cursor` has not settled before this replica's run `led` began, oldest first: the rest of
   * the cursor's term, whole later terms, then the earlier runs of `led.term`; at most `MAX_RECOVERED_TERMS` earlier
   * terms. Events of a term whose holder is unknown here are left out. Logs (warn) each limit hit and (info) what
   * is re-sent.
   */
  unsettled(cursor: TargetCursor, led: LedTerm, observed: Readonly<Record<string, string>>): UnsettledEvent[] {
    const from = cursor.current(observed);
    if (!from || from.term > led.term) return [];
    const { term } = led;
    // Whole earlier terms (none when the cursor is in this term), then this term's positions before its own start.
    const positions = positionsAfter(from, term, MAX_RECOVERED_TERMS);
    const firstOwn = indexOf('started', led.run);
    const start = from.term === term ? from.index + 1 : 1;
    for (let index = start; index < firstOwn; index++) positions.push({ term, index });
    if (term - from.term > MAX_RECOVERED_TERMS) {
      this.#log.warn(
        { target: cursor.target, cursor: formatPosition(from), term },
        'the delivery cursor is too far behind; older terms are not re-sent',
      );
    }
    const unknown = new Set<number>();
    const events: UnsettledEvent[] = [];
    for (const position of positions) {
      const holder = this.#holders.get(position.term);
      if (holder) events.push({ position, holder, previousHolder: this.#holders.get(position.term - 1) ?? '' });
      else unknown.add(position.term);
    }
    if (unknown.size) {
      this.#log.warn(
        { target: cursor.target, terms: [...unknown] },
        'cannot re-send the events of terms whose holder was never observed here',
      );
    }
    if (positions.length) {
      this.#log.info(
        { target: cursor.target, from: formatPosition(from), count: events.length },
        're-sending events a previous leader did not confirm',
      );
    }
    return events;
  }

  /**
   * The annotations this replica writes with its next lock write: the lock's leaderhook annotations as observed,
   * with each tracked cursor moved forward to what was settled here, and this replica's term while it leads. A
   * follower keeps them current too, so the write by which it takes the lock carries its predecessor's cursors
   * forward. `snapshot` seeds a cursor the lock does not carry yet.
   */
  annotations(observed: Readonly<Record<string, string>>, snapshot: () => LeadershipSnapshot): Record<string, string> {
    const own: Record<string, string> = { ...observed };
    for (const cursor of this.#cursors) {
      // No cursor yet: nothing before the lock's current term is owed to this target.
      own[cursor.annotation] = formatPosition(cursor.current(observed) ?? seedPosition(snapshot()));
    }
    if (this.#leading && this.#led) own[TERM_ANNOTATION] = formatTerm(this.#led.term, this.#identity);
    return own;
  }
}

/** Sets `key` in a map that keeps at most `REMEMBERED_TERMS` keys, forgetting the oldest first. */
function remember<V>(map: Map<number, V>, key: number, value: V): void {
  map.set(key, value);
  if (map.size > REMEMBERED_TERMS) map.delete(map.keys().next().value as number);
}

/** Where a target without a cursor starts: the lock's current term, or before the first one for a lock never held. */
function seedPosition(snapshot: LeadershipSnapshot): Position {
  return { term: snapshot.acquireTime || snapshot.renewTime || snapshot.leader ? snapshot.transitions : -1, index: 4 };
}
