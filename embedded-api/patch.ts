/**
 * PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch. The strategic
 * form is applied as a merge patch, which is what it does for maps such as metadata.labels (the use here);
 * list merge keys and `$patch` directives are not implemented and are rejected with 400 rather than misapplied.
 */
import { badRequest, type ApiError } from './status.ts';
import type { Json, JsonObject } from './types.ts';

export const PATCH_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
] as const;
export type PatchType = (typeof PATCH_TYPES)[number];

const isObject = (v: Json | undefined): v is JsonObject =>
  v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

function hasDirectives(patch: Json): boolean {
  if (Array.isArray(patch)) return patch.some(hasDirectives);
  if (!isObject(patch)) return false;
  return Object.entries(patch).some(([k, v]) => k.startsWith('$') || hasDirectives(v));
}

const unescapePointer = (s: string): string => s.replace(/~1/g, '/').replace(/~0/g, '~');

function jsonPatch(doc: Json, ops: Json): Json | ApiError {
  if (!Array.isArray(ops)) return badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let root: Json = structuredClone(doc);
  for (const op of ops) {
    if (!isObject(op) || typeof op.op !== 'string' || typeof op.path !== 'string')
      return badRequest('the server rejected our request due to an error in our request');
    const segments = op.path === '' ? [] : op.path.split('/').slice(1).map(unescapePointer);
    const last = segments.pop();
    let parent: Json = root;
    for (const s of segments) {
      const next: Json | undefined = Array.isArray(parent)
        ? parent[Number(s)]
        : isObject(parent)
          ? parent[s]
          : undefined;
      if (next === undefined) return badRequest(`doc is missing path: "${op.path}": missing value`);
      parent = next;
    }
    if (last === undefined) {
      if (op.op === 'replace' || op.op === 'add') root = op.value ?? null;
      continue;
    }
    const exists = Array.isArray(parent) ? Number(last) < parent.length : isObject(parent) && last in parent;
    switch (op.op) {
      case 'add':
        if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, op.value ?? null);
        else if (isObject(parent)) parent[last] = op.value ?? null;
        break;
      case 'replace':
        if (!exists)
          return badRequest(`replace operation does not apply: doc is missing key: ${op.path}: missing value`);
        if (Array.isArray(parent)) parent[Number(last)] = op.value ?? null;
        else if (isObject(parent)) parent[last] = op.value ?? null;
        break;
      case 'remove':
        if (!exists)
          return badRequest(`remove operation does not apply: doc is missing path: "${op.path}": missing value`);
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else if (isObject(parent)) delete parent[last];
        break;
      case 'test': {
        const current = Array.isArray(parent) ? parent[Number(last)] : isObject(parent) ? parent[last] : undefined;
        if (JSON.stringify(current) !== JSON.stringify(op.value))
          return badRequest(`testing value ${op.path} failed: test failed`);
        break;
      }
      default:
        return badRequest(`Unexpected kind: ${op.op}`);
    }
  }
  return root;
}

/** Applies `patch` to `current`; the result still has to go through decoding and the update checks. */
export function applyPatch(type: PatchType, current: JsonObject, patch: Json): Json | ApiError {
  switch (type) {
    case 'application/merge-patch+json':
      return mergePatch(current, patch);
    case 'application/strategic-merge-patch+json':
      if (hasDirectives(patch))
        return badRequest(
          'strategic merge patch directives ($patch, $retainKeys, ...) are not supported by the embedded API',
        );
      return mergePatch(current, patch);
    case 'application/json-patch+json':
      return jsonPatch(current, patch);
  }
}
