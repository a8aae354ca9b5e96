export type Listener<T> = (value: T) => void;

/**
 * A minimal typed fan-out: listeners run synchronously, in subscription order, and one throwing never stops the rest.
 * A value emitted from inside a listener is delivered after the current one has reached every listener, so all
 * listeners see the same order.
 */
export class Fanout<T> {
  readonly #listeners = new Set<Listener<T>>();
  readonly #onError: (error: unknown) => void;
  readonly #pending: T[] = [];
  #emitting = false;

  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  subscribe(listener: Listener<T>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(value: T): void {
    this.#pending.push(value);
    if (this.#emitting) return;
    this.#emitting = true;
    try {
      for (let next = this.#pending.shift(); next !== undefined; next = this.#pending.shift()) {
        for (const listener of this.#listeners) {
          try {
            listener(next);
          } catch (error) {
            this.#onError(error);
          }
        }
      }
    } finally {
      this.#emitting = false;
    }
  }
}
