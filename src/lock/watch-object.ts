import type { V1ObjectMeta, Watch } from '@kubernetes/client-node';
import { toKubeApiError } from '../kube-api/api-error.ts';
import type { LockObservation, WatchHandlers } from './types.ts';

/** client-go's reflector minWatchTimeout. */
const WATCH_TIMEOUT_SECONDS = 300;

interface WatchStatus {
  code?: number;
  reason?: string;
  message?: string;
}

/** Watches one named object through client-node's Watch and turns its events into lock observations. */
export async function watchObject(
  watch: Watch,
  collectionPath: string,
  name: string,
  resourceVersion: string,
  observe: (object: unknown) => LockObservation,
  handlers: WatchHandlers,
): Promise<() => void> {
  let ended = false;
  const end = (error: unknown) => {
    if (ended) return;
    ended = true;
    handlers.onEnd(error);
  };
  const query: Record<string, string | boolean | number> = {
    fieldSelector: `metadata.name=${name}`,
    allowWatchBookmarks: true,
    // Bounded on the server side too, as client-go's reflector does (a random 5 to 10 minutes): the server ends the
    // stream cleanly and it is opened again from the last resourceVersion.
    timeoutSeconds: Math.floor(WATCH_TIMEOUT_SECONDS * (1 + Math.random())),
  };
  if (resourceVersion) query.resourceVersion = resourceVersion;
  const controller = await watch.watch(
    collectionPath,
    query,
    (type: string, object: unknown) => {
      if (ended) return;
      if (type === 'ADDED' || type === 'MODIFIED') {
        handlers.onEvent({ type: 'changed', observation: observe(object) });
      } else if (type === 'DELETED') {
        const metadata = (object as { metadata?: V1ObjectMeta }).metadata;
        handlers.onEvent({ type: 'deleted', resourceVersion: metadata?.resourceVersion ?? '' });
      } else if (type === 'ERROR') {
        // e.g. 410 Expired: the resourceVersion is too old; the caller reads afresh and watches again.
        const status = object as WatchStatus;
        controller.abort();
        end(
          toKubeApiError(
            'watch',
            Object.assign(new Error(status.message ?? 'watch error'), { statusCode: status.code ?? 500 }),
          ),
        );
      }
      // BOOKMARK only keeps the stream alive.
    },
    (error: unknown) => end(error ?? null),
  );
  return () => {
    ended = true;
    controller.abort();
  };
}
