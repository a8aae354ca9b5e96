/**
 * Types shared by the embedded Lease API (a Kubernetes API stand-in for the local demo run and the tests;
 * never used in production).
 */

/** A JSON value as the API server reads and writes it. */
export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

/** The Kubernetes verbs the authorizer sees (RequestInfo.Verb in the real server). */
export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** RBAC stand-in: is `verb` on `resource` in `namespace` (and object `name`, when the request names one) allowed? */
export type AllowFn = (verb: Verb, resource: string, namespace: string, name?: string) => boolean;

/** What a bearer token authenticates as. Without `allowed`, everything is allowed. */
export interface TokenUser {
  user: string;
  allowed?: AllowFn;
}

/** One request as the server understood it, for tests that count reads and writes. */
export interface RequestRecord {
  method: string;
  path: string;
  /** `undefined` for requests that are not resource requests (e.g. /version). */
  verb: Verb | undefined;
  /** Plural resource name, e.g. `leases`, `configmaps`. */
  resource: string | undefined;
  namespace: string | undefined;
  name: string | undefined;
  userAgent: string;
  /** The authenticated user, when tokens are configured. */
  user: string | undefined;
  /** Milliseconds since the epoch when the request arrived. */
  at: number;
}

/** Watch event types on the wire. */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
