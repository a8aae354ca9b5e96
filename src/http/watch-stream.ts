import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { leaderBody, type LeadershipFeed } from '../election/leadership.ts';

const KEEPALIVE_MS = 15_000;

/**
 * Server-Sent Events: the current state on connect (`event: state`), then one event per change, named by its type
 * (`started`, `stopped`, `leader-changed`), each carrying the `/leader` body.
 */
export function watchStream(c: Context, leadership: LeadershipFeed): Response {
  return streamSSE(c, async (stream) => {
    let id = 0;
    const queue: Array<{ event: string; data: string }> = [
      { event: 'state', data: JSON.stringify(leaderBody(leadership.snapshot())) },
    ];
    let notify: (() => void) | undefined;
    const unsubscribe = leadership.subscribe((change) => {
      queue.push({ event: change.type, data: JSON.stringify(leaderBody(leadership.snapshot())) });
      notify?.();
    });
    let closed = false;
    stream.onAbort(() => {
      closed = true;
      notify?.();
    });
    try {
      while (!closed) {
        const next = queue.shift();
        if (next) {
          await stream.writeSSE({ ...next, id: String(++id) });
          continue;
        }
        const timedOut = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(true), KEEPALIVE_MS);
          notify = () => {
            clearTimeout(timer);
            resolve(false);
          };
        });
        notify = undefined;
        if (timedOut && !closed) await stream.write(': keepalive\n\n');
      }
    } finally {
      unsubscribe();
    }
  });
}
