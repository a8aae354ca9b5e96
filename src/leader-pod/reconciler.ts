import type { LeadershipChange, LeadershipFeed } from '../election/leadership.ts';
import { toKubeApiError } from '../kube-api/api-error.ts';
import { accessHint, type ApiAccess } from '../kube-api/hints.ts';
import type { Log } from '../log/logger.ts';
import { backoff } from '../runtime/backoff.ts';
import { systemClock, WakeableSleep, type Clock } from '../runtime/clock.ts';
import { OnceUntilSuccess } from '../runtime/once-until-success.ts';
import type { LeaderLabel } from './label.ts';
import type { PodLabelApi } from './pod-api.ts';

export interface LeaderLabelReconcilerOptions {
  api: PodLabelApi;
  label: LeaderLabel;
  /** This replica's Pod. */
  podName: string;
  /** This replica's election identity: other leaders' identities are taken as their Pod names. */
  identity: string;
  log: Log;
  /** First retry delay after a failed call; doubles up to `retryCapMs`. */
  retryBaseMs: number;
  retryCapMs: number;
  /** How often this replica re-checks its own Pod even without a leadership change (someone may have edited it). */
  resyncMs: number;
  /**
   * Follows "pod … not found in namespace …" in the warning: which settings name this Pod, in the words of whoever runs
   * the election (the sidecar's flags, the library's options).
   */
  missingPodAdvice?: string;
  clock?: Clock;
  random?: () => number;
}

/**
 * Keeps `--leader-label` on exactly the leader's Pod, level-triggered:
 * - this replica's Pod carries the label while it leads and not otherwise (also after a restart that left it labelled);
 * - a replica that becomes leader removes the label from the Pods of the leaders it saw before, when they still exist.
 * Only `get` and JSON merge `patch` on pods are used; a label with the same key and another value is never removed.
 * All work runs off the elector's listener, one call at a time, retried with back-off; it never throws into the
 * election.
 */
export class LeaderLabelReconciler {
  readonly #api: PodLabelApi;
  readonly #label: LeaderLabel;
  readonly #podName: string;
  readonly #identity: string;
  readonly #log: Log;
  readonly #missingPodAdvice: string;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #retryBaseMs: number;
  readonly #retryCapMs: number;
  readonly #resyncMs: number;
  /** get and JSON merge patch on pods; Pod names are generated, so a Role cannot narrow them by name. */
  readonly #access: ApiAccess;

  #feed: LeadershipFeed | undefined;
  #unsubscribe: (() => void) | undefined;
  /** Whether our Pod should carry the label; `undefined` until the election has read the lock once. */
  #desired: boolean | undefined;
  /** Identities of other replicas seen leading, whose Pods may still carry the label. */
  readonly #formerLeaders = new Set<string>();
  #dirty = false;
  #running: Promise<void> | undefined;
  #failures = 0;
  #cancelTimer: (() => void) | undefined;
  readonly #sleeper: WakeableSleep;
  #stopped = false;
  /** One warning per problem until a round succeeds again; repeats go to debug. */
  readonly #problem = new OnceUntilSuccess();
  #applied: boolean | undefined;

