// A simulated cluster for model-based tests of the election: several replicas (real Elector objects) on one
// in-memory lock object, one simulated monotonic clock, and an adversary that decides what the network and the
// processes do: requests that hang, fail, or are applied without an answer; watch streams that are delayed, silenced
// (no FIN/RST) or closed; processes paused (SIGSTOP), resumed, terminated, killed, restarted; another client writing
// the lock; the API server down. Everything runs in one thread, deterministically from the schedule.
//
// The invariants are checked from outside the elector, on what a user can see: the changes each replica emits, the
// requests it sent and the answers it got, and the lock's own history on the server.
import { Elector, type ElectorOptions } from '../../src/election/elector.ts';
import type { LeadershipChange } from '../../src/election/leadership.ts';
import type { Clock } from '../../src/runtime/clock.ts';
import { KubeApiError } from '../../src/kube-api/api-error.ts';
import type { LeaderElectionRecord, Lock, LockObservation, WatchHandlers } from '../../src/lock/types.ts';
import { seededRandom } from './seeded-random.ts';

export const INT32_MAX = 2_147_483_647;

export const TIMINGS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
/** The lock's per-request timeout in the product: client-go's max(1s, renewDeadline / 2). */
export const REQUEST_TIMEOUT_MS = Math.max(1000, TIMINGS.renewDeadlineMs / 2);
/** client-node 2.0.1 ends a watch that received nothing for this long. */
export const WATCH_INACTIVITY_MS = 30_000;
const LATENCY_MS = { ok: 5, slow: 1_500 } as const;

/** How a replica's connection to the API behaves for requests sent from now on (and its watch stream). */
export type LinkMode =
  | 'ok'
  | 'slow' // 1.5 s each way
  | 'partition' // nothing passes; requests hang until the client gives up; held watch events arrive on heal
  | 'lose-answers' // requests are applied, their answers never arrive
  | 'fail'; // 503 at once

export type Op =
  | { op: 'advance'; ms: number }
  | { op: 'net'; slot: number; mode: LinkMode }
  | { op: 'silence'; slot: number }
  | { op: 'close-watch'; slot: number; status: 0 | 410 | 500 }
  | { op: 'pause'; slot: number }
  | { op: 'resume'; slot: number }
  | { op: 'sigterm'; slot: number }
  | { op: 'kill'; slot: number }
  | { op: 'start'; slot: number }
  | { op: 'foreign'; holder: string; leaseSeconds: number; transitions: 'keep' | 'max' }
  | { op: 'api'; up: boolean };

export interface Schedule {
  seed: number;
  /** Slot 3, when used, runs a second process with the identity of slot 0 (hostNetwork pods sharing a hostname). */
  ops: Op[];
}

export type InvariantName =
  | 'renew-deadline' // a replica that believes it leads stops no later than its last renew + renew deadline
  | 'one-leader' // never two processes leading within their renew deadlines at once
  | 'no-leader-after-read' // "no leader" only when the lock was seen free, or read after the holder's lease ran out
  | 'transitions' // leaseTransitions +1 per new holder, kept otherwise, never beyond int32, nothing the API rejects
  | 'event-ids' // one `leadership.started` or "no leader" id never names two different events
  | 'no-spin' // bounded requests and timers per simulated second
  | 'liveness'; // after the faults heal, exactly one live replica leads (unless a ghost holds a lease for ever)

export class InvariantViolation extends Error {
  readonly invariant: InvariantName;
  constructor(invariant: InvariantName, message: string) {
    super(`${invariant}: ${message}`);
    this.invariant = invariant;
  }
}

// ------------------------------------------------------------------------------------------------- scheduler ---

interface Item {
  at: number;
  seq: number;
  owner: SimProcess | undefined;
  /** A timer, or I/O (an answer, a watch event): after a pause, Node runs the due timers before it reads sockets. */
  kind: 'timer' | 'io';
  run: () => void;
  cancelled: boolean;
}

/** One simulated time line. Items owned by a paused process wait for its resume; a dead process's are dropped. */
class Scheduler {
  now = 0;
  readonly epoch = Date.parse('2026-11-24T12:00:00Z');
  #items: Item[] = [];
  #seq = 0;
  /** Called at the end of every instant, before time moves on. */
  onInstantEnd: () => void = () => {};

