/**
 * JSON text as kube-apiserver v1.20 writes it (json-iterator configured like Go's encoding/json):
 * `<`, `>`, `&`, U+2028 and U+2029 escaped, control characters as `\u00XX`, a newline after each compact
 * document, and json-iterator's indentation when the client asks for pretty output.
 */
import type { Json } from './types.ts';

const GO_ESCAPES: Record<string, string> = {
  '\\b': '\\u0008',
  '\\f': '\\u000c',
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** Rewrites JSON.stringify output to Go's escaping (escape pairs are consumed whole, so `\\b` stays). */
function goEscape(text: string): string {
  return text.replace(/\\[\\"bfnrtu/]|[<>&\u2028\u2029]/g, (m) => GO_ESCAPES[m] ?? m);
}

/** Compact encoding, without the trailing newline. */
export function compactJson(value: Json): string {
  return goEscape(JSON.stringify(value));
}

/**
 * Keys whose values the server holds as raw bytes and writes verbatim (compact) even when pretty-printing:
 * managedFields' fieldsV1, and a Table row's object (a runtime.RawExtension).
 */
const RAW_KEYS = new Set(['fieldsV1', 'object']);

/** json-iterator's MarshalIndent(obj, "", "  "). */
export function prettyJson(value: Json): string {
  return pretty(value, 0);
}

function pretty(value: Json, level: number): string {
  if (value === null || typeof value !== 'object') return compactJson(value);
  const inner = '  '.repeat(level + 1);
  const outer = '  '.repeat(level);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${inner}${value.map((v) => pretty(v, level + 1)).join(`,\n${inner}`)}\n${outer}]`;
  }
  const entries = Object.entries(value);
  const body = entries
    .map(([k, v]) => `${compactJson(k)}: ${RAW_KEYS.has(k) ? compactJson(v) : pretty(v, level + 1)}`)
    .join(`,\n${inner}`);
  return `{\n${inner}${body}\n${outer}}`;
}

/**
 * Whether the real server would pretty-print for this request: `?pretty=` when given, otherwise for
 * curl, Wget and browsers (apiserver `isPrettyPrint`).
 */
export function wantsPretty(rawQuery: string, query: URLSearchParams, userAgent: string): boolean {
  if (rawQuery.includes('pretty')) {
    const pp = query.get('pretty');
    if (pp !== null && pp !== '') return ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(pp);
  }
  return userAgent.startsWith('curl') || userAgent.startsWith('Wget') || userAgent.startsWith('Mozilla/5.0');
}

/** The body the server sends for a (non-watch) response. */
export function encodeBody(value: Json, pretty: boolean): string {
  return pretty ? prettyJson(value) : `${compactJson(value)}\n`;
}
