/**
 * Resolves once the event loop has polled for I/O again: an immediate queued from an immediate runs in the next turn,
 * after that turn's poll phase. Work awaited behind it yields to requests that arrived meanwhile (e.g. `GET /` right
 * after a leadership change).
 */
export async function afterNextPoll(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
}