  schedule(delayMs: number, owner: SimProcess | undefined, run: () => void, kind: Item['kind'] = 'io'): () => void {
    const item: Item = { at: this.now + Math.max(0, delayMs), seq: this.#seq++, owner, run, cancelled: false, kind };
    this.#items.push(item);
    return () => {
      item.cancelled = true;
    };
  }

  /** A paused process runs again: what fell due meanwhile runs now, its timers first, then its I/O. */
  resume(process: SimProcess): void {
    process.paused = false;
    const overdue = this.#items.filter((item) => item.owner === process && !item.cancelled && item.at < this.now);
    overdue.sort((a, b) => a.at - b.at || a.seq - b.seq);
    for (const item of overdue.filter((item) => item.kind === 'timer')) item.at = this.now;
    for (const item of overdue.filter((item) => item.kind === 'io')) {
      item.at = this.now;
      item.seq = this.#seq++;
    }
  }

  /** Runs every item due up to `end`, in time order, letting promise chains settle after each. */
  async runUntil(end: number): Promise<void> {
    let perInstant = 0;
    for (;;) {
      this.#items = this.#items.filter((item) => !item.cancelled && !item.owner?.dead);
      let next: Item | undefined;
      for (const item of this.#items) {
        if (item.owner?.paused) continue;
        if (!next || item.at < next.at || (item.at === next.at && item.seq < next.seq)) next = item;
      }
      const at = next ? Math.max(next.at, this.now) : Number.POSITIVE_INFINITY;
      if (!next || at > end) break;
      if (at > this.now) {
        this.onInstantEnd();
        this.now = at;
        perInstant = 0;
      }
      if (++perInstant > 5_000)
        throw new InvariantViolation('no-spin', `more than 5000 steps at t=${this.now} ms: a busy loop`);
      next.cancelled = true;
      next.run();
      await settle();
    }
    if (end > this.now) {
      this.onInstantEnd();
      this.now = end;
    }
    await settle();
    this.onInstantEnd();
  }
}

/** Lets every pending promise chain run: nothing in the simulation waits on real I/O or real timers. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// ---------------------------------------------------------------------------------------------- API server ---

interface StoredLock {
  uid: string;
  resourceVersion: number;
  record: LeaderElectionRecord;
  annotations: Record<string, string>;
}

export interface HistoryEntry {
  at: number;
  uid: string;
  resourceVersion: number;
  record: LeaderElectionRecord;
  /** The process that wrote it (`foreign` for another client). */
  writer: string;
}

function rawRecord(record: LeaderElectionRecord): string {
  return JSON.stringify([
    record.holderIdentity,
    record.leaseDurationSeconds,
    record.acquireTime?.toISOString() ?? null,
    record.renewTime?.toISOString() ?? null,
    record.leaderTransitions,
  ]);
}

function observe(stored: StoredLock): LockObservation {
  return {
    record: { ...stored.record },
    resourceVersion: String(stored.resourceVersion),
    uid: stored.uid,
    annotations: { ...stored.annotations },
    rawRecord: rawRecord(stored.record),
    object: { metadata: { uid: stored.uid } },
  };
}

/** The lock object as kube-apiserver keeps it: compare-and-swap on resourceVersion, int32 fields validated. */
class ModelApiServer {
  stored: StoredLock | undefined;
  readonly history: HistoryEntry[] = [];
  #revision = 100;
  #objects = 0;
  readonly streams = new Set<SimStream>();
  readonly #scheduler: Scheduler;
  up = true;

  constructor(scheduler: Scheduler) {
    this.#scheduler = scheduler;
  }

  get(): LockObservation | null {
    return this.stored ? observe(this.stored) : null;
  }

  create(record: LeaderElectionRecord, annotations: Record<string, string>, writer: string): LockObservation {
    if (this.stored) throw new KubeApiError('create', 'conflict', 'already exists', 409, 'AlreadyExists');
    this.#validate('create', record);
    return this.#store(`uid-${++this.#objects}`, record, annotations, writer);
  }

  update(
    previous: LockObservation,
    record: LeaderElectionRecord,
    annotations: Record<string, string>,
    writer: string,
  ): LockObservation {
    if (!this.stored) throw new KubeApiError('update', 'not-found', 'not found', 404, 'NotFound');
    if (previous.resourceVersion !== String(this.stored.resourceVersion)) {
      throw new KubeApiError('update', 'conflict', 'the object has been modified', 409, 'Conflict');
    }
    this.#validate('update', record);
    return this.#store(this.stored.uid, record, annotations, writer);
  }

  /** Another client replaces the record unconditionally (kubectl, another elector implementation). */
  overwrite(record: LeaderElectionRecord): void {
    this.#store(this.stored?.uid ?? `uid-${++this.#objects}`, record, this.stored?.annotations ?? {}, 'foreign');
  }

