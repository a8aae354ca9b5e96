/**
 * For a part that retries a failing call: say a problem once, not once per attempt, until a call succeeds again.
 * `first(problem)` is true when `problem` differs from the last one said (a new problem is said at once);
 * `succeeded()` re-arms, so the same problem coming back after a success is said again.
 */
export class OnceUntilSuccess {
  #said: string | undefined;

  /** Whether to say `problem` loudly now; remembers it as said. */
  first(problem: string): boolean {
    if (problem === this.#said) return false;
    this.#said = problem;
    return true;
  }

  /** A call succeeded: the next problem is said again, even the same one. */
  succeeded(): void {
    this.#said = undefined;
  }
}
