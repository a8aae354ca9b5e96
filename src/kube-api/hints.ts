import type { KubeApiError } from './api-error.ts';

/** What a part of leaderhook needs of the API, as a Role rule names it, to say what to grant when a call is refused. */
export interface ApiAccess {
  /** The resource as a Role rule names it (plural, lower case): `leases`, `events`, `pods`. */
  resource: string;
  /** Its API group; `''` is the core group. */
  group: string;
  namespace: string;
  /** The one object the calls touch, when its name is known in advance (the lock): RBAC can then narrow by name. */
  name?: string;
  /** Every verb the part needs, named together in the grant; the failed call's verb alone when omitted. */
  verbs?: readonly string[];
  /** Which flag asks for the right, e.g. `for --leader-label`: the operator may rather turn the feature off. */
  purpose?: string;
  /** What happens meanwhile, e.g. `retrying with back-off`. */
  meanwhile: string;
}

/**
 * Verbs a Role cannot narrow with resourceNames: the name of an object to create is not known at authorization time.
 * Every other verb can be (list and watch when the request selects `metadata.name`, as leaderhook's watch does).
 */
const UNNAMED_VERBS = new Set(['create', 'deletecollection']);

/**
 * The one log line that tells an operator how to fix a call the API server refused, without reading code:
 * - 403 Forbidden because the namespace is being deleted (cause `NamespaceTerminating`, kube-apiserver's
 *   NamespaceLifecycle admission): the namespace, which no Role fixes;
 * - 403 Forbidden otherwise: the RBAC rule to add: verb(s), resource, API group, namespace and, when every verb can
 *   be narrowed by name, resourceNames;
 * - 404 Not Found naming the namespace (a create into a namespace that does not exist): the namespace;
 * - 401 Unauthorized: the credentials (ServiceAccount token or kubeconfig), which no Role fixes.
 * `undefined` for any other failure: it is not about access.
 */
export function accessHint(failure: KubeApiError, access: ApiAccess): string | undefined {
  const { resource, group, namespace, name, purpose, meanwhile } = access;
  const where = `resource "${resource}" (apiGroup ${group || '""'}) in namespace "${namespace}"`;
  if (failure.kind === 'forbidden' && failure.details.causes.includes('NamespaceTerminating')) {
    return (
      `namespace "${namespace}" is being deleted: the API server refuses to ${failure.verb} ${resource} in it ` +
      `(403 NamespaceTerminating), which no Role fixes; use another namespace (--election-namespace) or wait ` +
      `for the namespace to be gone and created again; ${meanwhile}`
    );
  }
  if (failure.kind === 'not-found' && failure.details.kind === 'namespaces') {
    return (
      `namespace "${namespace}" does not exist: the API server cannot ${failure.verb} ${resource} in it; ` +
      `create it or use another namespace (--election-namespace); ${meanwhile}`
    );
  }
  if (failure.kind === 'unauthorized') {
    return (
      `the API server rejected our credentials (401 Unauthorized) on ${failure.verb} ${where}: ` +
      `check the ServiceAccount token or kubeconfig; ${meanwhile}`
    );
  }
  if (failure.kind !== 'forbidden') return undefined;
  const verbs = access.verbs?.includes(failure.verb) ? access.verbs : [...(access.verbs ?? []), failure.verb];
  const quoted = verbs.map((verb) => `"${verb}"`);
  const last = quoted.pop();
  const verbList = quoted.length ? `verbs ${quoted.join(', ')} and ${last}` : `verb ${last}`;
  const nameable = name !== undefined && !verbs.some((verb) => UNNAMED_VERBS.has(verb));
  const byName = nameable ? ` (resourceNames: ["${name}"])` : '';
  return (
    `RBAC forbids ${failure.verb} on ${where}: grant ${verbList} on "${resource}"${byName} ` +
    `in a Role bound to this ServiceAccount${purpose ? ` ${purpose}` : ''}; ${meanwhile} (${failure.message})`
  );
}
