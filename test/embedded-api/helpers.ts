// Shared helpers for the embedded API tests: raw HTTP with a chosen User-Agent, watch-stream reading,
// fixture loading and the normalisation of server-generated values (uid, resourceVersion, timestamps).
import { readFile } from 'node:fs/promises';

export const FIXTURES = new URL('../fixtures/kube-api/', import.meta.url);
export const LEASES = '/apis/coordination.k8s.io/v1/namespaces/default/leases';

export const fixture = (name: string): Promise<string> => readFile(new URL(name, FIXTURES), 'utf8');

/** metav1.Status: the body of an error answer, with the fields these tests read. */
export interface StatusBody {
  kind: 'Status';
  code: number;
  reason: string;
  message: string;
  details?: Record<string, unknown>;
}

/** An object in an answer, with the fields these tests read. */
export interface ObjectBody {
  kind: string;
  metadata: { name: string; resourceVersion: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
  data: Record<string, string>;
}

/** One line of a watch stream: an object, or a Status for ERROR. */
export interface WatchEventBody<T = ObjectBody> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** A JSON answer parsed as the shape the test expects (its assertions then check the values). */
export const parseJson = <T>(text: string): T => JSON.parse(text) as T;

export interface RawResponse {
  status: number;
  text: string;
  headers: Headers;
}

export async function call(
  base: string,
  method: string,
  path: string,
  options: { body?: string; token?: string; userAgent?: string; contentType?: string } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = { 'User-Agent': options.userAgent ?? 'curl/7.68.0' };
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['Content-Type'] = options.contentType ?? 'application/json';
  const res = await fetch(base + path, { method, headers, body: options.body });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** Replaces the values a server generates (uid, resourceVersion, creation and managedFields times). */
export function normalise(text: string): string {
  return text
    .replace(/("uid": ?)"[^"]*"/g, '$1"<uid>"')
    .replace(/("resourceVersion": ?)"\d+"/g, '$1"<rv>"')
    .replace(/("creationTimestamp": ?)"[^"]*"/g, '$1"<time>"')
    .replace(/("time": ?)"[^"]*"/g, '$1"<time>"')
    .trimEnd();
}

/** An open watch: lines as they arrive, and whether the server ended the stream. */
export interface WatchReader {
  status: number;
  contentType: string | null;
  lines: string[];
  ended: Promise<void>;
  /** Resolves once at least `n` lines have arrived (rejects if the stream ends first). */
  waitForLines(n: number): Promise<string[]>;
  abort(): void;
}

export async function openWatch(
  base: string,
  path: string,
  options: { token?: string; userAgent?: string } = {},
): Promise<WatchReader> {
  const controller = new AbortController();
  const headers: Record<string, string> = { 'User-Agent': options.userAgent ?? 'curl/7.68.0' };
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  const res = await fetch(base + path, { headers, signal: controller.signal });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let done = false;
  const notify = () => {
    for (const w of waiters.splice(0)) w();
  };
  const ended = (async () => {
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        const parts = buffered.split('\n');
        buffered = parts.pop() ?? '';
        lines.push(...parts.filter((p) => p !== ''));
        notify();
      }
    } catch {
      // aborted by the test
    } finally {
      done = true;
      notify();
    }
  })();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    lines,
    ended,
    abort: () => controller.abort(),
    waitForLines: async (n) => {
      while (lines.length < n) {
        if (done) throw new Error(`watch ended after ${lines.length} line(s), wanted ${n}: ${lines.join(' | ')}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
      return lines.slice(0, n);
    },
  };
}
