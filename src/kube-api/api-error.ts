import { ApiException } from '@kubernetes/client-node';

/** What a caller can do about a failed Kubernetes API call, by HTTP status (client-go's apierrors.IsConflict, …). */
export type ApiErrorKind =
  | 'conflict' // 409: somebody else wrote first; normal contention
  | 'not-found'
  | 'unauthorized' // 401: credentials missing or rejected
  | 'forbidden' // 403: RBAC lacks a verb
  | 'throttled' // 429
  | 'server' // 5xx
  | 'network' // no HTTP answer at all
  | 'rejected'; // other 4xx: our request is wrong

/**
 * A failed Kubernetes API call, on any resource (the lock, Events, Pods): the RBAC verb that was attempted, the HTTP
 * status (`undefined` when no answer came) and the API `Status` message and reason. Thrown by every API wrapper in
 * leaderhook in place of whatever client-node threw.
 */
export class KubeApiError extends Error {
  readonly kind: ApiErrorKind;
  readonly status: number | undefined;
  /** The API `Status.reason`, e.g. `Conflict`, `AlreadyExists`, `Forbidden`. */
  readonly reason: string | undefined;
  /** The RBAC verb of the call: `get`, `create`, `update`, `patch`, `watch`. */
  readonly verb: string;
  /**
   * The `Status.details` that tell one refusal from another of the same status: the kind named (`namespaces` when a
   * 404 is about the namespace, not the object) and the causes' reasons (`NamespaceTerminating`).
   */
  readonly details: StatusDetails;

  constructor(
    verb: string,
    kind: ApiErrorKind,
    message: string,
    status?: number,
    reason?: string,
    options?: ErrorOptions & { details?: StatusDetails },
  ) {
    super(message, options);
    this.name = 'KubeApiError';
    this.verb = verb;
    this.kind = kind;
    this.status = status;
    this.reason = reason;
    this.details = options?.details ?? { causes: [] };
  }
}

/** What leaderhook reads of a `Status`'s `details`. */
export interface StatusDetails {
  kind?: string;
  /** The `reason` of each of `details.causes`. */
  causes: readonly string[];
}

function kindOf(status: number): ApiErrorKind {
  if (status === 409) return 'conflict';
  if (status === 404) return 'not-found';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 429) return 'throttled';
  if (status >= 500) return 'server';
  return 'rejected';
}

function parseStatus(body: unknown): { message?: string; reason?: string; details?: StatusDetails } {
  if (typeof body === 'string') {
    try {
      return parseStatus(JSON.parse(body));
    } catch {
      return { message: body.slice(0, 200) };
    }
  }
  if (typeof body === 'object' && body !== null) {
    const status = body as { message?: unknown; reason?: unknown; details?: { kind?: unknown; causes?: unknown } };
    const causes = Array.isArray(status.details?.causes) ? (status.details.causes as unknown[]) : [];
    const kind = status.details?.kind;
    return {
      ...(typeof status.message === 'string' ? { message: status.message } : {}),
      ...(typeof status.reason === 'string' ? { reason: status.reason } : {}),
      details: {
        ...(typeof kind === 'string' ? { kind } : {}),
        causes: causes.flatMap((cause) => {
          const reason = (cause as { reason?: unknown } | null)?.reason;
          return typeof reason === 'string' ? [reason] : [];
        }),
      },
    };
  }
  return {};
}

/**
 * Turns whatever client-node threw (an ApiException with a `Status` body, a watch error with a `statusCode`, a network
 * error) into a KubeApiError; one already converted is returned as it is.
 */
export function toKubeApiError(verb: string, error: unknown): KubeApiError {
  if (error instanceof KubeApiError) return error;
  const statusCode = (error as { statusCode?: unknown } | undefined)?.statusCode;
  const status = error instanceof ApiException ? error.code : typeof statusCode === 'number' ? statusCode : undefined;
  if (status !== undefined && status > 0) {
    const body: unknown = error instanceof ApiException ? error.body : undefined;
    const { message, reason, details } = parseStatus(body);
    return new KubeApiError(verb, kindOf(status), message ?? `HTTP ${status}`, status, reason, {
      cause: error,
      ...(details ? { details } : {}),
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new KubeApiError(verb, 'network', message, undefined, undefined, { cause: error });
}