  constructor(options: LeaderLabelReconcilerOptions) {
    this.#api = options.api;
    this.#label = options.label;
    this.#podName = options.podName;
    this.#identity = options.identity;
    this.#log = options.log;
    this.#missingPodAdvice =
      options.missingPodAdvice ??
      "the leader label goes on the pod named by this replica's identity, in $POD_NAMESPACE; set both from the Downward API";
    this.#clock = options.clock ?? systemClock;
    this.#sleeper = new WakeableSleep(this.#clock);
    this.#random = options.random ?? Math.random;
    this.#retryBaseMs = options.retryBaseMs;
    this.#retryCapMs = options.retryCapMs;
    this.#resyncMs = options.resyncMs;
    this.#access = {
      resource: 'pods',
      group: '',
      namespace: options.api.namespace,
      verbs: ['get', 'patch'],
      purpose: 'for --leader-label',
      meanwhile: 'retrying with back-off',
    };
  }

  /**
   * Follows `feed`; the first reconcile waits until the election has read the lock, so a restarting leader keeps its
   * label.
   */
  start(feed: LeadershipFeed): void {
    this.#feed = feed;
    this.#unsubscribe = feed.subscribe((change) => this.#onChange(change));
    this.#schedule(0);
  }

  /** Whether our Pod carries the label as far as this reconciler last saw (for tests and logs). */
  get applied(): boolean | undefined {
    return this.#applied;
  }

  /** Stops following the election; pending work is abandoned after `settle`. */
  stop(): void {
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#cancelTimer?.();
    this.#sleeper.wake();
  }

  /** Resolves once every known change has been applied, or after `timeoutMs` (used on shutdown). */
  async settle(timeoutMs: number): Promise<boolean> {
    const deadline = this.#clock.now() + timeoutMs;
    while (this.#dirty || this.#running) {
      const left = deadline - this.#clock.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const cancel = this.#clock.setTimer(Math.min(left, 20), resolve);
        void this.#running?.then(() => {
          cancel();
          resolve();
        });
      });
    }
    return true;
  }

  #onChange(change: LeadershipChange): void {
    if (change.previousLeader && change.previousLeader !== this.#identity)
      this.#formerLeaders.add(change.previousLeader);
    if (change.leader && change.leader !== this.#identity) this.#formerLeaders.add(change.leader);
    if (change.type === 'started' || change.type === 'stopped') {
      this.#desired = change.isLeader;
      this.#kick();
    }
  }

  #kick(): void {
    this.#dirty = true;
    if (this.#running) {
      // Cut a back-off short: the desired state changed.
      this.#failures = Math.min(this.#failures, 1);
      this.#sleeper.wake();
      return;
    }
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      if (this.#dirty && !this.#stopped) this.#kick();
    });
  }

  /** Periodic resync, and the wait for the election's first read. */
  #schedule(ms: number): void {
    this.#cancelTimer?.();
    if (this.#stopped) return;
    this.#cancelTimer = this.#clock.setTimer(ms, () => {
      const snapshot = this.#feed?.snapshot();
      if (!snapshot?.ready) {
        this.#schedule(100);
        return;
      }
      this.#desired = snapshot.isLeader;
      this.#kick();
      this.#schedule(this.#resyncMs);
    });
  }

  async #run(): Promise<void> {
    while (this.#dirty && !this.#stopped) {
      this.#dirty = false;
      if (this.#desired === undefined) continue;
      try {
        await this.#reconcileOwnPod();
        if (this.#desired) await this.#cleanFormerLeaders();
        this.#failures = 0;
        this.#problem.succeeded();
      } catch (error) {
        this.#failures += 1;
        this.#report(error);
        this.#dirty = true;
        await this.#sleeper.sleep(backoff(this.#failures, this.#retryBaseMs, this.#retryCapMs, this.#random));
      }
    }
  }

  async #reconcileOwnPod(): Promise<void> {
    const { key, value } = this.#label;
    const pod = await this.#api.read(this.#podName);
    // Read after the call: a change that arrived meanwhile is what counts.
    const desired = this.#desired;
    if (!pod) {
      // No Pod carries no label: nothing to remove, and a stop need not wait out the back-off.
      if (!desired) {
        this.#applied = false;
        return;
      }
      throw new MissingPodError(this.#podName, this.#api.namespace, this.#missingPodAdvice);
    }
    const has = pod.labels[key] === value;
    if (desired && !has) {
      await this.#api.patchLabels(this.#podName, { [key]: value });
      this.#log.info({ pod: this.#podName, label: `${key}=${value}` }, 'labelled this pod as the leader');
    } else if (!desired && has) {
      await this.#api.patchLabels(this.#podName, { [key]: null });
      this.#log.info({ pod: this.#podName, label: `${key}=${value}` }, 'removed the leader label from this pod');
    }
    this.#applied = desired;
  }

  /** Removes the label from Pods of earlier leaders that still carry it, only while this replica leads. */
  async #cleanFormerLeaders(): Promise<void> {
    const { key, value } = this.#label;
    for (const name of [...this.#formerLeaders]) {
      if (!this.#desired || this.#stopped) return;
      if (name === this.#podName || name === this.#identity) {
        this.#formerLeaders.delete(name);
        continue;
      }
      const pod = await this.#api.read(name);
      if (pod && pod.labels[key] === value) {
        try {
          // Only if the Pod is unchanged since read; on a conflict the next round reads it again.
          await this.#api.patchLabels(name, { [key]: null }, pod.resourceVersion);
          this.#log.info(
            { pod: name, label: `${key}=${value}` },
            "removed the leader label from a previous leader's pod",
          );
        } catch (error) {
          const failure = toKubeApiError('patch', error);
          if (failure.kind !== 'not-found') throw failure;
        }
      }
      this.#formerLeaders.delete(name);
    }
  }

  #report(error: unknown): void {
    let problem: string;
    if (error instanceof MissingPodError) {
      problem = error.message;
    } else {
      const failure = toKubeApiError('patch', error);
      const cause = `cannot ${failure.verb} pods for the leader label: ${failure.kind}: ${failure.message}`;
      problem = accessHint(failure, this.#access) ?? cause;
    }
    if (this.#problem.first(problem)) this.#log.warn({ pod: this.#podName, failures: this.#failures }, problem);
    else this.#log.debug({ failures: this.#failures }, problem);
  }
}

class MissingPodError extends Error {
  constructor(pod: string, namespace: string, advice: string) {
    super(`pod "${pod}" not found in namespace "${namespace}": ${advice}; retrying with back-off`);
    this.name = 'MissingPodError';
  }
}
