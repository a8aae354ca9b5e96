/**
 * HTTP routes of the embedded API: the request info (verb, resource, namespace, name) as kube-apiserver
 * derives it, authentication, authorization, then the verb. Namespaced resources only, in any namespace
 * (namespaces need not exist), plus cluster-wide list/watch.
 */
import { Hono, type Context } from 'hono';
import type { Authenticator } from './auth.ts';
import { discoveryDocument } from './discovery.ts';
import { encodeBody, prettyJson, wantsPretty } from './json-text.ts';
import { applyPatch, PATCH_TYPES, type PatchType } from './patch.ts';
import { decodeBody, Registry, toApi, toListItem, type WriteOptions } from './registry.ts';
import { apiVersionOf, findResource, type ResourceType } from './resources.ts';
import { fieldLabelsFor, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import {
  ApiError,
  badRequest,
  internalError,
  invalid,
  methodNotAllowed,
  resourceNotFound,
  unsupportedMediaType,
} from './status.ts';
import type { Store } from './store.ts';
import type { Json, JsonObject, RequestRecord, Verb } from './types.ts';
import { acceptedTable, includeObjectOf, toTable, type TableRequest } from './tables.ts';
import { watchStream, type WatchRegistry } from './watch.ts';

export interface RouteContext {
  store: Store;
  auth: Authenticator;
  watches: WatchRegistry;
  onRequest(record: RequestRecord): void;
  bookmarkIntervalMs: number;
  /** While the store is "down" (pauseStore): a promise that resolves when it is back. */
  storeDown(): Promise<void> | undefined;
}

const VERSION_INFO = {
  major: '1',
  minor: '20',
  gitVersion: 'v1.20.2',
  gitCommit: 'faecb196815e248d3ecfb03c680a4507229c2a56',
  gitTreeState: 'clean',
  buildDate: '2021-01-13T13:20:00Z',
  goVersion: 'go1.15.5',
  compiler: 'gc',
  platform: 'linux/amd64',
};

const PARSE_BOOL_TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);

interface Target {
  group: string;
  version: string;
  resource: string;
  namespace: string | undefined;
  name: string | undefined;
}

/** Splits a resource path; `undefined` for anything that is not one. */
function parsePath(path: string): Target | undefined {
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  let group = '';
  let version: string | undefined;
  let rest: string[];
  if (parts[0] === 'api') {
    version = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    group = parts[1] ?? '';
    version = parts[2];
    rest = parts.slice(3);
  } else return undefined;
  if (version === undefined || rest.length === 0) return undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    if (rest.length > 4) return undefined;
    return { group, version, resource: rest[2]!, namespace: rest[1]!, name: rest[3] };
  }
  if (rest.length === 1 && rest[0] !== 'namespaces')
    return { group, version, resource: rest[0]!, namespace: undefined, name: undefined };
  return undefined;
}

function respond(c: Context, code: number, body: Json, pretty: boolean): Response {
  return c.body(encodeBody(body, pretty), code as 200, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
  });
}

function parseSince(type: ResourceType, raw: string | undefined): number {
  if (raw === undefined || raw === '' || raw === '0') return 0;
  if (!/^\d+$/.test(raw)) {
    throw invalid({ group: type.group, kind: type.resource }, '', [
      {
        type: 'FieldValueInvalid',
        field: 'resourceVersion',
        body: `Invalid value: ${JSON.stringify(raw)}: strconv.ParseUint: parsing ${JSON.stringify(raw)}: invalid syntax`,
      },
    ]);
  }
  return Number(raw);
}

function resourceVersionOf(object: JsonObject): string {
  const metadata = object.metadata;
  const value = metadata && typeof metadata === 'object' && !Array.isArray(metadata) ? metadata.resourceVersion : '';
  return typeof value === 'string' ? value : '';
}

/**
 * Watch events as Tables: one row each; the column definitions only on the first event (apiserver's watch sets
 * NoHeaders after it).
 */
function tablePresenter(table: TableRequest): (stored: JsonObject, api: JsonObject) => JsonObject {
  let first = true;
  return (stored, api) => {
    const result = toTable(table, [{ stored, api }], resourceVersionOf(api), first);
    first = false;
    return result;
  };
}

