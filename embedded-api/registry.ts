/**
 * The generic registry of the embedded API: create, update (PUT and PATCH), delete and read, with the checks
 * and the order of checks of v1.20's registry/generic/registry/store.go and rest/create.go, update.go.
 * Works on objects in the API's form; the Store holds them in storage form.
 */
import { randomUUID } from 'node:crypto';
import { normalize, parseJsonDocument, typedDecode } from './json-decode.ts';
import { managerFromUserAgent, updateManagedFields } from './managed-fields.ts';
import { nowTime } from './microtime.ts';
import { CORE_EVENT } from './schemas.ts';
import { apiVersionOf, groupResource, type ResourceType } from './resources.ts';
import { alreadyExists, ApiError, badRequest, conflict, invalid, notFound, statusBody } from './status.ts';
import type { Store } from './store.ts';
import type { Json, JsonObject } from './types.ts';
import { validate } from './validation.ts';

export interface WriteOptions {
  userAgent: string;
  fieldManager: string | undefined;
  dryRun: boolean;
}

const isObject = (v: Json | undefined): v is JsonObject =>
  v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);
const metaOf = (obj: JsonObject): JsonObject => (isObject(obj.metadata) ? obj.metadata : {});
/** A metadata field the decoder has typed as a Go string: "" when absent, as Go reads it. */
const metaString = (meta: JsonObject, field: string): string => {
  const value = meta[field];
  return typeof value === 'string' ? value : '';
};

/** `obj` without kind and apiVersion: list items carry neither, and toApi puts its own first. */
function withoutTypeMeta(obj: JsonObject): JsonObject {
  const rest = { ...obj };
  delete rest.kind;
  delete rest.apiVersion;
  return rest;
}

/** The object as this API serves it: kind/apiVersion first, converted from storage form when needed. */
export function toApi(type: ResourceType, stored: JsonObject): JsonObject {
  const converted = type.fromStorage ? normalize(type.fromStorage(stored), type.schema).value : stored;
  return { kind: type.kind, apiVersion: apiVersionOf(type), ...withoutTypeMeta(converted) };
}

/** The object as a list item: without kind/apiVersion. */
export function toListItem(type: ResourceType, stored: JsonObject): JsonObject {
  return withoutTypeMeta(toApi(type, stored));
}

/** The storage form: the same object, except for events.k8s.io Events, which are kept as core Events. */
function toStorage(type: ResourceType, obj: JsonObject): JsonObject {
  if (!type.toStorage) return obj;
  return normalize({ ...type.toStorage(obj), kind: 'Event', apiVersion: 'v1' }, CORE_EVENT).value;
}

const summarize = (body: Buffer): string =>
  body.length > 30 ? `${body.toString('utf8', 0, 30)} ...` : body.toString('utf8');

/** Decodes a request body into the resource's Go type, with the real server's 400 messages. */
export function decodeBody(type: ResourceType, body: Buffer): JsonObject {
  const doc = parseJsonDocument(body);
  if (!doc.ok) {
    throw badRequest(
      `the object provided is unrecognized (must be of type ${type.kind}): couldn't get version/kind; json parse error: ${doc.error} (${summarize(body)})`,
    );
  }
  if (!isObject(doc.value)) {
    const t = Array.isArray(doc.value)
      ? 'array'
      : doc.value === null
        ? 'null'
        : typeof doc.value === 'boolean'
          ? 'bool'
          : typeof doc.value;
    throw badRequest(
      `the object provided is unrecognized (must be of type ${type.kind}): couldn't get version/kind; json parse error: json: cannot unmarshal ${t} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" } (${summarize(body)})`,
    );
  }
  const apiVersion =
    typeof doc.value.apiVersion === 'string' && doc.value.apiVersion !== '' ? doc.value.apiVersion : apiVersionOf(type);
  const kind = typeof doc.value.kind === 'string' && doc.value.kind !== '' ? doc.value.kind : type.kind;
  const version = apiVersion.includes('/') ? apiVersion.slice(apiVersion.indexOf('/') + 1) : apiVersion;
  const decoded = typedDecode(body, type.schema);
  if (decoded.error !== undefined)
    throw badRequest(`${kind} in version "${version}" cannot be handled as a ${type.kind}: ${decoded.error}`);
  if (apiVersion !== apiVersionOf(type)) {
    throw badRequest(
      `the API version in the data (${apiVersion}) does not match the expected API version (${apiVersionOf(type)})`,
    );
  }
  if (kind !== type.kind) {
    throw badRequest(
      `${kind} in version "${version}" cannot be handled as a ${type.kind}: no kind "${kind}" is registered for the ${type.resource} endpoint`,
    );
  }
  return decoded.value;
}

