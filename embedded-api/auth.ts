/**
 * Bearer-token authentication and an RBAC stand-in. With no tokens configured every request is allowed
 * (like a server without authentication). With tokens: a missing or unknown token is 401 (the real server
 * with --anonymous-auth=false), and a request the user's `allowed` function rejects is 403 with the
 * authorizer's message (apiserver responsewriters.forbiddenMessage).
 */
import { forbidden, unauthorized, type ApiError } from './status.ts';
import type { AllowFn, TokenUser, Verb } from './types.ts';

export interface Attributes {
  verb: Verb;
  group: string;
  resource: string;
  namespace: string;
  /** The object name; for list/watch, the name a `metadata.name=` field selector pins (as RequestInfo does). */
  name: string;
}

export class Authenticator {
  private readonly tokens: Map<string, TokenUser> | undefined;

  constructor(tokens: Record<string, TokenUser> | undefined) {
    this.tokens = tokens === undefined ? undefined : new Map(Object.entries(tokens).map(([t, u]) => [t, { ...u }]));
  }

  get enabled(): boolean {
    return this.tokens !== undefined;
  }

  /** The user for an Authorization header, or a 401. Without tokens configured: no user, no check. */
  authenticate(authorization: string | undefined): { user: string | undefined } | ApiError {
    if (this.tokens === undefined) return { user: undefined };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    const entry = match ? this.tokens.get(match[1]!) : undefined;
    if (!entry) return unauthorized();
    return { user: entry.user };
  }

  /** `undefined` when allowed, else the 403. */
  authorize(authorization: string | undefined, a: Attributes): ApiError | undefined {
    if (this.tokens === undefined) return undefined;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    const entry = match ? this.tokens.get(match[1]!) : undefined;
    if (!entry) return unauthorized();
    if (!entry.allowed || entry.allowed(a.verb, a.resource, a.namespace, a.name === '' ? undefined : a.name))
      return undefined;
    const who = `User "${entry.user}" cannot ${a.verb} resource "${a.resource}" in API group "${a.group}"`;
    const where = a.namespace !== '' ? ` in the namespace "${a.namespace}"` : ' at the cluster scope';
    return forbidden({ group: a.group, resource: a.resource }, a.name, who + where);
  }

  /** Replaces a token's RBAC function (undefined: allow everything). Unknown tokens throw. */
  setAllowed(token: string, allowed: AllowFn | undefined): void {
    const entry = this.tokens?.get(token);
    if (!entry) throw new Error(`embedded API: unknown token ${JSON.stringify(token)}`);
    if (allowed === undefined) delete entry.allowed;
    else entry.allowed = allowed;
  }

  /** Adds or replaces a token (turns authentication on if it was off). */
  setToken(token: string, user: TokenUser): void {
    if (this.tokens === undefined)
      throw new Error('embedded API: started without tokens; pass { tokens } to enable authentication');
    this.tokens.set(token, { ...user });
  }
}
