import { toLockApiError } from '../lock/api-error.ts';
import type { Lock, LockObservation } from '../lock/types.ts';
import type { Clock } from './clock.ts';
import type { ElectorLog } from './elector.ts';
import { backoff } from './timing.ts';

export interface LockWatcherOptions {
  lock: Lock;
  clock: Clock;
  random: () => number;
  log: ElectorLog;
  retryPeriodMs: number;
  /** Where to resume: the resourceVersion of the newest observation, `''` when there is none. */
  resourceVersion(): string;
  onObservation(observation: LockObservation): void;
  onDeleted(resourceVersion: string): void;
  /** Events may have been missed (e.g. 410 Expired): the owner reads the lock afresh. */
  onGap(): void;
}

/** A stream that lasted this long was healthy: watch again at once instead of backing off. */
const HEALTHY_STREAM_MS = 5_000;

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

  stop(): void {
    this.#stopped = true;
    this.#healthy = false;
    this.#cancelRetry?.();
    this.#stopWatch?.();
    this.#stopWatch = undefined;
  }

  async #open(): Promise<void> {
    const { lock, clock, log } = this.#options;
    const openedAt = clock.now();
    let ended = false;
    try {
      const stop = await lock.watch(this.#options.resourceVersion(), {
        onEvent: (event) => {
          if (this.#stopped) return;
          if (event.type === 'changed') this.#options.onObservation(event.observation);
          else this.#options.onDeleted(event.resourceVersion);
        },
        onEnd: (error) => {
          ended = true;
          this.#healthy = false;
          this.#stopWatch = undefined;
          if (this.#stopped) return;
          const lasted = clock.now() - openedAt;
          if (error) {
            const failure = toLockApiError('watch', error);
            if (failure.status === 410) {
              // Our resourceVersion is too old for the server: read afresh, then watch from there.
              this.#options.onGap();
              this.#failures = 0;
            } else {
              this.#failures = lasted >= HEALTHY_STREAM_MS ? 0 : this.#failures + 1;
              if (this.#failures > 0) log.debug({ err: failure.message, status: failure.status }, 'watch failed; polling until it is back');
              this.#options.onGap();
            }
          } else {
            this.#failures = lasted >= HEALTHY_STREAM_MS ? 0 : this.#failures + 1;
          }
          this.#retry();
        },
      });
      if (this.#stopped) {
        stop();
        return;
      }
      if (!ended) {
        this.#stopWatch = stop;
        this.#healthy = true;
      }
    } catch (error) {
      this.#failures++;
      log.debug({ err: toLockApiError('watch', error).message }, 'could not watch the lock; polling until it is back');
      this.#retry();
    }
  }

  #retry(): void {
    if (this.#stopped) return;
    // The first retry is immediate (a server closing a stream is routine); repeated failures back off.
    const delay = this.#failures <= 1 ? 0 : backoff(this.#failures - 1, this.#options.retryPeriodMs / 2, this.#options.retryPeriodMs * 15, this.#options.random);
    this.#cancelRetry = this.#options.clock.setTimer(delay, () => {
      this.#cancelRetry = undefined;
      void this.#open();
    });
  }
}
