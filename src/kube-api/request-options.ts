import { Observable, type ConfigurationOptions } from '@kubernetes/client-node';

/** What every client-node call of leaderhook takes as its last argument. */
export type RequestOptions = ConfigurationOptions;

/**
 * Per-call options that abort a request after `timeoutMs` milliseconds, as client-go bounds each call with its
 * context deadline (for the lock: max(1 s, renew deadline / 2)), so a hung request cannot eat the renew deadline.
 * The middleware is appended to the client's own (authentication stays). A call cut short rejects without an HTTP
 * status: toKubeApiError classifies it as `network`.
 */
export function requestOptions(timeoutMs: number, signal?: AbortSignal): RequestOptions {
  return withSignal(() =>
    signal ? AbortSignal.any([AbortSignal.timeout(timeoutMs), signal]) : AbortSignal.timeout(timeoutMs),
  );
}

/**
 * Per-call options that abort a request before it is sent: client-node builds it (body serialised, credentials
 * applied) and undici's fetch drops it at once, so nothing reaches the network. Rejects as an aborted call.
 */
export function unsentRequestOptions(): RequestOptions {
  return withSignal(() => AbortSignal.abort(new Error('not sent: a rehearsal')));
}

function withSignal(signal: () => AbortSignal): RequestOptions {
  return {
    middleware: [
      {
        pre: (context) => {
          context.setSignal(signal());
          return new Observable(Promise.resolve(context));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}
