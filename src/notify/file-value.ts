import { readFileSync } from 'node:fs';

/**
 * A value kept in a file (a header value, a routing key, a URL with a token): read at start, so a missing file stops
 * startup, and re-read at most every `refreshMs`, so a rotated Secret is picked up; a failed re-read keeps the last value.
 */
export class FileValue {
  readonly path: string;
  readonly #refreshMs: number;
  #value: string;
  #readAt: number;

  constructor(path: string, refreshMs = 10_000) {
    this.path = path;
    this.#refreshMs = refreshMs;
    this.#value = this.#read();
    this.#readAt = performance.now();
  }

  value(): string {
    if (performance.now() - this.#readAt > this.#refreshMs) {
      this.#readAt = performance.now();
      try {
        this.#value = this.#read();
      } catch {
        // keep the last value
      }
    }
    return this.#value;
  }

  #read(): string {
    const text = readFileSync(this.path, 'utf8').trim();
    if (text === '') throw new Error('the file is empty');
    return text;
  }
}
