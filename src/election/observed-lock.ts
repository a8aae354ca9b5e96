import type { LeaderElectionRecord, LockObservation } from '../lock/types.ts';
import type { Clock } from '../runtime/clock.ts';

/** How many applied resourceVersions are remembered to recognise a late or repeated watch event. */
const REMEMBERED_VERSIONS = 32;

/**
 * What this replica knows of the lock: the last observation, when (on the local monotonic clock) its record last
 * changed, and when a read last found it unchanged. Expiry is judged only from that local time — never from another
 * machine's clock — as client-go does; and an expiry counts only once a read sent after it found the record unchanged
 * (client-go reads in every tryAcquireOrRenew), so a silent watch or a paused process never passes for a dead holder.
 */
export class ObservedLock {
  readonly #clock: Clock;
  readonly #defaultLeaseDurationMs: number;
  /** `undefined`: never read; `null`: the object does not exist. */
  #observation: LockObservation | null | undefined;
  #rawRecord = '';
  #changedAt = 0;
  #changedAtDate: Date | null = null;
  /** Send time of the newest read that found the current record unchanged. */
  #confirmedAt = Number.NEGATIVE_INFINITY;
  readonly #appliedVersions: string[] = [];

  constructor(clock: Clock, defaultLeaseDurationMs: number) {
    this.#clock = clock;
    this.#defaultLeaseDurationMs = defaultLeaseDurationMs;
  }

  get observation(): LockObservation | null | undefined {
    return this.#observation;
  }

  get record(): LeaderElectionRecord | null {
    return this.#observation?.record ?? null;
  }

  /** The lock has been read (or seen on the watch) at least once. */
  get known(): boolean {
    return this.#observation !== undefined;
  }

  /** Wall-clock time at which the current record was first observed here. */
  get changedAt(): Date | null {
    return this.#changedAtDate;
  }

  /** Where a watch resumes: the newest resourceVersion seen, `''` when there is none. */
  get resourceVersion(): string {
    return this.#observation?.resourceVersion ?? '';
  }

  /**
   * Records an observation; returns false when it was already applied (e.g. the watch echo of our own write), and
   * whether the record changed. `readSentAt` is the send time of the read that brought it, for a read.
   */
  apply(
    observation: LockObservation,
    source: 'read' | 'write' | 'watch',
    readSentAt?: number,
  ): { applied: boolean; changed: boolean } {
    if (source === 'watch' && this.#appliedVersions.includes(observation.resourceVersion))
      return { applied: false, changed: false };
    this.#remember(observation.resourceVersion);
    this.#observation = observation;
    const changed = observation.rawRecord !== this.#rawRecord;
    if (changed) this.#changed(observation.rawRecord);
    else if (source === 'read' && readSentAt !== undefined) this.#confirmedAt = Math.max(this.#confirmedAt, readSentAt);
    return { applied: true, changed };
  }

  /** The object is gone; returns false for a deletion already applied. */
  applyDeleted(resourceVersion: string): boolean {
    if (resourceVersion && this.#appliedVersions.includes(resourceVersion)) return false;
    if (resourceVersion) this.#remember(resourceVersion);
    this.#observation = null;
    this.#changed('');
    return true;
  }

  /**
   * Monotonic time at which the holder's lease runs out as observed here; +∞ when the lock is free or `ours` (held
   * by this process).
   */
  expiresAt(ours: boolean): number {
    const record = this.record;
    if (!record || record.holderIdentity === '' || ours) return Number.POSITIVE_INFINITY;
    // As client-go since 1.30: the holder's own lease duration, else ours.
    const durationMs =
      record.leaseDurationSeconds > 0 ? record.leaseDurationSeconds * 1000 : this.#defaultLeaseDurationMs;
    return this.#changedAt + durationMs;
  }

  /** The holder's lease has run out here, but no read since has confirmed it: read before acting on it. */
  needsConfirmation(ours: boolean): boolean {
    const expiresAt = this.expiresAt(ours);
    return this.#clock.now() >= expiresAt && this.#confirmedAt < expiresAt;
  }

  /** The holder's lease ran out as observed here, and a read sent after that found the record unchanged. */
  expired(ours: boolean): boolean {
    const expiresAt = this.expiresAt(ours);
    return this.#clock.now() >= expiresAt && this.#confirmedAt >= expiresAt;
  }

  /** The lock may be taken: it is missing, free, `ours`, or its holder's lease ran out (confirmed by a read). */
  acquirable(ours: boolean): boolean {
    if (!this.known) return false;
    const record = this.record;
    if (!record || record.holderIdentity === '' || ours) return true;
    return this.expired(ours);
  }

  #changed(rawRecord: string): void {
    this.#rawRecord = rawRecord;
    this.#changedAt = this.#clock.now();
    this.#changedAtDate = this.#clock.date();
    this.#confirmedAt = Number.NEGATIVE_INFINITY;
  }

  #remember(resourceVersion: string): void {
    this.#appliedVersions.push(resourceVersion);
    if (this.#appliedVersions.length > REMEMBERED_VERSIONS) this.#appliedVersions.shift();
  }
}
