import type { Hono } from 'hono';
import type { Registry } from 'prom-client';
import type { LeadershipChange, LeadershipFeed } from '../election/leadership.ts';
import type { LockAnnotations } from '../lock/types.ts';
import type { Log } from '../log/logger.ts';
import { OnceUntilSuccess } from '../runtime/once-until-success.ts';
import { occurrenceOf, slotOf, type PlacedPosition } from './cursor.ts';
import { DeliveryLog } from './delivery-log.ts';
import { deliveriesApp } from './deliveries-app.ts';
import {
  buildEvent,
  eventAt,
  OccurrenceCounter,
  recoveredEvent,
  type EventOrigin,
  type NotifyEvent,
} from './events.ts';
import type { FileValue } from './file-value.ts';
import { FORMATTERS } from './formats/index.ts';
import { LeaderLedger, type LedTerm, type TargetCursor } from './ledger.ts';
import { NotifyMetrics } from './metrics.ts';
import type { SecretFiles } from './signing.ts';
import { TargetQueue, type QueueItem, type SettledOutcome } from './target-queue.ts';
import type { Target } from './targets.ts';

/** What the notifier needs of the elector. */
export interface NotifierElection extends LeadershipFeed, EventOrigin {
  observedAnnotations(): Record<string, string>;
  setOwnAnnotations(annotationsFor: LockAnnotations): void;
}

/** A target with its files opened (validated at startup). */
export interface ResolvedTarget {
  target: Target;
  secrets: SecretFiles;
  headerFiles: ReadonlyMap<string, FileValue<string>>;
  routingKey?: FileValue<string>;
  /** The target's `urlFile`: its URL, re-read as the other files are (`target.url` holds the value read at start). */
  urlFile?: FileValue<string>;
}

export interface NotifierOptions {
  election: NotifierElection;
  targets: readonly ResolvedTarget[];
  log: Log;
  registry: Registry;
}

interface Lane {
  resolved: ResolvedTarget;
  queue: TargetQueue<PlacedPosition>;
  /** Ids this process has queued for the target, so a recovery never queues one twice. */
  queued: Set<string>;
  /** Leader scope only: the target's place in the canonical sequence. */
  cursor?: TargetCursor;
}

/**
 * Turns the elector's leadership changes into deliveries, one lane (a queue) per target: `self` and `all` targets
 * get every change this replica observes; `leader` targets get the election's canonical sequence (see cursor.ts)
 * from the replica leading each term, and a new leader first re-sends what the ledger says its predecessors did
 * not settle (see ledger.ts). Events are built by events.ts.
 */
