import type { Lock, LockObservation, WatchHandlers } from '../lock/types.ts';
import { toKubeApiError } from '../kube-api/api-error.ts';
import type { ElectionMetrics } from './election-metrics.ts';

/** Wraps a lock so every API call is counted by verb and status code, and timed; the elector stays unaware. */
export function instrumentLock(
  lock: Lock,
  metrics: ElectionMetrics,
  onWrite: (observation: LockObservation) => void,
): Lock {
  async function measured<T>(
    verb: string,
    call: () => Promise<T>,
    okCode: number,
    isMissing: (result: T) => boolean = () => false,
  ): Promise<T> {
    const end = metrics.apiLatency.startTimer({ verb });
    try {
      const result = await call();
      metrics.apiRequests.inc({ verb, code: String(isMissing(result) ? 404 : okCode) });
      return result;
    } catch (error) {
      metrics.apiRequests.inc({ verb, code: String(toKubeApiError(verb, error).status ?? 'error') });
      throw error;
    } finally {
      end();
    }
  }
  const written = (observation: LockObservation) => {
    onWrite(observation);
    return observation;
  };
  return {
    kind: lock.kind,
    namespace: lock.namespace,
    name: lock.name,
    get: (signal) =>
      measured(
        'get',
        () => lock.get(signal),
        200,
        (result) => result === null,
      ),
    create: async (record, annotations) =>
      written(await measured('create', () => lock.create(record, annotations), 201)),
    update: async (previous, record, annotations, signal) =>
      written(await measured('update', () => lock.update(previous, record, annotations, signal), 200)),
    watch: (resourceVersion: string, handlers: WatchHandlers) =>
      measured('watch', () => lock.watch(resourceVersion, handlers), 200),
    // Nothing is sent: no request to count.
    ...(lock.rehearseUpdate ? { rehearseUpdate: lock.rehearseUpdate.bind(lock) } : {}),
  };
}