export function buildApp(ctx: RouteContext): Hono {
  const app = new Hono();
  const registry = new Registry(ctx.store);

  app.all('*', async (c) => {
    const url = new URL(c.req.url);
    const query = url.searchParams;
    const userAgent = c.req.header('user-agent') ?? '';
    const pretty = wantsPretty(url.search.slice(1), query, userAgent);
    const authorization = c.req.header('authorization');
    const method = c.req.method.toUpperCase();
    const target = parsePath(url.pathname);

    let verb: Verb | undefined;
    let selectedName = '';
    const isWatch = PARSE_BOOL_TRUE.has(query.get('watch') ?? '');
    if (target) {
      if (method === 'GET') verb = target.name !== undefined ? 'get' : isWatch ? 'watch' : 'list';
      else if (method === 'POST') verb = 'create';
      else if (method === 'PUT') verb = 'update';
      else if (method === 'PATCH') verb = 'patch';
      else if (method === 'DELETE') verb = target.name !== undefined ? 'delete' : 'deletecollection';
      if ((verb === 'list' || verb === 'watch') && query.get('fieldSelector')) {
        const fs = parseFieldSelector(query.get('fieldSelector') ?? undefined);
        if (!(fs instanceof ApiError) && /^[^/%]+$/.test(fs.name) && fs.name !== '.' && fs.name !== '..')
          selectedName = fs.name;
      }
    }
    const authn = ctx.auth.authenticate(authorization);
    ctx.onRequest({
      method,
      path: url.pathname,
      verb,
      resource: target?.resource,
      namespace: target?.namespace,
      name: target?.name ?? (selectedName || undefined),
      userAgent,
      user: authn instanceof ApiError ? undefined : authn.user,
      at: Date.now(),
    });

    try {
      if (authn instanceof ApiError) throw authn;
      if (!target || verb === undefined) {
        if (!target && method === 'GET') {
          // The version handler always indents (apiserver WriteRawJSON), whoever asks.
          if (url.pathname === '/version')
            return c.body(prettyJson(VERSION_INFO), 200, { 'Content-Type': 'application/json' });
          if (['/healthz', '/livez', '/readyz'].includes(url.pathname)) return c.text('ok');
          const discovery = discoveryDocument(url.pathname, url.host);
          if (discovery) return respond(c, 200, discovery, pretty);
          // A version the group does not serve: a Status, as the real server's group handler answers.
          if (/^\/(api\/[^/]+|apis\/(coordination|events)\.k8s\.io\/[^/]+)\/?$/.test(url.pathname))
            throw resourceNotFound();
        }
        if (target) throw methodNotAllowed();
        return c.text('404 page not found\n', 404);
      }
      const denied = ctx.auth.authorize(authorization, {
        verb,
        group: target.group,
        resource: target.resource,
        namespace: target.namespace ?? '',
        name: target.name ?? selectedName,
      });
      if (denied) throw denied;
      const type = findResource(target.group, target.version, target.resource);
      if (!type) throw resourceNotFound();
      // As with etcd stopped: authentication and authorization still answer, storage requests hang.
      const down = ctx.storeDown();
      if (down) {
        const aborted = new Promise<'aborted'>((resolve) =>
          c.req.raw.signal?.addEventListener('abort', () => resolve('aborted'), { once: true }),
        );
        if ((await Promise.race([down, aborted])) === 'aborted') return c.body(null, 504);
      }
      if (target.namespace === undefined && verb !== 'list' && verb !== 'watch') throw methodNotAllowed();
      const namespace = target.namespace ?? '';
      const requestApi = apiVersionOf(type);
      const writeOptions = (): WriteOptions => ({
        userAgent,
        fieldManager: query.get('fieldManager') ?? undefined,
        dryRun: query.getAll('dryRun').includes('All'),
      });
      const body = async (): Promise<Buffer> => Buffer.from(await c.req.arrayBuffer());
      // `kubectl get` asks for a Table (server-side printing) and falls back to the object when none is offered.
      const tableVersion = acceptedTable(c.req.header('accept'));
      const table: TableRequest | undefined = tableVersion && {
        version: tableVersion,
        includeObject: includeObjectOf(query.get('includeObject')),
        type,
      };
      const requireJson = (): void => {
        const ct = (c.req.header('content-type') ?? 'application/json').split(';')[0]!.trim().toLowerCase();
        if (ct !== 'application/json' && ct !== '') {
          throw unsupportedMediaType(
            `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`,
          );
        }
      };

      switch (verb) {
        case 'get': {
          if (!table) return respond(c, 200, registry.get(type, namespace, target.name!), pretty);
          const stored = registry.getStored(type, namespace, target.name!);
          const api = registry.get(type, namespace, target.name!);
          return respond(c, 200, toTable(table, [{ stored, api }], resourceVersionOf(api)), pretty);
        }
        case 'list':
        case 'watch': {
          const labels = parseLabelSelector(query.get('labelSelector') ?? undefined);
          if (labels instanceof ApiError) throw labels;
          const fields = parseFieldSelector(
            query.get('fieldSelector') ?? undefined,
            fieldLabelsFor(type.group, type.resource),
          );
          if (fields instanceof ApiError) throw fields;
          const matches = (o: JsonObject): boolean => labels(o) && fields.matcher(o);
          if (verb === 'list') {
            parseSince(type, query.get('resourceVersion') ?? undefined);
            const revision = String(ctx.store.currentRevision);
            if (table) {
              const rows = ctx.store
                .list(type.storage, target.namespace)
                .filter(matches)
                .map((stored) => ({ stored, api: toApi(type, stored) }));
              return respond(c, 200, toTable(table, rows, revision), pretty);
            }
            const items = ctx.store
              .list(type.storage, target.namespace)
              .filter(matches)
              .map((o) => toListItem(type, o));
            return respond(
              c,
              200,
              {
                kind: type.listKind,
                apiVersion: requestApi,
                metadata: { resourceVersion: String(ctx.store.currentRevision) },
                items,
              },
              pretty,
            );
          }
          const since = parseSince(type, query.get('resourceVersion') ?? undefined);
          const timeoutParam = Number(query.get('timeoutSeconds') ?? '');
          // Without timeoutSeconds the real server picks a random timeout in [minRequestTimeout, 2x) = [30m, 60m).
          const timeoutMs =
            Number.isFinite(timeoutParam) && timeoutParam > 0
              ? timeoutParam * 1000
              : (1800 + Math.random() * 1800) * 1000;
          const stream = watchStream(ctx.store, ctx.watches, {
            type,
            namespace: target.namespace,
            matches,
            since,
            bookmarks: PARSE_BOOL_TRUE.has(query.get('allowWatchBookmarks') ?? ''),
            ...(table ? { present: tablePresenter(table) } : {}),
            timeoutMs,
            bookmarkIntervalMs: ctx.bookmarkIntervalMs,
          });
          return new Response(stream, {
            status: 200,
            headers: {
              'Content-Type': 'application/json',
              'Cache-Control': 'no-cache, private',
              'Transfer-Encoding': 'chunked',
            },
          });
        }
        case 'create': {
          requireJson();
          const obj = decodeBody(type, await body());
          return respond(c, 201, registry.create(type, namespace, obj, writeOptions(), requestApi), pretty);
        }
        case 'update': {
          requireJson();
          const obj = decodeBody(type, await body());
          const result = registry.update(type, namespace, target.name!, obj, writeOptions(), requestApi);
          return respond(c, result.created ? 201 : 200, result.object, pretty);
        }
        case 'patch': {
          const ct = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
          if (!(PATCH_TYPES as readonly string[]).includes(ct)) {
            throw unsupportedMediaType(
              ct === 'application/apply-patch+yaml'
                ? 'server-side apply is not supported by the embedded API'
                : 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json',
            );
          }
          const raw = await body();
          let patch: Json;
          try {
            patch = JSON.parse(raw.toString('utf8')) as Json;
          } catch (e) {
            throw badRequest(`error decoding patch: ${(e as Error).message}`);
          }
          const current = registry.get(type, namespace, target.name!);
          const patched = applyPatch(ct as PatchType, current, patch);
          if (patched instanceof ApiError) throw patched;
          const obj = decodeBody(type, Buffer.from(JSON.stringify(patched)));
          const result = registry.update(type, namespace, target.name!, obj, writeOptions(), requestApi);
          return respond(c, 200, result.object, pretty);
        }
        case 'delete': {
          const raw = await body();
          let options: JsonObject = {};
          if (raw.length > 0) {
            try {
              const parsed = JSON.parse(raw.toString('utf8')) as Json;
              if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) options = parsed;
            } catch (e) {
              throw badRequest(`error decoding DeleteOptions: ${(e as Error).message}`);
            }
          }
          const dryRun =
            query.getAll('dryRun').includes('All') || (Array.isArray(options.dryRun) && options.dryRun.includes('All'));
          return respond(c, 200, registry.delete(type, namespace, target.name!, options, dryRun), pretty);
        }
        case 'deletecollection': {
          const labels = parseLabelSelector(query.get('labelSelector') ?? undefined);
          if (labels instanceof ApiError) throw labels;
          const fields = parseFieldSelector(
            query.get('fieldSelector') ?? undefined,
            fieldLabelsFor(type.group, type.resource),
          );
          if (fields instanceof ApiError) throw fields;
          const doomed = ctx.store.list(type.storage, namespace).filter((o) => labels(o) && fields.matcher(o));
          const items = doomed.map((o) => toListItem(type, o));
          for (const o of doomed) {
            const { name } = o.metadata as JsonObject;
            if (typeof name === 'string') ctx.store.delete(type.storage, namespace, name);
          }
          return respond(
            c,
            200,
            {
              kind: type.listKind,
              apiVersion: requestApi,
              metadata: { resourceVersion: String(ctx.store.currentRevision) },
              items,
            },
            pretty,
          );
        }
      }
    } catch (e) {
      if (e instanceof ApiError) return respond(c, e.code, e.status, pretty);
      const err = internalError(e instanceof Error ? e.message : String(e));
      return respond(c, err.code, err.status, pretty);
    }
  });
  return app;
}
