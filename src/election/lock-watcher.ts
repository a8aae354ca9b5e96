import { toKubeApiError } from '../kube-api/api-error.ts';
import type { Lock, LockObservation } from '../lock/types.ts';
import type { Log } from '../log/logger.ts';
import { backoff } from '../runtime/backoff.ts';
import type { Clock } from '../runtime/clock.ts';

export interface LockWatcherOptions {
  lock: Lock;
  clock: Clock;
  random: () => number;
  log: Log;
  retryPeriodMs: number;
  /** Where to resume: the resourceVersion of the newest observation, `''` when there is none. */
  resourceVersion(): string;
  onObservation(observation: LockObservation): void;
  onDeleted(resourceVersion: string): void;
  /** Events may have been missed (e.g. 410 Expired): the owner reads the lock afresh. */
  onGap(): void;
}

/**
 * A stream that lasted this long, or delivered an event, was healthy: watch again at once. Shorter empty streams
 * count as failures and back off, so a server or proxy that closes every watch at once is not hammered (client-go's
 * reflector calls these "very short watch").
 */
const SHORT_STREAM_MS = 1_000;

/**
 * Keeps one watch open on the lock object: re-watches from the last seen resourceVersion when the server or the
 * client library closes the stream, and backs off while watching fails (the elector polls meanwhile).
 */
export class LockWatcher {
  readonly #options: LockWatcherOptions;
  #stopWatch: (() => void) | undefined;
  #cancelRetry: (() => void) | undefined;
  #failures = 0;
  #healthy = false;
  #stopped = true;
  /** Each stream opened counts one up: events and ends of a stream superseded by `restart()` are ignored. */
  #generation = 0;

  constructor(options: LockWatcherOptions) {
    this.#options = options;
  }

  /** True while a watch stream is open: the elector then trusts its cache and sends no periodic reads. */
  get healthy(): boolean {
    return this.#healthy;
  }

  start(): void {
    this.#stopped = false;
    void this.#open();
  }

  /**
   * Drops the open stream and watches again from the newest version seen: for a stream that went silent without
   * ending (no FIN or RST reached us), which the owner noticed as a read found a change the stream never delivered.
   */
  restart(): void {
    if (this.#stopped) return;
    this.#cancelRetry?.();
    this.#cancelRetry = undefined;
    this.#stopWatch?.();
    this.#stopWatch = undefined;
    void this.#open();
  }

  /**
   * Stops at once: no event reaches the owner any more and no stream is opened again. Returns what closes the stream
   * still open, for the caller to run once more urgent work is under way: closing it costs the HTTP client several
   * milliseconds of synchronous work (3–15 ms measured on a busy machine), which a leader's release must not wait for.
   */
  stop(): () => void {
    this.#stopped = true;
    this.#healthy = false;
    this.#cancelRetry?.();
    const close = this.#stopWatch ?? (() => {});
    this.#stopWatch = undefined;
    return close;
  }

  async #open(): Promise<void> {
    const { lock, clock, log } = this.#options;
    const openedAt = clock.now();
    const generation = ++this.#generation;
    const superseded = () => generation !== this.#generation;
    let ended = false;
    let events = 0;
    try {
      const stop = await lock.watch(this.#options.resourceVersion(), {
        onEvent: (event) => {
          if (this.#stopped || superseded()) return;
          events++;
          if (event.type === 'changed') this.#options.onObservation(event.observation);
          else this.#options.onDeleted(event.resourceVersion);
        },
        onEnd: (error) => {
          ended = true;
          if (superseded()) return;
          this.#stopWatch = undefined;
          if (this.#stopped) {
            this.#healthy = false;
            return;
          }
          const healthyStream = events > 0 || clock.now() - openedAt >= SHORT_STREAM_MS;
          const failure = error ? toKubeApiError('watch', error) : undefined;
          if (failure?.status === 410) this.#failures = 0;
          else this.#failures = healthyStream ? 0 : this.#failures + 1;
          const delay = this.#retryDelay();
          // A clean close watched again at once loses nothing (we resume from the last resourceVersion), so the
          // cache stays trusted. Anything else is a gap: the owner reads afresh and polls until the watch is back.
          this.#healthy = !failure && delay === 0;
          if (!this.#healthy) {
            if (failure && failure.status !== 410)
              log.debug({ err: failure.message, status: failure.status }, 'watch failed; polling until it is back');
            this.#options.onGap();
          }
          this.#retry(delay);
        },
      });
      if (this.#stopped || superseded()) {
        stop();
        return;
      }
      if (!ended) {
        this.#stopWatch = stop;
        this.#healthy = true;
      }
    } catch (error) {
      if (superseded()) return;
      this.#failures++;
      const wasHealthy = this.#healthy;
      this.#healthy = false;
      log.debug({ err: toKubeApiError('watch', error).message }, 'could not watch the lock; polling until it is back');
      if (wasHealthy) this.#options.onGap();
      this.#retry(this.#retryDelay());
    }
  }

  /** The first retry is immediate (a server closing a stream is routine); repeated failures back off. */
  #retryDelay(): number {
    return this.#failures <= 1
      ? 0
      : backoff(
          this.#failures - 1,
          this.#options.retryPeriodMs / 2,
          this.#options.retryPeriodMs * 15,
          this.#options.random,
        );
  }

  #retry(delay: number): void {
    if (this.#stopped) return;
    this.#cancelRetry = this.#options.clock.setTimer(delay, () => {
      this.#cancelRetry = undefined;
      void this.#open();
    });
  }
}
