import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { Counter, Gauge, type Registry } from 'prom-client';
import { leaderBody, type LeadershipFeed } from '../election/leadership.ts';

/** What `/watch` holds per client and in all. */
export interface WatchLimits {
  /** Streams open at once (`--max-watch-clients`); one more is answered 503. */
  maxClients: number;
  /** An idle stream gets a comment line this often, so a client that is gone is found by the write that fails. */
  keepAliveMs: number;
  /** A client that has not taken a write for this long is disconnected: it stopped reading. */
  stallMs: number;
  /** A client with this many events waiting for it is disconnected: it reads slower than the changes come. */
  maxPending: number;
}

export const WATCH_DEFAULTS: WatchLimits = { maxClients: 100, keepAliveMs: 15_000, stallMs: 30_000, maxPending: 256 };

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

/**
 * `GET /watch`, Server-Sent Events: the current state on connect (`event: state`), then one event per change, named
 * by its type (`started`, `stopped`, `leader-changed`), each carrying the `/leader` body. Bounded as `WatchLimits`
 * says; `HEAD /watch` answers the headers and ends. Metrics: `leaderhook_watch_clients`,
 * `leaderhook_watch_rejected_total`, `leaderhook_watch_dropped_total{reason}`.
 */
export class WatchStreams {
  readonly #leadership: LeadershipFeed;
  readonly #limits: WatchLimits;
  readonly #clients: Gauge;
  readonly #rejected: Counter;
  readonly #dropped: Counter<'reason'>;
  readonly #closing: AbortSignal | undefined;
  #open = 0;

  /** `closing`: once aborted, open streams send what is queued and end; new ones are answered 503. */
  constructor(
    leadership: LeadershipFeed,
    registry: Registry,
    limits: Partial<WatchLimits> = {},
    closing?: AbortSignal,
  ) {
    this.#leadership = leadership;
    this.#closing = closing;
    this.#limits = { ...WATCH_DEFAULTS, ...limits };
    const registers = [registry];
    this.#clients = new Gauge({ name: 'leaderhook_watch_clients', help: 'Open /watch streams', registers });
    this.#rejected = new Counter({
      name: 'leaderhook_watch_rejected_total',
      help: '/watch requests answered 503 because --max-watch-clients streams were open',
      registers,
    });
    this.#dropped = new Counter({
      name: 'leaderhook_watch_dropped_total',
      help: '/watch clients disconnected because they stopped reading (stalled) or fell behind (behind)',
      labelNames: ['reason'],
      registers,
    });
    this.#dropped.inc({ reason: 'stalled' }, 0);
    this.#dropped.inc({ reason: 'behind' }, 0);
  }

  handle(c: Context): Response {
    if (c.req.method === 'HEAD') return c.body(null, 200, SSE_HEADERS);
    if (this.#closing?.aborted)
      return c.text('shutting down; watch another replica\n', 503, { 'retry-after': '1', connection: 'close' });
    if (this.#open >= this.#limits.maxClients) {
      this.#rejected.inc();
      return c.text(
        `too many /watch clients (at most ${this.#limits.maxClients}, --max-watch-clients); ` +
          'retry later or poll GET /leader\n',
        503,
        { 'retry-after': '5', connection: 'close' },
      );
    }
    this.#opened(1);
    const { keepAliveMs, stallMs, maxPending } = this.#limits;
    const leadership = this.#leadership;
    const closing = this.#closing;
    return streamSSE(c, async (stream) => {
      let id = 0;
      const state = () => JSON.stringify(leaderBody(leadership.snapshot()));
      const queue: Array<{ event: string; data: string }> = [{ event: 'state', data: state() }];
      let wake: (() => void) | undefined;
      let closed = false;
      // The socket itself: a client that stopped reading would otherwise hold it until TCP gives up.
      const drop = (reason: 'stalled' | 'behind') => {
        if (closed) return;
        closed = true;
        this.#dropped.inc({ reason });
        (c.env as Partial<HttpBindings> | undefined)?.incoming?.socket.destroy();
        stream.abort();
        wake?.();
      };
      const unsubscribe = leadership.subscribe((change) => {
        queue.push({ event: change.type, data: state() });
        if (queue.length > maxPending) drop('behind');
        wake?.();
      });
      stream.onAbort(() => {
        closed = true;
        wake?.();
      });
      // On shutdown the stream ends cleanly once what is queued is sent (the last changes, e.g. `stopped`).
      const end = () => wake?.();
      closing?.addEventListener('abort', end, { once: true });
      try {
        while (!closed) {
          const next = queue.shift();
          const write = next ? stream.writeSSE({ ...next, id: String(++id) }) : undefined;
          if (write) {
            if (!(await settlesWithin(write, stallMs))) drop('stalled');
            continue;
          }
          if (closing?.aborted) break;
          const timedOut = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(true), keepAliveMs);
            wake = () => {
              clearTimeout(timer);
              resolve(false);
            };
          });
          wake = undefined;
          if (timedOut && !closed && !(await settlesWithin(stream.write(': keepalive\n\n'), stallMs))) drop('stalled');
        }
      } finally {
        closing?.removeEventListener('abort', end);
        unsubscribe();
        this.#opened(-1);
      }
    });
  }

  #opened(delta: number): void {
    this.#open += delta;
    this.#clients.set(this.#open);
  }
}

/** Whether `promise` settled within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
