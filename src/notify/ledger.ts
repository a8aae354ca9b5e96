import type { LeadershipChange } from '../election/leadership.ts';
import type { LeaderElectionRecord, LockObservation } from '../lock/types.ts';
import type { Log } from '../log/logger.ts';
import {
  annotationsOf,
  cursorAnnotation,
  formatPosition,
  formatTerm,
  indexOf,
  laterPosition,
  OBJECT_ANNOTATION,
  parsePosition,
  parseTerm,
  positionsAfter,
  TERM_ANNOTATION,
  type PlacedPosition,
  type Position,
  type Slot,
} from './cursor.ts';

/** A new leader re-sends the unconfirmed events of at most this many earlier terms. */
const MAX_RECOVERED_TERMS = 8;
/** How many terms' holders and runs are remembered, the oldest forgotten first (recovery needs the last few). */
const REMEMBERED_TERMS = 1000;

/**
 * A term this replica leads: `term` is the lease's transition count on the lock object `lockUid`, `run` counts the
 * times this replica took the lock in that term (1, then 2 when it steps down and takes its own lock again without the
 * count changing, …). The run's four canonical events are at indexes `4 * (run - 1) + 1 … 4 * run` of the term (see
 * cursor.ts).
 */
export interface LedTerm {
  readonly term: number;
  readonly run: number;
  readonly lockUid: string;
}

/** A canonical event a new leader re-sends: its position, the holder of its term and of the term before (`''`). */
export interface UnsettledEvent {
  readonly position: PlacedPosition;
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
  /** The lock object the positions settled here are on. */
  #lockUid = '';
  #settled: Position | undefined;
  /** A position with nothing to send, waiting for the events queued before it. */
  #skipped: Position | undefined;

  constructor(target: string, cursorKey: string) {
    this.target = target;
    this.annotation = cursorAnnotation(cursorKey);
  }

