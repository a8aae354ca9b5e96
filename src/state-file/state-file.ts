import { rename, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';

/**
 * `--state-file`: the current leader JSON (the body of `GET /leader`), rewritten on every change through a temporary
 * file and a rename, so a reader never sees a partial file. Writes are coalesced: at most one in flight, and the last
 * state always written.
 */
export class StateFile {
  readonly path: string;
  readonly #body: () => unknown;
  readonly #log: Pick<Logger, 'warn'>;
  #writing: Promise<void> | undefined;
  #dirty = false;

  constructor(path: string, body: () => unknown, log: Pick<Logger, 'warn'>) {
    this.path = path;
    this.#body = body;
    this.#log = log;
  }

  /** Writes the current state soon; returns when it (or a later state) is on disk. */
  update(): Promise<void> {
    if (this.#writing) {
      this.#dirty = true;
      return this.#writing;
    }
    this.#writing = this.#loop().finally(() => {
      this.#writing = undefined;
    });
    return this.#writing;
  }

  /** Resolves once nothing is left to write. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async #loop(): Promise<void> {
    do {
      this.#dirty = false;
      const temporary = `${this.path}.${process.pid}.tmp`;
      try {
        await writeFile(temporary, `${JSON.stringify(this.#body())}\n`, { mode: 0o644 });
        await rename(temporary, this.path);
      } catch (error) {
        this.#log.warn({ path: this.path, err: (error as Error).message }, 'cannot write the state file');
      }
    } while (this.#dirty);
  }
}
