/**
 * The leader-scope delivery cursor, kept on the lock object as leaderhook annotations.
 *
 * The election's canonical event sequence: every leadership term (one value of the lease's transition count, one
 * holder) contributes four events, at positions `index` 1–4 of the term:
 *   1 `leadership.started` (the holder), 2 `leader.changed` to the holder, 3 `leadership.stopped` (the holder),
 *   4 `leader.changed` to "" (the lease always passes through a moment without a valid holder between two terms).
 * A holder that steps down and takes its own lock again within the same term (the count does not change) continues
 * with indexes 5–8, and so on; the event id then carries the occurrence `ceil(index / 4)`.
 *
 * `leaderhook.io/cursor.<target>` = `<term>.<index>`: every canonical event up to and including that position has
 * been settled for the target (delivered, or given up after its retry budget, or refused permanently).
 * `leaderhook.io/notify-term` = `{"t":<term>,"h":"<holder>"}`: the term its writer leads, so a successor knows
 * whose events it re-sends.
 * `leaderhook.io/notify-object` = the uid of the lock object these annotations were written on (`''` when written to
 * create it): a lock deleted and recreated starts its terms again at 0, so annotations carried over from the deleted
 * object onto its successor are recognised and ignored.
 */
const CURSOR_PREFIX = 'leaderhook.io/cursor.';
export const TERM_ANNOTATION = 'leaderhook.io/notify-term';
export const OBJECT_ANNOTATION = 'leaderhook.io/notify-object';

export interface Position {
  term: number;
  index: number;
}

/** A position in the canonical sequence of the lock object whose uid is `lockUid`. */
export interface PlacedPosition extends Position {
  lockUid: string;
}

/**
 * The lock's leaderhook annotations if they were written on the object `lockUid` (or to create it, or by a version
 * that did not say), else none: they were carried over from a deleted object.
 */
export function annotationsOf(
  observed: Readonly<Record<string, string>>,
  lockUid: string,
): Readonly<Record<string, string>> {
  const writtenOn = observed[OBJECT_ANNOTATION];
  return writtenOn === undefined || writtenOn === '' || writtenOn === lockUid ? observed : {};
}

export type Slot = 'started' | 'changed-in' | 'stopped' | 'changed-out';
const SLOTS: readonly Slot[] = ['started', 'changed-in', 'stopped', 'changed-out'];

export function slotOf(index: number): Slot {
  return SLOTS[(index - 1) % 4] as Slot;
}

export function occurrenceOf(index: number): number {
  return Math.ceil(index / 4);
}

/** The index of `slot` in the `occurrence`-th run of a term. */
export function indexOf(slot: Slot, occurrence: number): number {
  return 4 * (occurrence - 1) + SLOTS.indexOf(slot) + 1;
}

export function formatPosition(position: Position): string {
  return `${position.term}.${position.index}`;
}

export function parsePosition(text: string | undefined): Position | undefined {
  const match = text === undefined ? null : /^(-1|\d{1,12})\.(\d{1,6})$/.exec(text.trim());
  if (!match) return undefined;
  return { term: Number(match[1]), index: Number(match[2]) };
}

function comparePositions(a: Position, b: Position): number {
  return a.term - b.term || a.index - b.index;
}

export function laterPosition(a: Position | undefined, b: Position | undefined): Position | undefined {
  if (!a) return b;
  if (!b) return a;
  return comparePositions(a, b) >= 0 ? a : b;
}

export function cursorAnnotation(cursorKey: string): string {
  return `${CURSOR_PREFIX}${cursorKey}`;
}

export function formatTerm(term: number, holder: string): string {
  return JSON.stringify({ t: term, h: holder });
}

export function parseTerm(text: string | undefined): { term: number; holder: string } | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as { t?: unknown; h?: unknown };
    if (typeof value.t === 'number' && Number.isInteger(value.t) && typeof value.h === 'string' && value.h)
      return { term: value.t, holder: value.h };
  } catch {
    // not ours, or damaged: ignored
  }
  return undefined;
}

/**
 * The canonical positions after `cursor` that belong to terms before `beforeTerm`, oldest first, limited to the last
 * `maxTerms` terms: what a new leader of `beforeTerm` re-sends for its predecessors. The rest of the cursor's own
 * term is completed to the end of its current run (a run of 4).
 */
export function positionsAfter(cursor: Position, beforeTerm: number, maxTerms: number): Position[] {
  const positions: Position[] = [];
  const first = Math.max(cursor.term, beforeTerm - maxTerms);
  for (let term = first; term < beforeTerm; term++) {
    if (term === cursor.term) {
      const end = 4 * occurrenceOf(cursor.index);
      for (let index = cursor.index + 1; index <= end; index++) positions.push({ term, index });
    } else if (term >= 0) {
      for (let index = 1; index <= 4; index++) positions.push({ term, index });
    }
  }
  return positions;
}
