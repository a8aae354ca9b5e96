/** Label and field selectors on list and watch (the subset of k8s.io/apimachinery selectors clients use). */
import { badRequest, type ApiError } from './status.ts';
import type { JsonObject } from './types.ts';

export type Matcher = (obj: JsonObject) => boolean;

const meta = (obj: JsonObject): JsonObject => (obj.metadata ?? {}) as JsonObject;

/** Splits on commas outside parentheses. */
function terms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim() !== '') out.push(current.trim());
  return out;
}

export function parseLabelSelector(selector: string | undefined): Matcher | ApiError {
  if (!selector) return () => true;
  const checks: Matcher[] = [];
  for (const term of terms(selector)) {
    const labels = (obj: JsonObject) => (meta(obj).labels ?? {}) as Record<string, string>;
    let m: RegExpExecArray | null;
    if ((m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term))) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      checks.push(op === '!=' ? (o) => labels(o)[key] !== value : (o) => labels(o)[key] === value);
    } else if ((m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term))) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = list.split(',').map((v) => v.trim());
      checks.push(op === 'in' ? (o) => values.includes(labels(o)[key] ?? '\u0000') : (o) => !values.includes(labels(o)[key] ?? '\u0000'));
    } else if ((m = /^!(\S+)$/.exec(term))) {
      const key = m[1]!;
      checks.push((o) => !(key in labels(o)));
    } else if ((m = /^(\S+)$/.exec(term))) {
      const key = m[1]!;
      checks.push((o) => key in labels(o));
    } else {
      return badRequest(`unable to parse requirement: invalid label selector: ${JSON.stringify(term)}`);
    }
  }
  return (obj) => checks.every((c) => c(obj));
}

export interface FieldSelection {
  matcher: Matcher;
  /** The name an exact `metadata.name=` term pins (RequestInfo uses it for authorization). */
  name: string;
}

export function parseFieldSelector(selector: string | undefined): FieldSelection | ApiError {
  if (!selector) return { matcher: () => true, name: '' };
  const checks: Matcher[] = [];
  let name = '';
  for (const term of terms(selector)) {
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) return badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    if (field !== 'metadata.name' && field !== 'metadata.namespace') return badRequest(`field label not supported: ${field}`);
    const get = (o: JsonObject) => String(meta(o)[field === 'metadata.name' ? 'name' : 'namespace'] ?? '');
    if (op === '!=') checks.push((o) => get(o) !== value);
    else {
      checks.push((o) => get(o) === value);
      if (field === 'metadata.name') name = value;
    }
  }
  return { matcher: (obj) => checks.every((c) => c(obj)), name };
}