  /** kube-apiserver decodes these fields as int32: a larger value is a 400 Bad Request. */
  #validate(verb: string, record: LeaderElectionRecord): void {
    for (const [field, value] of [
      ['leaseDurationSeconds', record.leaseDurationSeconds],
      ['leaseTransitions', record.leaderTransitions],
    ] as const) {
      if (!Number.isInteger(value) || value > INT32_MAX || value < -INT32_MAX - 1) {
        throw new KubeApiError(
          verb,
          'rejected',
          `json: cannot unmarshal number ${value} into Go struct field LeaseSpec.spec.${field} of type int32`,
          400,
          'BadRequest',
        );
      }
    }
    if (record.leaderTransitions < 0)
      throw new KubeApiError(
        verb,
        'rejected',
        'spec.leaseTransitions: must be greater than or equal to 0',
        422,
        'Invalid',
      );
    if (record.leaseDurationSeconds <= 0)
      throw new KubeApiError(verb, 'rejected', 'spec.leaseDurationSeconds: must be greater than 0', 422, 'Invalid');
  }

  #store(
    uid: string,
    record: LeaderElectionRecord,
    annotations: Record<string, string>,
    writer: string,
  ): LockObservation {
    this.stored = { uid, resourceVersion: ++this.#revision, record: { ...record }, annotations: { ...annotations } };
    this.history.push({ at: this.#scheduler.now, uid, resourceVersion: this.#revision, record: { ...record }, writer });
    const observation = observe(this.stored);
    for (const stream of this.streams) stream.send(observation);
    return observation;
  }
}

// ------------------------------------------------------------------------------------------------ processes ---

/** One watch stream of one process. */
class SimStream {
  readonly #process: SimProcess;
  readonly #handlers: WatchHandlers;
  readonly #server: ModelApiServer;
  state: 'live' | 'silenced' | 'ended' = 'live';
  /** Events held by a partition, delivered on heal. */
  readonly held: LockObservation[] = [];
  #cancelInactivity: () => void = () => {};

  constructor(process: SimProcess, server: ModelApiServer, handlers: WatchHandlers) {
    this.#process = process;
    this.#server = server;
    this.#handlers = handlers;
    this.#armInactivity();
  }

  /** The server sends an event on this stream. */
  send(observation: LockObservation): void {
    if (this.state !== 'live') return;
    const mode = this.#process.link;
    if (mode === 'partition') {
      this.held.push(observation);
      return;
    }
    this.#deliverLater(observation, mode === 'slow' ? LATENCY_MS.slow : LATENCY_MS.ok);
  }

  heal(): void {
    for (const observation of this.held.splice(0)) this.#deliverLater(observation, LATENCY_MS.ok);
  }

  /** Client side: nothing arrives any more, and nothing says so (NAT entry dropped). */
  silence(): void {
    if (this.state === 'live') this.state = 'silenced';
    this.held.length = 0;
  }

  /** The server ends the stream (status 0: a clean close, as at its timeout). */
  close(status: 0 | 410 | 500): void {
    if (this.state === 'ended') return;
    this.#end(
      status === 0
        ? null
        : new KubeApiError(
            'watch',
            status === 410 ? 'rejected' : 'server',
            status === 410 ? 'too old resource version' : 'internal error',
            status,
          ),
    );
  }

  /** The client stops watching. */
  stop(): void {
    this.state = 'ended';
    this.#cancelInactivity();
    this.#server.streams.delete(this);
  }

  #deliverLater(observation: LockObservation, delayMs: number): void {
    this.#process.scheduler.schedule(delayMs, this.#process, () => {
      if (this.state !== 'live') return;
      this.#armInactivity();
      // A stopping elector no longer acts on its stream, which stays open until its release is written.
      if (!this.#process.stopping) this.#process.received(observation, 'watch', this.#process.scheduler.now);
      this.#handlers.onEvent({ type: 'changed', observation });
    });
  }

  #armInactivity(): void {
    this.#cancelInactivity();
    this.#cancelInactivity = this.#process.scheduler.schedule(
      WATCH_INACTIVITY_MS,
      this.#process,
      () => {
        if (this.state === 'ended') return;
        this.#end(new KubeApiError('watch', 'network', 'watch inactivity timeout', undefined));
      },
      'timer',
    );
  }

  #end(error: unknown): void {
    this.state = 'ended';
    this.#cancelInactivity();
    this.#server.streams.delete(this);
    const handlers = this.#handlers;
    this.#process.scheduler.schedule(LATENCY_MS.ok, this.#process, () => handlers.onEnd(error));
  }
}

