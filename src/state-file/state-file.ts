import { lstatSync, mkdtempSync, rmdirSync, statSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { leaderBody, type LeadershipFeed } from '../election/leadership.ts';
import type { Log } from '../log/logger.ts';
import { backoff } from '../runtime/backoff.ts';

/** How a failed write is retried without a change to prompt it: back-off from `baseMs` doubling up to `capMs`. */
export interface StateFileRetry {
  baseMs: number;
  capMs: number;
}

const DEFAULT_RETRY: StateFileRetry = { baseMs: 1_000, capMs: 30_000 };

/** Linux's NAME_MAX, in bytes: the longest name one directory entry may have. */
const NAME_MAX_BYTES = 255;

/**
 * `--state-file`: the current leader JSON (the body of `GET /leader`, see `leaderBody`), rewritten on every change
 * through a temporary file (`<path>.<pid>.tmp`, mode 0644) and a rename, so a reader never sees a partial file. Writes
 * are coalesced: at most one in flight, and the last state always written. A failed write is one warning; it is tried
 * again at the next change and, without one, after a back-off (`retry`, 1 s doubling up to 30 s, ±20 %) until it
 * succeeds, which is logged (info). Nothing throws.
 */
export class StateFile {
  readonly path: string;
  readonly #log: Log;
  readonly #retry: StateFileRetry;
  #unsubscribe: (() => void) | undefined;
  #writing: Promise<void> | undefined;
  #dirty = false;
  /** Consecutive failed writes; 0 once the last state is on disk. */
  #failures = 0;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(path: string, log: Log, retry: StateFileRetry = DEFAULT_RETRY) {
    this.path = path;
    this.#log = log;
    this.#retry = retry;
  }

  /** Writes the current state now, then again after every change `source` reports, until `stop()`. */
  follow(source: LeadershipFeed): void {
    this.stop();
    this.#unsubscribe = source.subscribe(() => void this.#update(source));
    void this.#update(source);
  }

  /** Stops following, and retrying a failed write. */
  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /**
   * Resolves once nothing is left to write, or after `timeoutMs` (a hung file system must not hold up a shutdown);
   * `true` when the last state is on disk.
   */
  async flush(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const written = (async () => {
      while (this.#writing) await this.#writing;
      return this.#failures === 0;
    })();
    const result = await Promise.race([written, timedOut]);
    clearTimeout(timer);
    return result;
  }

  /** Writes the current state soon; returns when it (or a later state) is on disk. */
  #update(source: LeadershipFeed): Promise<void> {
    if (this.#writing) {
      this.#dirty = true;
      return this.#writing;
    }
    this.#writing = this.#loop(source).finally(() => {
      this.#writing = undefined;
    });
    return this.#writing;
  }

  async #loop(source: LeadershipFeed): Promise<void> {
    do {
      this.#dirty = false;
      const temporary = temporaryPath(this.path);
      try {
        // Created anew (O_EXCL): a link or FIFO planted at that name is never followed or opened. What cannot be
        // removed (a directory) fails the write below.
        await unlink(temporary).catch(() => {});
        await writeFile(temporary, `${JSON.stringify(leaderBody(source.snapshot()))}\n`, { mode: 0o644, flag: 'wx' });
        await rename(temporary, this.path);
        if (this.#failures) this.#log.info({ path: this.path, failures: this.#failures }, 'state file written again');
        this.#failures = 0;
        clearTimeout(this.#retryTimer);
        this.#retryTimer = undefined;
      } catch (error) {
        this.#failures += 1;
        const fields = { path: this.path, err: (error as Error).message };
        if (this.#failures === 1) this.#log.warn(fields, 'cannot write the state file; retrying with back-off');
        else this.#log.debug({ ...fields, failures: this.#failures }, 'cannot write the state file');
        await unlink(temporary).catch(() => {});
      }
    } while (this.#dirty);
    if (this.#failures && this.#unsubscribe && !this.#retryTimer) {
      const { baseMs, capMs } = this.#retry;
      this.#retryTimer = setTimeout(
        () => {
          this.#retryTimer = undefined;
          void this.#update(source);
        },
        backoff(this.#failures, baseMs, capMs, Math.random),
      );
      this.#retryTimer.unref();
    }
  }
}

/**
 * Why `path` cannot be the state file, or undefined when it can: the file is replaced by a rename, which would put a
 * regular file in place of whatever is there — a device, a FIFO, a symbolic link — so only a regular file or nothing
 * may be there, and the directory must exist and take new files (the temporary file is written beside it; checked by
 * creating and removing a directory there).
 */
export function stateFilePathProblem(path: string): string | undefined {
  try {
    const existing = lstatSync(path);
    if (existing.isDirectory()) return `${JSON.stringify(path)} is a directory`;
    if (!existing.isFile())
      return `${JSON.stringify(path)} exists and is not a regular file: it would be replaced, so name a regular file or a new one`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return `${JSON.stringify(path)}: ${(error as Error).message}`;
  }
  const directory = dirname(path);
  try {
    if (!statSync(directory).isDirectory()) return `${JSON.stringify(directory)} is not a directory`;
  } catch {
    return `directory ${JSON.stringify(directory)} does not exist`;
  }
  const temporaryName = basename(temporaryPath(path));
  const nameBytes = Buffer.byteLength(temporaryName);
  if (nameBytes > NAME_MAX_BYTES)
    return `the file name is too long: its temporary file ${JSON.stringify(temporaryName)} would need ${nameBytes} bytes, more than the ${NAME_MAX_BYTES} a file name may have`;
  // Each write makes a temporary file there: a directory that takes none (read-only, /proc) fails now, not per change.
  // The probe is a new directory of a unique name: nothing already there (a link, a FIFO) is opened or followed.
  try {
    rmdirSync(mkdtempSync(join(directory, '.leaderhook-probe-')));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return `cannot create files in directory ${JSON.stringify(directory)} (${code})`;
  }
  return undefined;
}

function temporaryPath(path: string): string {
  return `${path}.${process.pid}.tmp`;
}
