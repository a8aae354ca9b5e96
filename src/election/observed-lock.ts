import type { LeaderElectionRecord, LockObservation } from '../lock/types.ts';
import type { Clock } from '../runtime/clock.ts';

/** How many applied resourceVersions are remembered to recognise a late or repeated watch event. */
const REMEMBERED_VERSIONS = 32;

/**
 * What this replica knows of the lock: the last observation, and when (on the local monotonic clock) its record last
 * changed. Expiry is judged only from that local time — never from another machine's clock — as client-go does.
 */
export class ObservedLock {
  readonly #clock: Clock;
  readonly #defaultLeaseDurationMs: number;
  /** `undefined`: never read; `null`: the object does not exist. */
  #observation: LockObservation | null | undefined;
  #rawRecord = '';
  #changedAt = 0;
  #changedAtDate: Date | null = null;
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

  /** Records an observation; returns false when it was already applied (e.g. the watch echo of our own write). */
  apply(observation: LockObservation, fromWatch: boolean): boolean {
    if (fromWatch && this.#appliedVersions.includes(observation.resourceVersion)) return false;
    this.#remember(observation.resourceVersion);
    this.#observation = observation;
    if (observation.rawRecord !== this.#rawRecord) this.#changed(observation.rawRecord);
    return true;
  }

  /** The object is gone; returns false for a deletion already applied. */
  applyDeleted(resourceVersion: string): boolean {
    if (resourceVersion && this.#appliedVersions.includes(resourceVersion)) return false;
    if (resourceVersion) this.#remember(resourceVersion);
    this.#observation = null;
    this.#changed('');
    return true;
  }

  /** Monotonic time at which the holder's lease runs out; +∞ when the lock is free or held by `self`. */
  expiresAt(self: string): number {
    const record = this.record;
    if (!record || record.holderIdentity === '' || record.holderIdentity === self) return Number.POSITIVE_INFINITY;
    // As client-go since 1.30: the holder's own lease duration, else ours.
    const durationMs =
      record.leaseDurationSeconds > 0 ? record.leaseDurationSeconds * 1000 : this.#defaultLeaseDurationMs;
    return this.#changedAt + durationMs;
  }

  /** `self` may take the lock: it is missing, free, already ours, or its holder's lease ran out as observed here. */
  acquirableBy(self: string): boolean {
    if (!this.known) return false;
    const record = this.record;
    if (!record || record.holderIdentity === '' || record.holderIdentity === self) return true;
    return this.#clock.now() >= this.expiresAt(self);
  }

  #changed(rawRecord: string): void {
    this.#rawRecord = rawRecord;
    this.#changedAt = this.#clock.now();
    this.#changedAtDate = this.#clock.date();
  }

  #remember(resourceVersion: string): void {
    this.#appliedVersions.push(resourceVersion);
    if (this.#appliedVersions.length > REMEMBERED_VERSIONS) this.#appliedVersions.shift();
  }
}
