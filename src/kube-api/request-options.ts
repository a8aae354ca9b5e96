import { Observable, type ConfigurationOptions } from '@kubernetes/client-node';

/** Per-call options that abort a request after `timeoutMs`, as client-go bounds each lock call. */
export function timeoutOptions(timeoutMs: number): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context) => {
          context.setSignal(AbortSignal.timeout(timeoutMs));
          return new Observable(Promise.resolve(context));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}