export interface ReceivedRecord {
  raw: string;
  holder: string;
  leaseMs: number;
  source: 'get' | 'write' | 'watch';
  /** When this process sent the request that brought it (the arrival time for watch events). */
  sentAt: number;
  /** When this record content was first received here. */
  firstSeenAt: number;
  /**
   * A watch event that arrived while a write was in flight: the elector applies it right after the write's answer.
   * `true` until that answer, then the instant it came.
   */
  deferred?: true | number;
}

interface EmittedChange extends LeadershipChange {
  t: number;
}

/** One leaderhook process: an Elector with a lock whose requests go through the simulated network. */
export class SimProcess {
  readonly name: string;
  readonly identity: string;
  readonly scheduler: Scheduler;
  readonly elector: Elector;
  readonly server: ModelApiServer;
  readonly changes: EmittedChange[] = [];
  link: LinkMode = 'ok';
  paused = false;
  dead = false;
  stopping = false;
  leading = false;
  /** Send time of the newest own-holder write whose success answer arrived here. */
  lastRenewSentAt = Number.NEGATIVE_INFINITY;
  lastReceived: ReceivedRecord | undefined;
  /** What arrived since the last leader change this process reported (it may apply events that waited for a write). */
  receivedSinceReport: ReceivedRecord[] = [];
  writesInFlight = 0;
  requestTimes: number[] = [];
  readonly streams = new Set<SimStream>();
  /** `leadership.started` occurrences, counted as the notifier counts them. */
  readonly occurrences = new Map<string, number>();
  /** "No leader" occurrences per (object uid, term), counted as the notifier counts them. */
  readonly noLeaderCounts = new Map<string, number>();
  /** The lock object and term of the last change observed on an existing object (a deleted lock's is its last). */
  lastTerm = { lockUid: '', term: 0 };
  readonly rejected: string[] = [];

  constructor(
    name: string,
    identity: string,
    scheduler: Scheduler,
    server: ModelApiServer,
    seed: number,
    options: Partial<ElectorOptions>,
    onChange: (process: SimProcess, change: EmittedChange) => void,
  ) {
    this.name = name;
    this.identity = identity;
    this.scheduler = scheduler;
    this.server = server;
    const clock: Clock = {
      now: () => scheduler.now,
      date: () => new Date(scheduler.epoch + scheduler.now),
      setTimer: (ms, callback) => scheduler.schedule(ms, this, callback, 'timer'),
    };
    const noop = () => {};
    this.elector = new Elector({
      lock: this.#lock(),
      identity,
      log: { debug: noop, info: noop, warn: noop, error: noop },
      clock,
      random: seededRandom(seed),
      ...TIMINGS,
      ...options,
    });
    this.elector.subscribe((change) => {
      const emitted = { ...change, t: scheduler.now };
      this.changes.push(emitted);
      if (change.type === 'started') this.leading = true;
      if (change.type === 'stopped') this.leading = false;
      onChange(this, emitted);
    });
  }

  /** resourceVersions this process has received: a late watch event repeating one is ignored, as the elector does. */
  readonly #seenVersions = new Set<string>();

  /** Counts what this process applied: a read compares it with its value when the read was sent. */
  receivedCount = 0;
  /** The resourceVersion of what this process applied last (`''` for nothing, or a deleted object). */
  #currentVersion = '';

