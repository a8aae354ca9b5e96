import { toKubeApiError } from './api-error.ts';

/**
 * Runs a read of one object and answers `null` when the object does not exist (404), as client-go callers do with
 * `apierrors.IsNotFound`. Any other failure is thrown as a KubeApiError carrying `verb`.
 */
export async function readOrNull<T>(verb: string, call: () => Promise<T>): Promise<T | null> {
  try {
    return await call();
  } catch (error) {
    const failure = toKubeApiError(verb, error);
    if (failure.kind === 'not-found') return null;
    throw failure;
  }
}
