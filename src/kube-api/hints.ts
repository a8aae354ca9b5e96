import type { KubeApiError } from './api-error.ts';
import { LOCK_RESOURCES, type Lock } from '../lock/types.ts';

/** One line that says exactly which right is missing, so an operator can fix the Role without reading code. */
export function describeRbacGap(failure: KubeApiError, verb: string, lock: Pick<Lock, 'kind' | 'namespace' | 'name'>): string {
  const where = `resource "${lock.kind}" (apiGroup ${LOCK_RESOURCES[lock.kind].group || '""'}) in namespace "${lock.namespace}"`;
  if (failure.kind === 'unauthorized') {
    return `the API server rejected our credentials (401 Unauthorized) on ${verb} ${where}: check the ServiceAccount token or kubeconfig; retrying with back-off`;
  }
  return `RBAC forbids ${verb} on ${where}: grant verb "${verb}" on "${lock.kind}" (resourceNames: ["${lock.name}"] where the verb allows it) in a Role bound to this ServiceAccount; retrying with back-off (${failure.message})`;
}
