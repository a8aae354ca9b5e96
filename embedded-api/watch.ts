/**
 * Watch streams: 200 `application/json`, chunked, one JSON event per line, as the v1.20 watch cache serves
 * them. No resourceVersion (or "0"): the current objects as ADDED first. `resourceVersion=N`: the retained
 * changes after N, or one ERROR event (Status 410 Expired) and the end of the stream when N is older than
 * the history. BOOKMARKs when asked for; the stream ends after `timeoutSeconds`, or when the test handle
 * closes all watches or stops the server.
 */
import { emptyStruct } from './json-decode.ts';
import { compactJson } from './json-text.ts';
import { apiVersionOf, type ResourceType } from './resources.ts';
import { toApi } from './registry.ts';
import type { Matcher } from './selectors.ts';
import { expired } from './status.ts';
import type { Change, Store } from './store.ts';
import type { JsonObject, WatchEventType } from './types.ts';

export interface WatchRequest {
  type: ResourceType;
  /** `undefined` for a watch across all namespaces. */
  namespace: string | undefined;
  matches: Matcher;
  /** Parsed resourceVersion; 0 when unset or "0". */
  since: number;
  bookmarks: boolean;
  /** How an event's object is sent (e.g. as a Table row); by default in the API's form. */
  present?: (stored: JsonObject, api: JsonObject) => JsonObject;
  timeoutMs: number;
  bookmarkIntervalMs: number;
}

/** Open watch streams, so the test handle can end them all at once. */
export class WatchRegistry {
  private readonly open = new Set<() => void>();

  add(close: () => void): () => void {
    this.open.add(close);
    return () => this.open.delete(close);
  }

  closeAll(): void {
    for (const close of [...this.open]) close();
  }

  get size(): number {
    return this.open.size;
  }
}

const line = (type: WatchEventType, object: JsonObject): Uint8Array =>
  new TextEncoder().encode(`${compactJson({ type, object })}\n`);

export function watchStream(store: Store, registry: WatchRegistry, req: WatchRequest): ReadableStream<Uint8Array> {
  const { type } = req;
  const inScope = (obj: JsonObject): boolean => {
    const ns = (obj.metadata as JsonObject | undefined)?.namespace;
    return (req.namespace === undefined || ns === req.namespace) && req.matches(obj);
  };
  let cleanup = (): void => {};
  return new ReadableStream<Uint8Array>({
    start(controller) {
      let closed = false;
      const timers: NodeJS.Timeout[] = [];
      let unsubscribe = (): void => {};
      let unregister = (): void => {};
      const close = (): void => {
        if (closed) return;
        closed = true;
        for (const t of timers) clearTimeout(t);
        unsubscribe();
        unregister();
        try {
          controller.close();
        } catch {
          // already closed by the client going away
        }
      };
      cleanup = () => {
        closed = true;
        for (const t of timers) clearTimeout(t);
        unsubscribe();
        unregister();
      };
      const send = (t: WatchEventType, object: JsonObject): void => {
        if (!closed) controller.enqueue(line(t, object));
      };
      const present = (stored: JsonObject): JsonObject => {
        const api = toApi(type, stored);
        return req.present ? req.present(stored, api) : api;
      };
      const deliver = (change: Change): void => {
        if (change.revision <= lastSent) return;
        const now = inScope(change.object);
        const before = change.previous !== undefined && inScope(change.previous);
        const object = present(change.object);
        if (change.type === 'MODIFIED') {
          if (now && before) send('MODIFIED', object);
          else if (now) send('ADDED', object);
          else if (before) send('DELETED', object);
        } else if (now) send(change.type, object);
        lastSent = change.revision;
      };

      let lastSent = req.since;
      if (req.since === 0) {
        lastSent = store.currentRevision;
        for (const obj of store.list(type.storage, req.namespace)) if (inScope(obj)) send('ADDED', present(obj));
      } else {
        const replay = store.changesSince(type.storage, req.since);
        if ('expired' in replay) {
          send('ERROR', expired(replay.expired).status);
          close();
          return;
        }
        for (const change of replay.changes) deliver(change);
      }
      unsubscribe = store.subscribe({ storage: type.storage, deliver });
      unregister = registry.add(close);

      const deadline = Date.now() + req.timeoutMs;
      const end = setTimeout(close, req.timeoutMs);
      end.unref();
      timers.push(end);
      if (req.bookmarks) {
        const bookmark = (): void => {
          const object: JsonObject = { kind: type.kind, apiVersion: apiVersionOf(type), ...emptyStruct(type.schema) };
          object.metadata = { resourceVersion: String(store.currentRevision), creationTimestamp: null };
          send('BOOKMARK', object);
          schedule();
        };
        // Every interval, or 2s before the stream's deadline if that comes first (cacheWatcher.nextBookmarkTime).
        const schedule = (): void => {
          const now = Date.now();
          let at = now + req.bookmarkIntervalMs;
          if (deadline - 2000 < at) at = deadline - 2000;
          if (at < now) return;
          const t = setTimeout(bookmark, at - now);
          t.unref();
          timers.push(t);
        };
        schedule();
      }
    },
    cancel() {
      cleanup();
    },
  });
}