  /** The lock object is now `lockUid`: what was settled on another object says nothing about this one. */
  follow(lockUid: string): void {
    if (lockUid === this.#lockUid) return;
    this.#lockUid = lockUid;
    this.#settled = undefined;
    this.#skipped = undefined;
  }

  /**
   * The later of what the lock says (`observed`, written on the current object) and what was settled here;
   * `undefined` when neither knows.
   */
  current(observed: Readonly<Record<string, string>>): Position | undefined {
    return laterPosition(parsePosition(observed[this.annotation]), this.#settled);
  }

  /**
   * `position` was delivered or given up; `queueEmpty`: nothing is left before a skipped position either. A position
   * on another lock object than the current one (deleted since) settles nothing.
   */
  settle(position: PlacedPosition, queueEmpty: boolean): void {
    if (position.lockUid !== this.#lockUid) return;
    this.#settled = laterPosition(this.#settled, position);
    if (this.#skipped && queueEmpty) {
      this.#settled = laterPosition(this.#settled, this.#skipped);
      this.#skipped = undefined;
    }
  }

  /** Nothing is sent for `position` (the target's format or event filter skips it): it settles with the queue. */
  skip(position: PlacedPosition, queueEmpty: boolean): void {
    if (position.lockUid !== this.#lockUid) return;
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
  /** Holders of terms (keyed by `termKey`), from the changes observed here and the lock's term annotation. */
  readonly #holders = new Map<string, string>();
  /** How many times this replica took the lock in each term (keyed by `termKey`). */
  readonly #runs = new Map<string, number>();
  /** The lock object as last learned: cursors follow it. */
  #lockUid: string | undefined;
  /** The term this replica leads (or last led, for its stop events). */
  #led: LedTerm | undefined;

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

  /** Learns the lock object and the holder of a term from a leader change observed here. */
  observe(change: LeadershipChange): void {
    this.#follow(change.lockUid);
    if (change.type === 'leader-changed' && change.leader)
      remember(this.#holders, termKey(change.lockUid, change.transitions), change.leader);
  }

  /**
   * This replica took the lock in `term` (the lease's transition count) of the lock object `lockUid`: returns the run
   * it leads, the next after the runs of that term this replica led before. `observed` holds the lock's annotations as
   * read before, whose term annotation names the holder of the term before when it was never observed here.
   */
  start(term: number, lockUid: string, observed: Readonly<Record<string, string>>): LedTerm {
    this.#follow(lockUid);
    const key = termKey(lockUid, term);
    const run = (this.#runs.get(key) ?? 0) + 1;
    remember(this.#runs, key, run);
    this.#led = { term, run, lockUid };
    remember(this.#holders, key, this.#identity);
    const announced = parseTerm(annotationsOf(observed, lockUid)[TERM_ANNOTATION]);
    if (announced) this.#learnHolder(lockUid, announced.term, announced.holder);
    return this.#led;
  }

  /** This replica stopped leading; returns the run it led, `undefined` when no start was seen here. */
  stop(): LedTerm | undefined {
    return this.#led;
  }

  /** Where `slot` of the run `led` sits in the canonical sequence of its lock object. */
  positionOf(led: LedTerm, slot: Slot): PlacedPosition {
    return { term: led.term, index: indexOf(slot, led.run), lockUid: led.lockUid };
  }

  /**
   * The canonical events `cursor` has not settled before this replica's run `led` began, oldest first: the rest of
   * the cursor's term, whole later terms, then the earlier runs of `led.term`; at most `MAX_RECOVERED_TERMS` earlier
   * terms. Events of a term whose holder is unknown here are left out. Logs (warn) each limit hit and (info) what
   * is re-sent.
   */
  unsettled(cursor: TargetCursor, led: LedTerm, observed: Readonly<Record<string, string>>): UnsettledEvent[] {
    const from = cursor.current(annotationsOf(observed, led.lockUid));
    if (!from || from.term > led.term) return [];
    const { term, lockUid } = led;
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
      const holder = this.#holders.get(termKey(lockUid, position.term));
      const previousHolder = this.#holders.get(termKey(lockUid, position.term - 1)) ?? '';
      if (holder) events.push({ position: { ...position, lockUid }, holder, previousHolder });
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
   * The annotations of a lock write, computed at the moment of the write from the object it replaces (`null` for a
   * create) and the record it sends: the replaced object's leaderhook annotations (when written on that very object),
   * each tracked cursor moved forward to what was settled here, the term of the record sent when it names this
   * replica, and the object they are about. So the write by which a replica takes the lock carries its predecessor's
   * cursors forward as they stood on the object it replaced, never an older copy, and announces the new term at once
   * (a holder killed before its first renew is still named). The replaced record and its term annotation also tell
   * this ledger who held their terms. A cursor the lock does not carry yet is seeded at the replaced record's term.
   */
  annotations(replaced: LockObservation | null, record: LeaderElectionRecord): Record<string, string> {
    const lockUid = replaced?.uid ?? '';
    this.#follow(lockUid);
    const current = replaced ? annotationsOf(replaced.annotations, lockUid) : {};
    const before = replaced?.record;
    if (before?.holderIdentity) this.#learnHolder(lockUid, before.leaderTransitions, before.holderIdentity);
    const announced = parseTerm(current[TERM_ANNOTATION]);
    if (announced) this.#learnHolder(lockUid, announced.term, announced.holder);
    const own: Record<string, string> = { ...current, [OBJECT_ANNOTATION]: lockUid };
    // No cursor yet: nothing before the lock's current term is owed to this target.
    const seed: Position = { term: before ? before.leaderTransitions : -1, index: 4 };
    for (const cursor of this.#cursors) own[cursor.annotation] = formatPosition(cursor.current(current) ?? seed);
    if (record.holderIdentity === this.#identity)
      own[TERM_ANNOTATION] = formatTerm(record.leaderTransitions, this.#identity);
    return own;
  }

  /** Who held `term` of the lock `lockUid`, unless already known here. */
  #learnHolder(lockUid: string, term: number, holder: string): void {
    const key = termKey(lockUid, term);
    if (!this.#holders.has(key)) remember(this.#holders, key, holder);
  }

  #follow(lockUid: string): void {
    if (lockUid === this.#lockUid) return;
    this.#lockUid = lockUid;
    for (const cursor of this.#cursors) cursor.follow(lockUid);
  }
}

/** Terms are counted per lock object: a recreated lock starts at 0 again. */
function termKey(lockUid: string, term: number): string {
  return `${lockUid}/${term}`;
}

/** Sets `key` in a map that keeps at most `REMEMBERED_TERMS` keys, forgetting the oldest first. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.set(key, value);
  if (map.size > REMEMBERED_TERMS) map.delete(map.keys().next().value as string);
}
