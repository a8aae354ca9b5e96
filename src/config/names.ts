// What the CLI's flags and the library's options share: names as Kubernetes checks them, and the default identity.
import { hostname } from 'node:os';
import * as z from 'zod/mini';
import { DNS_SUBDOMAIN } from '../leader-pod/label.ts';

/** A DNS subdomain, as Kubernetes requires of object names. */
export const objectName = z
  .string()
  .check(
    z.maxLength(253, 'must be at most 253 characters'),
    z.regex(DNS_SUBDOMAIN, 'must be a lower-case DNS name (a-z, 0-9, "-", "."), as Kubernetes object names are'),
  );

/** A DNS label, as Kubernetes requires of namespace names. */
export const namespaceName = z
  .string()
  .check(
    z.maxLength(63, 'must be at most 63 characters'),
    z.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a lower-case DNS label (a-z, 0-9, "-")'),
  );

/** One of `values`, else a message that lists them all: `must be a, b or c, not "x"`. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  const listed = `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`;
  return z.enum(values, { error: (issue) => `must be ${listed}, not "${String(issue.input)}"` });
}

/** The identity when none is given, for the CLI and the library alike: `$POD_NAME`, else the hostname. */
export function defaultIdentity(env: NodeJS.ProcessEnv): string {
  return env.POD_NAME || hostname();
}

/**
 * Why `identity` cannot be one, or `undefined`: it is written into the lock, logs and event ids (whose recipe joins
 * its fields with line breaks), so it holds no control character.
 */
export function identityProblem(identity: string): string | undefined {
  if ([...identity].some((character) => character < ' ' || character === '\u007f'))
    return 'must not contain control characters (line breaks, tabs, ...)';
  return undefined;
}

/** Whether `name` can be a Pod's name (a lower-case DNS subdomain of at most 253 characters). */
export function isPodName(name: string): boolean {
  return name.length <= 253 && DNS_SUBDOMAIN.test(name);
}
