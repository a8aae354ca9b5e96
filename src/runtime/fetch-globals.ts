/**
 * The sidecar's fetch globals (`fetch`, `Headers`, `Request`, `Response`, `FormData`, `WebSocket`, `MessageEvent`,
 * `CloseEvent`) become those of the undici package that @kubernetes/client-node already loads for every API call.
 *
 * Node.js backs these globals with a copy of undici of its own, loaded the first time one of them is read, and
 * Hono's Node.js adapter reads `Request`, `Response` and `Headers` when it is imported. The process then held two
 * undici: about 13 MiB more RSS in a bare HTTP server, 2 MiB in a leader on kube-apiserver (80.6 -> 78.6 MiB).
 *
 * Imported first by the composition root (src/cli.ts), so it runs before the adapter reads them; never by the
 * library, which leaves an application's globals alone. The globals are assigned, not redefined:
 * `Object.defineProperty` over one of Node's lazy globals loads the copy it replaces. This holds for the bundle the
 * image runs, whose built-ins load with `require` (scripts/build/builtins-via-require.ts): run from source, an ES
 * module import of `node:http` reads its lazy `WebSocket` export, which loads Node's copy anyway.
 */
import { CloseEvent, fetch, FormData, Headers, MessageEvent, Request, Response, WebSocket } from 'undici';

Object.assign(globalThis, { fetch, FormData, Headers, Request, Response, WebSocket, MessageEvent, CloseEvent });
