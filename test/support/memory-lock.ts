import { KubeApiError } from '../../src/kube-api/api-error.ts';
import type { LeaderElectionRecord, Lock, LockObservation, WatchHandlers } from '../../src/lock/types.ts';

interface Stored {
  record: LeaderElectionRecord;
  annotations: Record<string, string>;
  resourceVersion: string;
}

/**
 * An in-memory stand-in for the API server behind a Lock, for the elector's state-machine tests only: it keeps the
 * compare-and-swap and watch semantics that the real-API tests check against kube-apiserver.
 */
export class MemoryStore {
  stored: Stored | undefined;
  #revision = 100;
  readonly calls: string[] = [];
  /** Updates rehearsed (built, never sent): what they would have written over which revision. */
  readonly rehearsals: Array<{ resourceVersion: string; record: LeaderElectionRecord }> = [];
  readonly #watchers = new Set<WatchHandlers>();
  /** Errors to throw from the next calls of a verb, in order. */
  readonly failures = new Map<string, KubeApiError[]>();
  watchRefused: KubeApiError | undefined;
  /**
   * Verbs whose calls never answer (a partition), until taken out of the set or the call's signal aborts; then they
   * fail as timed out.
   */
  readonly hanging = new Set<string>();
  /** Calls waiting in `hanging` or `answeringLate`. */
  inFlight = 0;
  /** Verbs applied at once but answered only once removed from here (an answer slower than the caller's patience). */
  readonly answeringLate = new Set<string>();
  readonly #silenced = new Set<WatchHandlers>();

  /** Open watch streams stop delivering, without ending (a NAT entry dropped); new ones deliver. */
  silenceWatches(): void {
    for (const watcher of this.#watchers) this.#silenced.add(watcher);
  }

  lock(namespace = 'default', name = 'demo'): Lock {
    return {
      kind: 'leases',
      namespace,
      name,
      get: (signal) =>
        this.#answer('get', signal, () => {
          return this.stored ? this.#observe(this.stored) : null;
        }),
      create: (record, annotations) =>
        this.#answer('create', undefined, () => {
          if (this.stored) throw new KubeApiError('create', 'conflict', 'already exists', 409, 'AlreadyExists');
          return this.#store(record, annotations);
        }),
      update: (previous, record, annotations, signal) =>
        this.#answer('update', signal, () => {
          if (!this.stored) throw new KubeApiError('update', 'not-found', 'not found', 404, 'NotFound');
          if (previous.resourceVersion !== this.stored.resourceVersion)
            throw new KubeApiError('update', 'conflict', 'the object has been modified', 409, 'Conflict');
          return this.#store(record, annotations);
        }),
      watch: (_resourceVersion: string, handlers: WatchHandlers) =>
        this.#answer('watch', undefined, () => {
          if (this.watchRefused) throw this.watchRefused;
          this.#watchers.add(handlers);
          return () => this.#watchers.delete(handlers);
        }),
      rehearseUpdate: (previous, record) => {
        this.rehearsals.push({ resourceVersion: previous.resourceVersion, record });
        return Promise.resolve();
      },
    };
  }

  /** Another client writes the lock (e.g. a client-go elector on another machine). */
  writeAsOther(record: LeaderElectionRecord): void {
    this.#store(record, this.stored?.annotations ?? {});
  }

  /** The server closes every watch stream. */
  closeWatches(error: unknown = null): void {
    for (const watcher of [...this.#watchers]) {
      this.#watchers.delete(watcher);
      watcher.onEnd(error);
    }
  }

  get watchCount(): number {
    return this.#watchers.size;
  }

  count(verb: string): number {
    return this.calls.filter((call) => call === verb).length;
  }

  /**
   * Records the call, throws a queued failure, or hangs while the verb is in `hanging`; else answers `call()`, late
   * while the verb is in `answeringLate`.
   */
  async #answer<T>(verb: string, signal: AbortSignal | undefined, call: () => T): Promise<T> {
    this.calls.push(verb);
    const failure = this.failures.get(verb)?.shift();
    if (failure) throw failure;
    if (this.hanging.has(verb)) {
      this.inFlight++;
      while (this.hanging.has(verb) && !signal?.aborted) await new Promise((resolve) => setImmediate(resolve));
      this.inFlight--;
      throw new KubeApiError(verb, 'network', 'The operation was aborted due to timeout', undefined);
    }
    if (this.answeringLate.has(verb)) {
      const answer = call();
      this.inFlight++;
      while (this.answeringLate.has(verb)) await new Promise((resolve) => setImmediate(resolve));
      this.inFlight--;
      return answer;
    }
    return call();
  }

  #store(record: LeaderElectionRecord, annotations: Record<string, string>): LockObservation {
    this.stored = { record: { ...record }, annotations: { ...annotations }, resourceVersion: String(++this.#revision) };
    const observation = this.#observe(this.stored);
    // Like a real server, the watch event arrives after the write's answer.
    setImmediate(() => {
      for (const watcher of this.#watchers) {
        if (!this.#silenced.has(watcher))
          watcher.onEvent({ type: 'changed', observation: this.#observe(this.stored as Stored) });
      }
    });
    return observation;
  }

  #observe(stored: Stored): LockObservation {
    const { record } = stored;
    return {
      record: { ...record },
      resourceVersion: stored.resourceVersion,
      uid: 'memory-lock-uid',
      annotations: { ...stored.annotations },
      rawRecord: JSON.stringify([
        record.holderIdentity,
        record.leaseDurationSeconds,
        record.acquireTime?.toISOString(),
        record.renewTime?.toISOString(),
        record.leaderTransitions,
      ]),
      object: {},
    };
  }
}

export function record(
  holderIdentity: string,
  renewTime: Date,
  leaderTransitions = 0,
  leaseDurationSeconds = 15,
): LeaderElectionRecord {
  return { holderIdentity, leaseDurationSeconds, acquireTime: renewTime, renewTime, leaderTransitions };
}

/** A logger that keeps what it is given, for assertions on log lines. */
export function memoryLog() {
  const lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (fields: object | string, message?: string) => {
    if (typeof fields === 'string') lines.push({ level, message: fields, fields: {} });
    else lines.push({ level, message: message ?? '', fields: fields as Record<string, unknown> });
  };
  return { lines, log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as never };
}