export class Notifier {
  readonly #election: NotifierElection;
  readonly #log: Log;
  readonly #lanes: Lane[];
  /** The lanes of `leader` targets, whose cursors ride on the lock. */
  readonly #leaderLanes: Lane[];
  readonly #ledger: LeaderLedger;
  readonly #occurrences = new OccurrenceCounter();
  readonly #deliveries = new DeliveryLog();
  readonly #metrics: NotifyMetrics;
  readonly #inbox: LeadershipChange[] = [];
  #handling = false;
  /**
   * The lock object and term of the last change observed on an existing object: a change observed once the object is
   * gone (deleted) belongs to that object's last term, so its id names it.
   */
  #lastTerm = { lockUid: '', term: 0 };
  /** When this replica first saw the election without a leader, until it sees a leader again. */
  #noLeaderSince: Date | undefined;
  /** The run this replica leads, from its `started` to its `stopped`. */
  #leading: LedTerm | undefined;
  /** The election's leader was seen to leave this replica (to `''` or another holder) during the run it leads. */
  #leftDuringRun = false;
  /**
   * A run that stopped while its record still named this replica: its `leader.changed` to `''` waits until the
   * elector reports the leader gone from it (confirmed by a read), and is skipped when this replica takes its own
   * record back in the same term (the election never was without a leader).
   */
  #openEnd: LedTerm | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(options: NotifierOptions) {
    this.#election = options.election;
    this.#log = options.log;
    this.#metrics = new NotifyMetrics(options.registry);
    this.#ledger = new LeaderLedger(this.#election.identity, this.#log);
    this.#lanes = options.targets.map((resolved) => {
      const { target } = resolved;
      const lane: Lane = {
        resolved,
        queued: new Set(),
        queue: new TargetQueue<PlacedPosition>({
          target,
          log: this.#log,
          metrics: this.#metrics,
          deliveries: this.#deliveries,
          secrets: resolved.secrets,
          headerFiles: resolved.headerFiles,
          ...(resolved.urlFile ? { urlFile: resolved.urlFile } : {}),
          onSettled: (item, outcome, reason) => this.#onSettled(lane, item, outcome, reason),
        }),
        ...(target.scope === 'leader' ? { cursor: this.#ledger.track(target.name, target.cursorKey) } : {}),
      };
      this.#metrics.addTarget(target.name);
      this.#reportReloads(resolved);
      return lane;
    });
    this.#leaderLanes = this.#lanes.filter((lane) => lane.cursor);
  }

  start(): void {
    if (this.#unsubscribe) return;
    this.#unsubscribe = this.#election.subscribe((change) => this.#onChange(change));
    if (this.#ledger.tracking)
      this.#election.setOwnAnnotations((replaced, record) => this.#ledger.annotations(replaced, record));
  }

  /** The `/deliveries` sub-app over this notifier's queues and delivery log (see `deliveriesApp`). */
  deliveriesApp(): Hono {
    return deliveriesApp(
      this.#lanes.map((lane) => lane.queue),
      this.#deliveries,
    );
  }

  /**
   * Waits up to `timeoutMs` for every queue to empty (the final `leadership.stopped` included), then gives up on what
   * is left. Returns how many events were left undelivered.
   */
  async drain(timeoutMs: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const done = Promise.all(this.#lanes.map((lane) => lane.queue.idle())).then(() => 'done' as const);
    const result = await Promise.race([done, timedOut]);
    clearTimeout(timer);
    let left = 0;
    if (result === 'timeout') {
      for (const lane of this.#lanes) {
        left += lane.queue.depth;
        if (lane.queue.depth) lane.queue.abandon();
      }
      this.#log.warn({ left, drainTimeoutMs: timeoutMs }, 'drain timeout: giving up on undelivered events');
      // Let the abandoned retry loops record their outcome.
      await Promise.race([
        Promise.all(this.#lanes.map((lane) => lane.queue.idle())),
        new Promise((resolve) => setTimeout(resolve, 100)),
      ]);
    }
    this.stop();
    return left;
  }

  /**
   * Stop before release: resolves once every local hook (`self` target) has settled the last `leadership.stopped`
   * queued for it now (the one of the shutdown), and so everything queued ahead of it, with a 2xx or a final failure;
   * or once a hook refused the connection (nothing listens, so nothing is there to wait for); or when `signal` aborts.
   * The `leader.changed` queued behind it and other targets are not waited for.
   */
  async localHooksSettled(signal: AbortSignal): Promise<void> {
    const hooks = this.#lanes.filter((lane) => lane.resolved.target.scope === 'self');
    const aborted = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([Promise.all(hooks.map((lane) => lane.queue.settledThrough('leadership.stopped'))), aborted]);
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /**
   * Changes are handled one at a time, in order: the elector can report a change from inside `snapshot()`, which this
   * handler calls (event fields), and a nested change must not overtake the one being handled.
   */
  #onChange(change: LeadershipChange): void {
    this.#inbox.push(change);
    if (this.#handling) return;
    this.#handling = true;
    try {
      for (let next = this.#inbox.shift(); next; next = this.#inbox.shift()) this.#handle(next);
    } finally {
      this.#handling = false;
    }
  }

  #handle(change: LeadershipChange): void {
    const changedAt = performance.now();
    this.#ledger.observe(change);
    if (change.lockUid) this.#lastTerm = { lockUid: change.lockUid, term: change.transitions };
    if (change.type === 'started') this.#started(change, changedAt);
    else if (change.type === 'stopped') this.#stopped(change, changedAt);
    else {
      const { leader, previousLeader, isLeader } = change;
      const { lockUid, term } = this.#lastTerm;
      const occurrence = this.#occurrences.next('leader.changed', lockUid, term, leader);
      const key = { type: 'leader.changed', lockUid, term, subject: leader, occurrence } as const;
      if (leader === '') this.#noLeaderSince ??= change.at;
      const noLeaderSince = this.#noLeaderSince;
      if (leader !== '') this.#noLeaderSince = undefined;
      const event = buildEvent(this.#election, key, { leader, previousLeader, isLeader }, change.at);
      this.#enqueueObserved(noLeaderSince ? { ...event, noLeaderSince } : event, changedAt);
      if (leader !== this.#election.identity) this.#leaderLeft(change, changedAt);
    }
  }

  /**
   * This replica took the lock. `self` and `all` targets hear that it started; `leader` targets first get what its
   * predecessors left unsettled, then its run's `leadership.started` and `leader.changed` to itself. Every id comes
   * from the event's position in the canonical sequence (see `eventAt`).
   */
  #started(change: LeadershipChange, changedAt: number): void {
    const { identity } = this.#election;
    // The lock's annotations as this replica took it: what its predecessors left unsettled, and who they were.
    const observed = this.#election.observedAnnotations();
    const led = this.#ledger.start(change.transitions, change.lockUid, observed);
    this.#leading = led;
    this.#leftDuringRun = false;
    const open = this.#openEnd;
    this.#openEnd = undefined;
    // Its own record taken back in the same term: the election never was without a leader, nor did its leader change.
    const retaken = open !== undefined && open.term === led.term && open.lockUid === led.lockUid;
    if (open && !retaken) this.#endRun(open, change.at, changedAt);
    const fields = { leader: identity, previousLeader: change.previousLeader, isLeader: true };
    const startedAt = this.#ledger.positionOf(led, 'started');
    const started = eventAt(this.#election, startedAt, identity, fields, change.at);
    this.#enqueueObserved(started, changedAt);
    const changedInAt = this.#ledger.positionOf(led, 'changed-in');
    const changedIn = eventAt(this.#election, changedInAt, identity, fields, change.at);
    for (const lane of this.#leaderLanes) {
      const cursor = lane.cursor as TargetCursor;
      if (open && retaken) this.#skip(lane, this.#ledger.positionOf(open, 'changed-out'));
      for (const { position, holder, previousHolder } of this.#ledger.unsettled(cursor, led, observed)) {
        if (!happens(position, led)) {
          this.#skip(lane, position);
          continue;
        }
        const event = recoveredEvent(this.#election, position, holder, previousHolder);
        if (!lane.queued.has(event.id)) this.#enqueue(lane, event, changedAt, position, true);
      }
      this.#enqueue(lane, started, changedAt, startedAt);
      if (retaken) this.#skip(lane, changedInAt);
      else this.#enqueue(lane, changedIn, changedAt, changedInAt);
    }
  }

  /**
   * This replica stopped leading. `self` and `all` targets hear that it stopped; `leader` targets get its run's
   * `leadership.stopped`, and its `leader.changed` to no leader once the leader is seen gone from it (see `#openEnd`),
   * at their positions in the canonical sequence.
   */
  #stopped(change: LeadershipChange, changedAt: number): void {
    const { identity } = this.#election;
    const led = this.#ledger.stop();
    const left = this.#leftDuringRun;
    this.#leading = undefined;
    this.#leftDuringRun = false;
    // The term that ended, even when the change was observed on the successor's record (`lost`) or once the lock was
    // deleted; a stop without a start seen here (the notifier started late) is counted as the first run of the
    // record's term.
    const ended = led ?? { ...this.#lastTerm, run: 1 };
    const reason = change.reason ? { reason: change.reason } : {};
    const stoppedAt = this.#ledger.positionOf(ended, 'stopped');
    const fields = { leader: change.leader, previousLeader: identity, isLeader: false, ...reason };
    const stopped = eventAt(this.#election, stoppedAt, identity, fields, change.at);
    this.#enqueueObserved(stopped, changedAt);
    if (!led) return;
    for (const lane of this.#leaderLanes) this.#enqueue(lane, stopped, changedAt, stoppedAt);
    if (left) this.#endRun(led, change.at, changedAt);
    else this.#openEnd = led;
  }

  /** The election's leader is no longer this replica, as the elector reports it (never on a guess). */
  #leaderLeft(change: LeadershipChange, changedAt: number): void {
    if (this.#leading) {
      this.#leftDuringRun = true;
    } else if (this.#openEnd) {
      this.#endRun(this.#openEnd, change.at, changedAt);
      this.#openEnd = undefined;
    }
  }

  /** The `leader` targets get the end of the run `led`: `leader.changed` to no leader. */
  #endRun(led: LedTerm, at: Date, changedAt: number): void {
    const { identity } = this.#election;
    const changedOutAt = this.#ledger.positionOf(led, 'changed-out');
    const noLeader = { leader: '', previousLeader: identity, isLeader: false };
    const changedOut = eventAt(this.#election, changedOutAt, identity, noLeader, at);
    for (const lane of this.#leaderLanes) this.#enqueue(lane, changedOut, changedAt, changedOutAt);
  }

  /** A canonical position with nothing to send: it settles once everything queued before it has. */
  #skip(lane: Lane, position: PlacedPosition): void {
    lane.cursor?.skip(position, lane.queue.depth === 0);
  }

  /** Queues an event for the `self` and `all` targets, which get every change this replica observes. */
  #enqueueObserved(event: NotifyEvent, changedAt: number): void {
    for (const lane of this.#lanes) {
      if (!lane.cursor) this.#enqueue(lane, event, changedAt);
    }
  }

  #enqueue(lane: Lane, event: NotifyEvent, changedAt: number, position?: PlacedPosition, recovered = false): void {
    const { target, routingKey } = lane.resolved;
    const skip = !target.events.has(event.type);
    const context = { target, ...(routingKey ? { routingKey: () => routingKey.value() } : {}) };
    const rendered = skip ? null : FORMATTERS[target.format](event, context);
    if (!rendered) {
      // Nothing to send for this event; it counts as settled once everything queued before it is.
      if (position) lane.cursor?.skip(position, lane.queue.depth === 0);
      return;
    }
    lane.queued.add(event.id);
    if (lane.queued.size > 1000) lane.queued.delete(lane.queued.values().next().value as string);
    const item: QueueItem<PlacedPosition> = { event, rendered, changedAt, ...(position ? { position } : {}) };
    lane.queue.enqueue(recovered ? { ...item, recovered } : item);
  }

  #onSettled(lane: Lane, item: QueueItem<PlacedPosition>, outcome: SettledOutcome, reason: string | undefined): void {
    if (!item.position || !lane.cursor) return;
    // A disabled target, or an event abandoned at shutdown, keeps its cursor: a successor tries again.
    if (outcome === 'disabled' || reason === 'shutdown') return;
    lane.cursor.settle(item.position, lane.queue.depth === 0);
  }

  /**
   * A target's URL, secret, header and routing-key files are re-read on rotation; a re-read that fails keeps the last
   * good value, is counted every time and logged once (naming the file, never its content) until the file reads well
   * again.
   */
  #reportReloads({ target, secrets, headerFiles, routingKey, urlFile }: ResolvedTarget): void {
    const files: FileValue<unknown>[] = [
      ...(urlFile ? [urlFile] : []),
      ...secrets.files,
      ...headerFiles.values(),
      ...(routingKey ? [routingKey] : []),
    ];
    for (const file of files) {
      const said = new OnceUntilSuccess();
      file.onReload((problem) => {
        if (problem === undefined) return said.succeeded();
        this.#metrics.fileReloadFailures.inc({ target: target.name, file: file.path });
        if (said.first(problem)) {
          this.#log.error(
            { target: target.name, file: file.path, problem },
            'cannot use the changed file; the last good value stays in use',
          );
        }
      });
    }
  }
}

/**
 * Whether the canonical event at `position`, owed before the run `led` starts, ever happens: a holder's later run in
 * one term is its own record taken back, so its `leader.changed` to the holder does not happen, and neither does the
 * `leader.changed` to `''` of this replica's earlier runs of `led`'s term (each was followed by the next run).
 */
function happens(position: PlacedPosition, led: LedTerm): boolean {
  const slot = slotOf(position.index);
  if (slot === 'changed-in') return occurrenceOf(position.index) === 1;
  if (slot === 'changed-out') return !(position.term === led.term && position.lockUid === led.lockUid);
  return true;
}
