// What the schemas need beside zod/mini, the zod they are written in: its plain functions tree-shake, so it costs the
// sidecar ~0.1 MiB of memory where zod's chained API costs ~1.4 MiB.
import * as z from 'zod/mini';
// The one locale's file: the library, unbundled, would otherwise load all of zod's ~50 locales from `zod/locales`.
import en from 'zod/v4/locales/en.js';

/**
 * `schema.safeParse(input)` with zod's English messages: zod/mini registers none (zod's chained API registers English
 * on first use), and without them every message zod words itself ("Invalid input: expected string, received number",
 * "Too small: expected number to be >=1") would read "Invalid input". Not over a locale already chosen: the library
 * shares the app's zod.
 */
export function safeParse<T extends z.ZodMiniType>(
  schema: T,
  input: unknown,
): z.core.util.SafeParseResult<z.output<T>> {
  if (!z.config().localeError) z.config(en());
  return schema.safeParse(input);
}

/**
 * Fails a transform on its input with `message`, as `context.addIssue` of zod's chained API does (zod/mini's
 * transforms have no `addIssue`); returns `z.NEVER`, for the transform to return.
 */
export function rejectInput(context: z.core.ParsePayload, message: string): never {
  context.issues.push({ code: 'custom', message, input: context.value });
  return z.NEVER;
}