const GENERATED_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
const generateName = (base: string): string =>
  base + Array.from({ length: 5 }, () => GENERATED_CHARS[Math.floor(Math.random() * GENERATED_CHARS.length)]).join('');

/** Parses metadata.resourceVersion as the server's versioner does (0 when unset). */
function parseResourceVersion(obj: JsonObject): number {
  const rv = metaOf(obj).resourceVersion;
  if (rv === undefined || rv === '') return 0;
  // A string once decoded into ObjectMeta.
  const text = typeof rv === 'string' ? rv : JSON.stringify(rv);
  if (!/^\d+$/.test(text))
    throw new ApiError(500, '', `strconv.ParseUint: parsing ${JSON.stringify(text)}: invalid syntax`);
  return Number(text);
}

function withMeta(obj: JsonObject, changes: JsonObject): JsonObject {
  return { ...obj, metadata: { ...metaOf(obj), ...changes } };
}

export class Registry {
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  /** The object in storage form (what server-side printing reads), or 404. */
  getStored(type: ResourceType, namespace: string, name: string): JsonObject {
    const stored = this.store.get(type.storage, namespace, name);
    if (!stored) throw notFound(groupResource(type), name);
    return stored;
  }

  get(type: ResourceType, namespace: string, name: string): JsonObject {
    const stored = this.store.get(type.storage, namespace, name);
    if (!stored) throw notFound(groupResource(type), name);
    return toApi(type, stored);
  }

  /** Runs `obj` through the Go type again (fixing order and defaults after server-side edits). */
  private canonical(type: ResourceType, obj: JsonObject): JsonObject {
    return normalize(obj, type.schema).value;
  }

  private finish(
    type: ResourceType,
    live: JsonObject | undefined,
    next: JsonObject,
    requested: Json | undefined,
    opts: WriteOptions,
  ): JsonObject {
    const manager = opts.fieldManager ?? managerFromUserAgent(opts.userAgent);
    const managedFields = updateManagedFields({
      live,
      next,
      requested,
      schema: type.schema,
      manager,
      apiVersion: apiVersionOf(type),
    });
    const meta = { ...metaOf(next) };
    delete meta.managedFields;
    if (managedFields) meta.managedFields = managedFields;
    return this.canonical(type, { ...next, metadata: meta });
  }

  private write(type: ResourceType, namespace: string, name: string, obj: JsonObject, dryRun: boolean): JsonObject {
    const storage = toStorage(type, obj);
    const meta = { ...metaOf(storage) };
    delete meta.resourceVersion;
    const clean = { ...storage, metadata: meta };
    if (dryRun) return toApi(type, clean);
    return toApi(type, this.store.put(type.storage, namespace, name, clean));
  }

