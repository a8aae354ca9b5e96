import { readBoundedFile } from '../files/read-bounded.ts';

/** How often a FileValue re-reads its file, at most. */
const REFRESH_MS = 10_000;

/** The most a value file (signing secrets, a URL, a header value, a routing key) may hold: 64 KiB. */
export const MAX_VALUE_FILE_BYTES = 64 * 1024;

/** The file's text, trimmed; an empty file is an error. */
export function nonEmptyText(text: string): string {
  const value = text.trim();
  if (value === '') throw new Error('the file is empty');
  return value;
}

/** What is wrong with reading or parsing a file, for a message: never the file's content. */
export function describeFileProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code) return `cannot read (${code})`;
  return (error as Error).message;
}

/**
 * A value kept in a file, e.g. a header value, a routing key or signing secrets in a mounted Secret (which the kubelet
 * updates in place on rotation): read within bounds (a regular file of at most `MAX_VALUE_FILE_BYTES`, see
 * `readBoundedFile`) and parsed at start, so a bad file stops startup; re-read at most every `refreshMs` (10 s), so a
 * rotation is picked up. A failed re-read (unreadable, refused, or not parsing) keeps the last good value and is
 * reported to the `onReload` listener, which says it once and counts it.
 */
export class FileValue<T> {
  readonly path: string;
  readonly #parse: (text: string) => T;
  readonly #refreshMs: number;
  #value: T;
  #readAt: number;
  #onReload: ((problem: string | undefined) => void) | undefined;

  /** Throws what `readBoundedFile` or `parse` throws. */
  constructor(path: string, parse: (text: string) => T, refreshMs = REFRESH_MS) {
    this.path = path;
    this.#parse = parse;
    this.#refreshMs = refreshMs;
    this.#value = this.#read();
    this.#readAt = performance.now();
  }

  /** `listener` hears every re-read: `undefined` when it succeeded, else what is wrong (never the content). */
  onReload(listener: (problem: string | undefined) => void): void {
    this.#onReload = listener;
  }

  value(): T {
    if (performance.now() - this.#readAt >= this.#refreshMs) {
      this.#readAt = performance.now();
      try {
        this.#value = this.#read();
        this.#onReload?.(undefined);
      } catch (error) {
        this.#onReload?.(describeFileProblem(error));
      }
    }
    return this.#value;
  }

  #read(): T {
    return this.#parse(readBoundedFile(this.path, MAX_VALUE_FILE_BYTES));
  }
}
