import type { LeaderElectionRecord, LockObservation } from '../lock/types.ts';
import type { Clock } from '../runtime/clock.ts';

/** An etcd revision as kube-apiserver writes it: a decimal integer. */
const REVISION = /^(0|[1-9][0-9]{0,30})$/;

/** How many applied resourceVersions are remembered to recognise a late or repeated watch event. */
const REMEMBERED_VERSIONS = 32;

/** A read as sent: its send time (monotonic) and `ObservedLock.stamp().applied` then. */
export interface ReadStamp {
  readonly sentAt: number;
  readonly applied: number;
}

/**
 * What this replica knows of the lock: the last observation, when (on the local monotonic clock) its record last
 * changed, and when a read last found it unchanged. Expiry is judged only from that local time — never from another
 * machine's clock — as client-go does; and an expiry counts only once a read sent after it found the record unchanged
 * (client-go reads in every tryAcquireOrRenew), so a silent watch or a paused process never passes for a dead holder.
 * News is applied in the order the server made it: a read that crossed newer watch news is set aside (see `#older`).
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
  /** Counts the observations and deletions applied: a read compares it with its value when the read was sent. */
  #applied = 0;
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

  /** Stamps a read sent now: its answer is placed against what is applied meanwhile (see `apply`). */
  stamp(): ReadStamp {
    return { sentAt: this.#clock.now(), applied: this.#applied };
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
   * Records an observation; returns false when it was already applied (e.g. the watch echo of our own write) or is
   * older than what is known (see `#older`), and whether the record changed. `read` stamps the read that brought it,
   * for a read.
   */
  apply(
    observation: LockObservation,
    source: 'read' | 'write' | 'watch',
    read?: ReadStamp,
  ): { applied: boolean; changed: boolean } {
    if (source === 'watch' && this.#appliedVersions.includes(observation.resourceVersion))
      return { applied: false, changed: false };
    if (source !== 'write' && this.#older(observation.resourceVersion, read)) return { applied: false, changed: false };
    this.#remember(observation.resourceVersion);
    this.#applied++;
    this.#observation = observation;
    const changed = observation.rawRecord !== this.#rawRecord;
    if (changed) this.#changed(observation.rawRecord);
    else if (source === 'read' && read) this.#confirmedAt = Math.max(this.#confirmedAt, read.sentAt);
    return { applied: true, changed };
  }

  /**
   * The object is gone (a watch event with the deletion's `resourceVersion`, or the read stamped `read` found nothing);
   * returns false for a deletion already applied or older than what is known (see `#older`).
   */
  applyDeleted(resourceVersion: string, read?: ReadStamp): boolean {
    if (resourceVersion && this.#appliedVersions.includes(resourceVersion)) return false;
    if (this.#observation && this.#older(resourceVersion, read)) return false;
    if (resourceVersion) this.#remember(resourceVersion);
    this.#applied++;
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

  /**
   * Whether news at `resourceVersion` (a read's answer, stamped `read`, or a watch event) is older than the
   * observation applied: a read answered after a watch event it crossed, a watch event behind a read. A read sent
   * after the newest observation was applied is the server's word now, whatever its version (so a server whose
   * versions went back, etcd restored from a backup, is followed again at the next read). Otherwise versions that are
   * etcd revisions (kube-apiserver's, decimal integers) are compared as integers; where either is not one (the API
   * calls them opaque), a read that crossed a newer observation cannot be placed and is set aside (the watch or the
   * next read brings anything newer), and watch events keep their order.
   */
  #older(resourceVersion: string, read: ReadStamp | undefined): boolean {
    const known = this.#observation?.resourceVersion;
    if (!known || resourceVersion === known) return false;
    if (read && read.applied === this.#applied) return false;
    if (REVISION.test(resourceVersion) && REVISION.test(known)) return BigInt(resourceVersion) < BigInt(known);
    return read !== undefined;
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