  /**
   * Records what this process learnt of the lock, as the invariants judge it. As the elector does, news older than
   * what it applied is set aside: a read answered after newer news (`readStamp`: `receivedCount` when it was sent),
   * or a watch event behind a read, by the server's revision (the model's resourceVersions are integers).
   */
  received(
    observation: LockObservation | null,
    source: ReceivedRecord['source'],
    sentAt: number,
    readStamp?: number,
  ): void {
    if (observation && source === 'watch' && this.#seenVersions.has(observation.resourceVersion)) return;
    const version = observation?.resourceVersion ?? '';
    const crossed = readStamp !== undefined && readStamp !== this.receivedCount;
    const older =
      this.#currentVersion !== '' &&
      version !== this.#currentVersion &&
      (source === 'watch' || crossed) &&
      (version === '' ? crossed : Number(version) < Number(this.#currentVersion));
    if (source !== 'write' && older) return;
    this.receivedCount++;
    this.#currentVersion = version;
    if (observation) this.#seenVersions.add(observation.resourceVersion);
    const raw = observation?.rawRecord ?? '';
    const holder = observation?.record?.holderIdentity ?? '';
    const leaseSeconds = observation?.record?.leaseDurationSeconds ?? 0;
    const firstSeenAt = this.lastReceived?.raw === raw ? this.lastReceived.firstSeenAt : this.scheduler.now;
    this.lastReceived = {
      raw,
      holder,
      leaseMs: leaseSeconds > 0 ? leaseSeconds * 1000 : TIMINGS.leaseDurationMs,
      source,
      sentAt,
      firstSeenAt,
    };
    if (source === 'watch' && this.writesInFlight > 0) this.lastReceived.deferred = true;
    this.receivedSinceReport.push(this.lastReceived);
  }

  /** A write's answer (or failure) arrived: the watch events that waited for it are applied now. */
  writeAnswered(): void {
    this.writesInFlight--;
    for (const record of this.receivedSinceReport) if (record.deferred === true) record.deferred = this.scheduler.now;
  }

  /** After a reported leader change: what may still be applied after it is kept. */
  reported(): void {
    const pending = this.receivedSinceReport.filter(
      (record) => record.deferred === true || record.deferred === this.scheduler.now,
    );
    this.receivedSinceReport =
      this.lastReceived && !pending.includes(this.lastReceived) ? [...pending, this.lastReceived] : pending;
  }

  kill(): void {
    this.dead = true;
    for (const stream of this.streams) stream.stop();
  }

  #lock(): Lock {
    /** `onAbandoned`: the client gave up (timeout) on a request the server had applied, e.g. closes a watch stream. */
    const request = <T>(
      verb: string,
      apply: () => T,
      onAnswer: (result: T, sentAt: number) => void = () => {},
      onAbandoned: (result: T) => void = () => {},
    ): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        const sentAt = this.scheduler.now;
        this.requestTimes.push(sentAt);
        const write = verb === 'create' || verb === 'update';
        if (write) this.writesInFlight++;
        let done = false;
        const finish = (settle: () => void) => {
          if (done) return;
          done = true;
          cancelTimeout();
          if (write) this.writeAnswered();
          settle();
        };
        // The lock's own request timeout (AbortSignal.timeout in the product), on this process's clock.
        let applied: { value: T } | undefined;
        const cancelTimeout = this.scheduler.schedule(
          REQUEST_TIMEOUT_MS,
          this,
          () =>
            finish(() => {
              if (applied) onAbandoned(applied.value);
              reject(new KubeApiError(verb, 'network', 'The operation was aborted due to timeout', undefined));
            }),
          'timer',
        );
        if (!this.server.up) {
          this.scheduler.schedule(1, this, () =>
            finish(() => reject(new KubeApiError(verb, 'network', 'connect ECONNREFUSED', undefined))),
          );
          return;
        }
        const mode = this.link;
        if (mode === 'partition') return;
        if (mode === 'fail') {
          this.scheduler.schedule(LATENCY_MS.ok, this, () =>
            finish(() => reject(new KubeApiError(verb, 'server', 'etcdserver: request timed out', 503))),
          );
          return;
        }
        const latency = mode === 'slow' ? LATENCY_MS.slow : LATENCY_MS.ok;
        // The server applies it (a server-side step: a paused client does not stop it), then answers.
        this.scheduler.schedule(latency, undefined, () => {
          if (!this.server.up) return;
          let outcome: { ok: true; value: T } | { ok: false; error: Error };
          try {
            outcome = { ok: true, value: apply() };
            applied = { value: outcome.value };
            if (done) onAbandoned(outcome.value);
          } catch (error) {
            outcome = { ok: false, error: error as Error };
          }
          if (mode === 'lose-answers') return;
          this.scheduler.schedule(latency, this, () =>
            finish(() => {
              if (outcome.ok) {
                onAnswer(outcome.value, sentAt);
                resolve(outcome.value);
              } else {
                if (outcome.error instanceof KubeApiError && outcome.error.kind === 'rejected')
                  this.rejected.push(outcome.error.message);
                reject(outcome.error);
              }
            }),
          );
        });
      });

    const written = (holder: string) => (observation: LockObservation, sentAt: number) => {
      this.received(observation, 'write', sentAt);
      if (holder === this.identity && holder !== '') this.lastRenewSentAt = Math.max(this.lastRenewSentAt, sentAt);
    };

    return {
      kind: 'leases',
      namespace: 'default',
      name: 'model',
      get: () => {
        const stamp = this.receivedCount;
        return request(
          'get',
          () => this.server.get(),
          (observation, sentAt) => this.received(observation, 'get', sentAt, stamp),
        );
      },
      create: (record, annotations) =>
        request('create', () => this.server.create(record, annotations, this.name), written(record.holderIdentity)),
      update: (previous, record, annotations) =>
        request(
          'update',
          () => this.server.update(previous, record, annotations, this.name),
          written(record.holderIdentity),
        ),
      watch: (resourceVersion, handlers) =>
        request(
          'watch',
          () => {
            const stream = new SimStream(this, this.server, handlers);
            this.streams.add(stream);
            this.server.streams.add(stream);
            // Events after `resourceVersion` that the client missed: here, only the current object if newer.
            const current = this.server.stored;
            if (
              current &&
              String(current.resourceVersion) !== resourceVersion &&
              current.resourceVersion > Number(resourceVersion || 0)
            )
              stream.send(observe(current));
            return () => stream.stop();
          },
          undefined,
          (stop) => stop(),
        ),
    };
  }
}

