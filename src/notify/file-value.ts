import { readFileSync } from 'node:fs';

/** How often a FileValue re-reads its file, at most. */
const REFRESH_MS = 10_000;

/** The file's text, trimmed; an empty file is an error. */
export function nonEmptyText(text: string): string {
  const value = text.trim();
  if (value === '') throw new Error('the file is empty');
  return value;
}

/**
 * A value kept in a file, e.g. a header value, a routing key or signing secrets in a mounted Secret (which the kubelet
 * updates in place on rotation): read and parsed at start, so a bad file stops startup, and re-read at most every
 * 10 s, so a rotation is picked up; a failed re-read keeps the last good value.
 */
export class FileValue<T> {
  readonly path: string;
  readonly #parse: (text: string) => T;
  #value: T;
  #readAt: number;

  constructor(path: string, parse: (text: string) => T) {
    this.path = path;
    this.#parse = parse;
    this.#value = this.#read();
    this.#readAt = performance.now();
  }

  value(): T {
    if (performance.now() - this.#readAt > REFRESH_MS) {
      this.#readAt = performance.now();
      try {
        this.#value = this.#read();
      } catch {
        // keep the last good value; the file is being replaced
      }
    }
    return this.#value;
  }

  #read(): T {
    return this.#parse(readFileSync(this.path, 'utf8'));
  }
}
