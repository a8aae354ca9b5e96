/** `Status` bodies, built the way k8s.io/apimachinery/pkg/api/errors builds them. */
import type { JsonObject } from './types.ts';

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** An API error: the HTTP code and the `Status` body. */
export class ApiError extends Error {
  readonly code: number;
  readonly status: JsonObject;
  constructor(code: number, reason: string, message: string, details?: StatusDetails) {
    super(message);
    this.code = code;
    this.status = statusBody('Failure', code, reason, message, details);
  }
}

/** Field order and omitempty as in metav1.Status. */
export function statusBody(
  status: 'Success' | 'Failure',
  code: number,
  reason: string,
  message: string,
  details?: StatusDetails,
): JsonObject {
  const body: JsonObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status };
  if (message !== '') body.message = message;
  if (reason !== '') body.reason = reason;
  if (details !== undefined) body.details = detailsJson(details);
  if (code !== 0) body.code = code;
  return body;
}

function detailsJson(d: StatusDetails): JsonObject {
  const out: JsonObject = {};
  if (d.name) out.name = d.name;
  if (d.group) out.group = d.group;
  if (d.kind) out.kind = d.kind;
  if (d.uid) out.uid = d.uid;
  if (d.causes && d.causes.length > 0) {
    out.causes = d.causes.map((c) => {
      const o: JsonObject = {};
      if (c.reason) o.reason = c.reason;
      if (c.message) o.message = c.message;
      if (c.field) o.field = c.field;
      return o;
    });
  }
  if (d.retryAfterSeconds) out.retryAfterSeconds = d.retryAfterSeconds;
  return out;
}

/** A group/resource pair as `GroupResource.String()` prints it: `leases.coordination.k8s.io`, `configmaps`. */
export interface GroupResource {
  group: string;
  resource: string;
}
export const qualified = (gr: GroupResource): string => (gr.group === '' ? gr.resource : `${gr.resource}.${gr.group}`);

const grDetails = (gr: GroupResource, name: string): StatusDetails => ({ name, group: gr.group, kind: gr.resource });

export const notFound = (gr: GroupResource, name: string): ApiError =>
  new ApiError(404, 'NotFound', `${qualified(gr)} "${name}" not found`, grDetails(gr, name));

export const alreadyExists = (gr: GroupResource, name: string): ApiError =>
  new ApiError(409, 'AlreadyExists', `${qualified(gr)} "${name}" already exists`, grDetails(gr, name));

export const OPTIMISTIC_LOCK_MESSAGE =
  'the object has been modified; please apply your changes to the latest version and try again';

export const conflict = (gr: GroupResource, name: string, cause: string = OPTIMISTIC_LOCK_MESSAGE): ApiError =>
  new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${cause}`,
    grDetails(gr, name),
  );

export const badRequest = (message: string): ApiError => new ApiError(400, 'BadRequest', message);

export const unauthorized = (): ApiError => new ApiError(401, 'Unauthorized', 'Unauthorized');

/** NewForbidden with the authorizer's message (responsewriters.forbiddenMessage). */
export function forbidden(gr: GroupResource, name: string, reasonText: string): ApiError {
  const message =
    name === ''
      ? `${qualified(gr)} is forbidden: ${reasonText}`
      : `${qualified(gr)} "${name}" is forbidden: ${reasonText}`;
  return new ApiError(403, 'Forbidden', message, grDetails(gr, name));
}

/** One field error (k8s.io/apimachinery/pkg/util/validation/field.Error). */
export interface FieldError {
  type:
    'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueNotSupported' | 'FieldValueTooLong' | 'FieldValueForbidden';
  field: string;
  /** The text after the field path, e.g. `Invalid value: 0x0: must be specified for an update`. */
  body: string;
}

/** NewInvalid: 422 with one cause per field error; `kindOrResource` is e.g. `Lease.coordination.k8s.io`. */
export function invalid(kindOrResource: { group: string; kind: string }, name: string, errors: FieldError[]): ApiError {
  const gk = kindOrResource.group === '' ? kindOrResource.kind : `${kindOrResource.kind}.${kindOrResource.group}`;
  const texts = errors.map((e) => `${e.field}: ${e.body}`);
  const aggregate = texts.length === 1 ? texts[0]! : `[${texts.join(', ')}]`;
  return new ApiError(422, 'Invalid', `${gk} "${name}" is invalid: ${aggregate}`, {
    name,
    group: kindOrResource.group,
    kind: kindOrResource.kind,
    causes: errors.map((e) => ({ reason: e.type, message: e.body, field: e.field })),
  });
}

export const methodNotAllowed = (): ApiError =>
  new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});

export const resourceNotFound = (): ApiError =>
  new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});

export const expired = (message: string): ApiError => new ApiError(410, 'Expired', message);

export const internalError = (message: string): ApiError => new ApiError(500, 'InternalError', message);

export const unsupportedMediaType = (message: string): ApiError => new ApiError(415, 'UnsupportedMediaType', message);
