// Raw HTTP(S) requests to an API server (the embedded one over http, kube-apiserver over https with its CA), for
// tests that compare exact status codes and bytes.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface RawTarget {
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:6443`. */
  base: string;
  /** PEM CA for https. */
  ca?: Buffer;
}

export interface RawAnswer {
  status: number;
  text: string;
  contentType: string | undefined;
}

export interface RawOptions {
  token?: string;
  body?: string;
  contentType?: string;
  userAgent?: string;
  /** The Accept header (default application/json), e.g. kubectl's Table request. */
  accept?: string;
  timeoutMs?: number;
}

function send(
  target: RawTarget,
  method: string,
  path: string,
  options: RawOptions,
  onResponse: (response: IncomingMessage) => void,
  onError: (error: Error) => void,
): () => void {
  const url = new URL(path, target.base);
  const headers: Record<string, string> = {
    'user-agent': options.userAgent ?? 'leaderhook-conformance/1',
    accept: options.accept ?? 'application/json',
  };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const request =
    url.protocol === 'https:'
      ? httpsRequest(url, { method, headers, ca: target.ca }, onResponse)
      : httpRequest(url, { method, headers }, onResponse);
  request.on('error', onError);
  request.setTimeout(options.timeoutMs ?? 15_000, () => request.destroy(new Error(`${method} ${path}: timed out`)));
  request.end(options.body);
  return () => request.destroy();
}

export function raw(target: RawTarget, method: string, path: string, options: RawOptions = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    send(
      target,
      method,
      path,
      options,
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
            contentType: response.headers['content-type'],
          }),
        );
        response.on('error', reject);
      },
      reject,
    );
  });
}

export interface RawWatch {
  status: number;
  lines: string[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  waitForLines(n: number, timeoutMs?: number): Promise<string[]>;
  abort(): void;
}

export function rawWatch(target: RawTarget, path: string, options: RawOptions = {}): Promise<RawWatch> {
  return new Promise((resolve, reject) => {
    const abort = send(
      target,
      'GET',
      path,
      { ...options, timeoutMs: options.timeoutMs ?? 600_000 },
      (response) => {
        const lines: string[] = [];
        let buffered = '';
        let done = false;
        const waiters: Array<() => void> = [];
        const notify = () => {
          for (const waiter of waiters.splice(0)) waiter();
        };
        const ended = new Promise<void>((end) => {
          response.on('data', (chunk: Buffer) => {
            buffered += chunk.toString('utf8');
            const parts = buffered.split('\n');
            buffered = parts.pop() ?? '';
            lines.push(...parts.filter((part) => part !== ''));
            notify();
          });
          const finish = () => {
            done = true;
            notify();
            end();
          };
          response.on('end', finish);
          response.on('close', finish);
          response.on('error', finish);
        });
        resolve({
          status: response.statusCode ?? 0,
          lines,
          ended,
          abort,
          waitForLines: async (n, timeoutMs = 10_000) => {
            const deadline = Date.now() + timeoutMs;
            while (lines.length < n) {
              if (done) throw new Error(`watch ended after ${lines.length} line(s), wanted ${n}: ${lines.join(' | ')}`);
              if (Date.now() > deadline)
                throw new Error(`watch: ${lines.length} line(s) after ${timeoutMs} ms, wanted ${n}`);
              await new Promise<void>((wake) => {
                waiters.push(wake);
                setTimeout(wake, 100);
              });
            }
            return lines.slice(0, n);
          },
        });
      },
      reject,
    );
  });
}