  /** POST, and PUT of a missing object where the type allows create-on-update. */
  create(type: ResourceType, namespace: string, body: JsonObject, opts: WriteOptions, requestApi: string): JsonObject {
    const meta = metaOf(body);
    if (typeof meta.namespace === 'string' && meta.namespace !== '' && meta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    let name = typeof meta.name === 'string' ? meta.name : '';
    if (name === '' && typeof meta.generateName === 'string' && meta.generateName !== '')
      name = generateName(meta.generateName);
    const requested = meta.managedFields;
    const prepared = this.canonical(
      type,
      withMeta(body, {
        name,
        namespace,
        uid: randomUUID(),
        creationTimestamp: nowTime(),
        clusterName: '',
        deletionTimestamp: null,
        deletionGracePeriodSeconds: null,
      }),
    );
    if (type.resource === 'pods' && !isObject(prepared.status ?? null))
      prepared.status = { phase: 'Pending', qosClass: 'BestEffort' };
    const errors = validate(type, prepared, requestApi);
    if (errors.length > 0) throw invalid({ group: type.group, kind: type.kind }, name, errors);
    if (parseResourceVersion(prepared) !== 0)
      throw new ApiError(500, '', 'resourceVersion should not be set on objects to be created');
    if (this.store.get(type.storage, namespace, name)) throw alreadyExists(groupResource(type), name);
    return this.write(type, namespace, name, this.finish(type, undefined, prepared, requested, opts), opts.dryRun);
  }

  /** PUT (and the update half of PATCH). Returns the object and whether it was created. */
  update(
    type: ResourceType,
    namespace: string,
    name: string,
    body: JsonObject,
    opts: WriteOptions,
    requestApi: string,
  ): { object: JsonObject; created: boolean } {
    const meta = metaOf(body);
    if ((typeof meta.name === 'string' ? meta.name : '') !== name) {
      throw badRequest(
        `the name of the object (${typeof meta.name === 'string' ? meta.name : ''}) does not match the name on the URL (${name})`,
      );
    }
    if (typeof meta.namespace === 'string' && meta.namespace !== '' && meta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const stored = this.store.get(type.storage, namespace, name);
    if (!stored) {
      if (!type.allowCreateOnUpdate) throw notFound(groupResource(type), name);
      const fresh = withMeta(body, {});
      delete (fresh.metadata as JsonObject).resourceVersion;
      return { object: this.create(type, namespace, fresh, opts, requestApi), created: true };
    }
    const live = toApi(type, stored);
    const liveMeta = metaOf(live);
    const newRv = parseResourceVersion(body);
    if (newRv === 0) {
      if (!type.allowUnconditionalUpdate) {
        throw invalid({ group: type.group, kind: type.resource }, name, [
          {
            type: 'FieldValueInvalid',
            field: 'metadata.resourceVersion',
            body: 'Invalid value: 0x0: must be specified for an update',
          },
        ]);
      }
    } else if (String(newRv) !== liveMeta.resourceVersion) {
      throw conflict(groupResource(type), name);
    }
    const requested = meta.managedFields;
    const uid = typeof meta.uid === 'string' && meta.uid !== '' ? meta.uid : (liveMeta.uid ?? '');
    const prepared = this.canonical(
      type,
      withMeta(body, {
        namespace,
        uid,
        creationTimestamp: liveMeta.creationTimestamp ?? null,
        generation: liveMeta.generation ?? 0,
        clusterName: '',
        resourceVersion: liveMeta.resourceVersion ?? '',
        deletionTimestamp: liveMeta.deletionTimestamp ?? null,
        deletionGracePeriodSeconds: liveMeta.deletionGracePeriodSeconds ?? null,
      }),
    );
    const errors = validate(type, prepared, requestApi);
    if (uid !== liveMeta.uid)
      errors.unshift({
        type: 'FieldValueInvalid',
        field: 'metadata.uid',
        body: `Invalid value: ${JSON.stringify(uid)}: field is immutable`,
      });
    if (errors.length > 0) throw invalid({ group: type.group, kind: type.kind }, name, errors);
    const next = this.finish(type, live, prepared, requested, opts);
    // etcd3 GuaranteedUpdate: identical bytes are not written (no new revision, no watch event).
    if (JSON.stringify(next) === JSON.stringify(live)) return { object: live, created: false };
    return { object: this.write(type, namespace, name, next, opts.dryRun), created: false };
  }

  delete(type: ResourceType, namespace: string, name: string, options: JsonObject, dryRun: boolean): JsonObject {
    const stored = this.store.get(type.storage, namespace, name);
    if (!stored) throw notFound(groupResource(type), name);
    const live = toApi(type, stored);
    const liveMeta = metaOf(live);
    const pre = isObject(options.preconditions ?? null) ? (options.preconditions as JsonObject) : {};
    if (typeof pre.uid === 'string' && pre.uid !== liveMeta.uid) {
      throw conflict(
        groupResource(type),
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${metaString(liveMeta, 'uid')}`,
      );
    }
    if (typeof pre.resourceVersion === 'string' && pre.resourceVersion !== liveMeta.resourceVersion) {
      throw conflict(
        groupResource(type),
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${metaString(liveMeta, 'resourceVersion')}`,
      );
    }
    if (!dryRun) this.store.delete(type.storage, namespace, name);
    if (type.returnDeletedObject) return live;
    return statusBody('Success', 0, '', '', {
      name,
      group: type.group,
      kind: type.resource,
      uid: metaString(liveMeta, 'uid'),
    });
  }
}