// ---------------------------------------------------------------------------------------------- the world ---

export interface RunOptions {
  /** Which invariants to enforce (all by default). */
  check?: ReadonlySet<InvariantName>;
  /** Extra elector options for every process (e.g. a beforeRelease hook). */
  electorOptions?: Partial<ElectorOptions>;
}

export interface RunResult {
  history: HistoryEntry[];
  processes: SimProcess[];
  transitions: number;
}

const SLOT_IDENTITIES = ['r1', 'r2', 'r3', 'r1'];

/** Runs one schedule; throws an InvariantViolation naming the first broken invariant. */
export async function runSchedule(schedule: Schedule, options: RunOptions = {}): Promise<RunResult> {
  const checks =
    options.check ??
    new Set<InvariantName>([
      'renew-deadline',
      'one-leader',
      'no-leader-after-read',
      'transitions',
      'event-ids',
      'no-spin',
      'liveness',
    ]);
  const scheduler = new Scheduler();
  const server = new ModelApiServer(scheduler);
  const slots: Array<SimProcess | undefined> = [];
  const all: SimProcess[] = [];
  let incarnation = 0;
  /** leadership.started ids as the notifier builds them: (object uid, transitions, subject, occurrence) → process. */
  const startedIds = new Map<string, string>();
  /**
   * "No leader" ids as the notifier builds them for `self`/`all` targets — (object uid, term, occurrence), counted per
   * process — and the end they name: the record seen free or confirmed expired (`''` for a deleted lock), with who said
   * it first. Every replica that reports one end must give it one id, and one id must never name two ends.
   */
  const noLeaderIds = new Map<string, { ended: string; by: string }>();
  /** Terms (object uid/transitions) another client wrote into without counting a new term: several ends each. */
  const foreignTerms = new Set<string>();
  let pendingViolation: InvariantViolation | undefined;
  /** When another client last overwrote the lock: a leader deposed so cannot know it before its deadline. */
  let foreignWriteAt = Number.NEGATIVE_INFINITY;
  const fail = (invariant: InvariantName, message: string) => {
    if (checks.has(invariant) && !pendingViolation)
      pendingViolation = new InvariantViolation(invariant, `${message} (t=${scheduler.now} ms)`);
  };

  const onChange = (process: SimProcess, change: EmittedChange) => {
    // At the int32 limit the count no longer tells terms apart (documented): ids may repeat there.
    if (change.type === 'started' && change.transitions < INT32_MAX) {
      const uid =
        (server.stored && server.stored.record.holderIdentity === process.identity ? server.stored.uid : '') ||
        'unknown';
      const key = `${change.transitions}/${process.identity}`;
      const occurrence = (process.occurrences.get(key) ?? 0) + 1;
      process.occurrences.set(key, occurrence);
      const id = `${uid}/${key}/${occurrence}`;
      const owner = startedIds.get(id);
      if (owner !== undefined && owner !== process.name)
        fail('event-ids', `${process.name} and ${owner} both announced leadership.started with one id (${id})`);
      startedIds.set(id, process.name);
    }
    if (change.lockUid) process.lastTerm = { lockUid: change.lockUid, term: change.transitions };
    // The lock seen free (or gone), or read after the holder's lease ran out. A step-down is no such thing: the
    // record it last saw still names this replica, and only a read can show it free, expired or taken.
    const justifies = (record: ReceivedRecord) =>
      record.holder === '' || (record.source === 'get' && record.sentAt >= record.firstSeenAt + record.leaseMs);
    if (change.type === 'leader-changed' && change.leader === '' && change.transitions < INT32_MAX) {
      const { lockUid, term } = process.lastTerm;
      const key = `${lockUid}/${term}`;
      const occurrence = (process.noLeaderCounts.get(key) ?? 0) + 1;
      process.noLeaderCounts.set(key, occurrence);
      const id = `${key}/${occurrence}`;
      // The record whose end it reports (a newer one may have arrived and wait for a write's answer).
      const ofTerm = (record: ReceivedRecord) =>
        record.raw === '' || (JSON.parse(record.raw) as unknown[])[4] === change.transitions;
      const ended =
        process.receivedSinceReport.findLast((record) => justifies(record) && ofTerm(record))?.raw ??
        process.lastReceived?.raw ??
        '';
      const named = noLeaderIds.get(id);
      if (named && named.ended !== ended && !foreignTerms.has(key))
        fail(
          'event-ids',
          `${process.name} reported "no leader" with the id ${named.by} gave another end of the term (${id}): ${ended} vs ${named.ended}`,
        );
      if (!named) noLeaderIds.set(id, { ended, by: process.name });
    }
    if (change.type === 'leader-changed' && change.leader === '' && !process.leading) {
      const seen = process.lastReceived;
      if (!process.receivedSinceReport.some(justifies)) {
        fail(
          'no-leader-after-read',
          `${process.name} reported "no leader" while the lock it last saw names ${JSON.stringify(seen?.holder)} (from ${seen?.source} at ${seen?.sentAt}, first seen at ${seen?.firstSeenAt}) without reading it after that lease ran out`,
        );
      }
    }
    if (change.type === 'leader-changed') process.reported();
  };

  scheduler.onInstantEnd = () => {
    const now = scheduler.now;
    const within: string[] = [];
    for (const process of all) {
      if (process.dead || !process.leading) continue;
      const deadline = process.lastRenewSentAt + TIMINGS.renewDeadlineMs;
      if (!process.paused && now > deadline)
        fail(
          'renew-deadline',
          `${process.name} still leads ${now - deadline} ms past its last renew + renew deadline (${deadline} ms)`,
        );
      if (now <= deadline && process.lastRenewSentAt > foreignWriteAt) within.push(process.name);
    }
    if (within.length > 1) fail('one-leader', `${within.join(' and ')} lead at once`);
    for (const process of all) {
      if (process.dead) continue;
      const recent = process.requestTimes.filter((t) => t > now - 1000).length;
      process.requestTimes = process.requestTimes.filter((t) => t > now - 1000);
      if (recent > 40) fail('no-spin', `${process.name} sent ${recent} requests in one second`);
      if (process.rejected.length)
        fail('transitions', `${process.name} wrote a value the API rejects: ${process.rejected[0]}`);
    }
  };

  const start = (slot: number) => {
    if (slots[slot] && !slots[slot].dead) return;
    const identity = SLOT_IDENTITIES[slot] as string;
    const process = new SimProcess(
      `${identity}${slot === 3 ? '-twin' : ''}#${++incarnation}`,
      identity,
      scheduler,
      server,
      schedule.seed + incarnation,
      options.electorOptions ?? {},
      onChange,
    );
    slots[slot] = process;
    all.push(process);
    process.elector.start();
  };

  const throwIfViolated = () => {
    if (pendingViolation) throw pendingViolation;
  };

  for (const slot of [0, 1, 2]) start(slot);
  await scheduler.runUntil(scheduler.now);
  throwIfViolated();

  for (const op of schedule.ops) {
    const process = 'slot' in op ? slots[op.slot] : undefined;
    const alive = process && !process.dead ? process : undefined;
    switch (op.op) {
      case 'advance':
        await scheduler.runUntil(scheduler.now + op.ms);
        break;
      case 'net':
        if (alive) {
          const wasPartitioned = alive.link === 'partition';
          alive.link = op.mode;
          if (wasPartitioned && op.mode !== 'partition') for (const stream of alive.streams) stream.heal();
        }
        break;
      case 'silence':
        for (const stream of alive?.streams ?? []) stream.silence();
        break;
      case 'close-watch':
        for (const stream of alive?.streams ?? []) stream.close(op.status);
        break;
      case 'pause':
        if (alive) alive.paused = true;
        break;
      case 'resume':
        if (alive?.paused) scheduler.resume(alive);
        break;
      case 'sigterm':
        if (alive && !alive.stopping && !alive.paused) {
          alive.stopping = true;
          void alive.elector.stop({ release: true }).then(() => alive.kill());
        }
        break;
      case 'kill':
        alive?.kill();
        break;
      case 'start':
        start(op.slot);
        break;
      case 'foreign': {
        const now = new Date(scheduler.epoch + scheduler.now);
        const previous = server.stored?.record;
        foreignWriteAt = scheduler.now;
        if (server.stored && op.transitions === 'keep')
          foreignTerms.add(`${server.stored.uid}/${server.stored.record.leaderTransitions}`);
        server.overwrite({
          holderIdentity: op.holder,
          leaseDurationSeconds: op.leaseSeconds,
          acquireTime: now,
          renewTime: now,
          leaderTransitions: op.transitions === 'max' ? INT32_MAX : (previous?.leaderTransitions ?? 0),
        });
        break;
      }
      case 'api':
        server.up = op.up;
        if (!op.up) for (const stream of [...server.streams]) stream.close(500);
        break;
    }
    await scheduler.runUntil(scheduler.now);
    throwIfViolated();
  }

  // Heal everything, then the election must settle on one leader (unless a ghost holds the lock for ever).
  server.up = true;
  for (const process of all) {
    if (process.dead) continue;
    if (process.link === 'partition') for (const stream of process.streams) stream.heal();
    process.link = 'ok';
    if (process.paused) scheduler.resume(process);
  }
  await scheduler.runUntil(scheduler.now + 3 * TIMINGS.leaseDurationMs + 5 * TIMINGS.retryPeriodMs);
  throwIfViolated();
  checkHistory(server.history, fail);
  throwIfViolated();
  const live = all.filter((process) => !process.dead);
  const ghost =
    server.stored &&
    !live.some((process) => process.identity === server.stored?.record.holderIdentity) &&
    server.stored.record.leaseDurationSeconds * 1000 > 3 * TIMINGS.leaseDurationMs;
  if (live.length > 0 && !ghost) {
    const leaders = live.filter((process) => process.leading);
    if (leaders.length !== 1)
      fail(
        'liveness',
        `after healing, ${leaders.length} of the live replicas lead (${leaders.map((p) => p.name).join(', ') || 'none'}); the lock names ${JSON.stringify(server.stored?.record.holderIdentity)}`,
      );
    else {
      const reported = live.map((process) => process.elector.snapshot().leader);
      if (!reported.every((leader) => leader === leaders[0]!.identity))
        fail('liveness', `after healing the replicas report ${JSON.stringify(reported)}, not ${leaders[0]!.identity}`);
    }
  }
  throwIfViolated();
  for (const process of live) process.kill();
  return {
    history: server.history,
    processes: all,
    transitions: server.history.filter(
      (entry, index) =>
        index > 0 &&
        entry.record.holderIdentity !== server.history[index - 1]!.record.holderIdentity &&
        entry.record.holderIdentity !== '',
    ).length,
  };
}

