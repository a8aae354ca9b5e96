import type { V1ObjectMeta, Watch } from '@kubernetes/client-node';
import { toLockApiError } from '../kube-api/api-error.ts';
import type { LockObservation, WatchHandlers } from './types.ts';

/** leaderhook's own annotations on a lock object carry this prefix; every other annotation is left untouched. */
const OWN_ANNOTATION_PREFIX = 'leaderhook.io/';

export function ownAnnotations(annotations: Record<string, string> | undefined): Record<string, string> {
  const own: Record<string, string> = {};
  for (const [key, value] of Object.entries(annotations ?? {})) {
    if (key.startsWith(OWN_ANNOTATION_PREFIX)) own[key] = value;
  }
  return own;
}

/** Replaces leaderhook's annotations in `metadata` with `own`, keeping everyone else's. */
export function withOwnAnnotations(metadata: V1ObjectMeta, own: Record<string, string>, extra: Record<string, string> = {}): V1ObjectMeta {
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.annotations ?? {})) {
    if (!key.startsWith(OWN_ANNOTATION_PREFIX)) annotations[key] = value;
  }
  Object.assign(annotations, own, extra);
  return { ...metadata, annotations };
}

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
  const query: Record<string, string | boolean> = { fieldSelector: `metadata.name=${name}`, allowWatchBookmarks: true };
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
        end(toLockApiError('watch', Object.assign(new Error(status.message ?? 'watch error'), { statusCode: status.code ?? 500 })));
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
