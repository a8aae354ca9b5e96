import { ApiException } from '@kubernetes/client-node';

/** What the election does about a failed API call. */
export type ApiErrorKind =
  | 'conflict' // 409: somebody else wrote first; normal contention
  | 'not-found'
  | 'unauthorized' // 401: credentials missing or rejected
  | 'forbidden' // 403: RBAC lacks a verb
  | 'throttled' // 429
  | 'server' // 5xx
  | 'network' // no HTTP answer at all
  | 'rejected'; // other 4xx: our request is wrong

export class LockApiError extends Error {
  readonly kind: ApiErrorKind;
  readonly status: number | undefined;
  /** The API `Status.reason`, e.g. `Conflict`, `AlreadyExists`, `Forbidden`. */
  readonly reason: string | undefined;
  readonly verb: string;

  constructor(verb: string, kind: ApiErrorKind, message: string, status?: number, reason?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LockApiError';
    this.verb = verb;
    this.kind = kind;
    this.status = status;
    this.reason = reason;
  }
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

function parseStatus(body: unknown): { message?: string; reason?: string } {
  if (typeof body === 'string') {
    try {
      return parseStatus(JSON.parse(body));
    } catch {
      return { message: body.slice(0, 200) };
    }
  }
  if (typeof body === 'object' && body !== null) {
    const status = body as { message?: unknown; reason?: unknown };
    return {
      ...(typeof status.message === 'string' ? { message: status.message } : {}),
      ...(typeof status.reason === 'string' ? { reason: status.reason } : {}),
    };
  }
  return {};
}

/** Turns whatever client-node threw into one error kind the election can act on. */
export function toLockApiError(verb: string, error: unknown): LockApiError {
  if (error instanceof LockApiError) return error;
  const status =
    error instanceof ApiException ? error.code : typeof (error as { statusCode?: unknown })?.statusCode === 'number' ? (error as { statusCode: number }).statusCode : undefined;
  if (status !== undefined && status > 0) {
    const body = error instanceof ApiException ? error.body : undefined;
    const { message, reason } = parseStatus(body);
    return new LockApiError(verb, kindOf(status), message ?? `HTTP ${status}`, status, reason, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new LockApiError(verb, 'network', message, undefined, undefined, { cause: error });
}