/**
 * leaseTransitions on the lock's history, for the writes of leaderhook processes: +1 (saturating at int32) when the
 * holder changes, unchanged on a renew or a release; a process taking its own record back once its lease may have run
 * out may add one (a new term). A process taking over a record that names its own identity but
 * was written by another process (a restarted or duplicated replica) may keep the count (client-go) or add one.
 */
function checkHistory(history: HistoryEntry[], fail: (invariant: InvariantName, message: string) => void): void {
  for (let index = 1; index < history.length; index++) {
    const previous = history[index - 1] as HistoryEntry;
    const entry = history[index] as HistoryEntry;
    if (entry.writer === 'foreign' || entry.uid !== previous.uid) continue;
    const before = previous.record.leaderTransitions;
    const after = entry.record.leaderTransitions;
    const holder = entry.record.holderIdentity;
    let allowed: number[];
    // The same process taking its own record back: the same term while its lease runs, a new term once it may have
    // run out for anyone (the process judges that from its write's send time, the history has the server's times).
    const lapsed = entry.at - previous.at >= TIMINGS.leaseDurationMs - REQUEST_TIMEOUT_MS;
    if (holder === '' || (holder === previous.record.holderIdentity && entry.writer === previous.writer && !lapsed))
      allowed = [before];
    else if (holder !== previous.record.holderIdentity) allowed = [Math.min(before + 1, INT32_MAX)];
    else allowed = [before, Math.min(before + 1, INT32_MAX)];
    if (!allowed.includes(after)) {
      fail(
        'transitions',
        `${entry.writer} wrote leaseTransitions ${after} after ${before} (holder ${JSON.stringify(previous.record.holderIdentity)} → ${JSON.stringify(holder)}), expected ${allowed.join(' or ')}`,
      );
    }
  }
}
