import type { V1ObjectMeta } from '@kubernetes/client-node';

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
export function withOwnAnnotations(
  metadata: V1ObjectMeta,
  own: Record<string, string>,
  extra: Record<string, string> = {},
): V1ObjectMeta {
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.annotations ?? {})) {
    if (!key.startsWith(OWN_ANNOTATION_PREFIX)) annotations[key] = value;
  }
  Object.assign(annotations, own, extra);
  return { ...metadata, annotations };
}
