import { readFileSync } from 'node:fs';

/** How often a FileValue re-reads its file, at most. */
const REFRESH_MS = 10_000;

/**
 * A value kept in a file (a header value, a routing key; a target's `urlFile` is read once, at start): read at start,
 * so a missing file stops startup, and re-read at most every 10 s, so a rotated Secret is picked up; a failed re-read
 * keeps the last value.
 */
export class FileValue {
  readonly path: string;
  #value: string;
  #readAt: number;

  constructor(path: string) {
    this.path = path;
    this.#value = this.#read();
    this.#readAt = performance.now();
  }

  value(): string {
    if (performance.now() - this.#readAt > REFRESH_MS) {
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
