import got, { RequestError, TimeoutError } from 'got';
import { parseRetryAfter } from './retry-after.ts';

export interface Request {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Aborts the request in flight (shutdown past the drain bound). */
  signal?: AbortSignal;
}

/** Why an attempt failed; the `reason` label of the failure metrics. */
export type FailureReason =
  | 'timeout'
  | 'connection-refused'
  | 'connection'
  | 'http-408'
  | 'http-429'
  | 'http-5xx'
  | 'http-3xx'
  | 'http-4xx'
  | 'http-410'
  | 'invalid-request'
  | 'aborted';

export type AttemptResult =
  | { outcome: 'delivered'; status: number; durationMs: number }
  /** Worth another attempt: 408, 429, 5xx, timeouts and connection errors. */
  | {
      outcome: 'retry';
      reason: FailureReason;
      status?: number;
      retryAfterMs?: number;
      message: string;
      durationMs: number;
    }
  /**
   * Another attempt cannot help: 3xx (redirects are not followed), 4xx other than 408, 410 and 429, and a request that
   * cannot be built (no status).
   */
  | { outcome: 'permanent'; reason: FailureReason; status?: number; message: string; durationMs: number }
  /** 410 Gone: the receiver asks to be left alone; the target is disabled. */
  | { outcome: 'disable'; reason: 'http-410'; status: 410; message: string; durationMs: number };

const USER_AGENT = 'leaderhook';

/** Classifies a status code as the Standard Webhooks recommendations and the issue require. */
function classifyStatus(status: number): 'delivered' | 'retry' | 'permanent' | 'disable' {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 410) return 'disable';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'permanent';
}

function statusReason(status: number): FailureReason {
  if (status === 408) return 'http-408';
  if (status === 429) return 'http-429';
  if (status === 410) return 'http-410';
  if (status >= 500) return 'http-5xx';
  if (status >= 300 && status < 400) return 'http-3xx';
  return 'http-4xx';
}

/**
 * The most of a response body that is read, and thrown away unread: a short answer ends cleanly and its connection is
 * reused; a longer one is cut off with its connection, so a receiver answering gigabytes costs nothing.
 */
export const MAX_RESPONSE_BODY_BYTES = 64 * 1024;

/**
 * Node.js refuses to build a request with these: a header value or name it cannot send, a URL it cannot parse.
 * Another attempt would fail the same way.
 */
const UNBUILDABLE = new Set([
  'ERR_INVALID_CHAR',
  'ERR_HTTP_INVALID_HEADER_VALUE',
  'ERR_INVALID_HTTP_TOKEN',
  'ERR_INVALID_URL',
  'ERR_UNESCAPED_CHARACTERS',
]);

interface ResponseHead {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * One POST with got: its own retry off (p-retry owns retries, so every failure is seen once), redirects not followed,
 * a per-attempt timeout over the whole request, and no throwing on status codes (the status is classified here). The
 * outcome is decided by the status line and headers; of the body at most `MAX_RESPONSE_BODY_BYTES` is read and none
 * of it kept. A request Node.js cannot build (a header value with CR/LF or beyond Latin-1, say) is a permanent failure,
 * never sent and never retried.
 */
export async function attempt(request: Request): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  try {
    const response = await post(request);
    const status = response.statusCode;
    const outcome = classifyStatus(status);
    if (outcome === 'delivered') return { outcome, status, durationMs: elapsed() };
    const message = `HTTP ${status}`;
    if (outcome === 'retry') {
      const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
      return {
        outcome,
        reason: statusReason(status),
        status,
        message,
        durationMs: elapsed(),
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
    }
    if (outcome === 'disable') return { outcome, reason: 'http-410', status: 410, message, durationMs: elapsed() };
    return { outcome, reason: statusReason(status), status, message, durationMs: elapsed() };
  } catch (error) {
    const code = error instanceof RequestError ? error.code : (error as { code?: string }).code;
    if (code && UNBUILDABLE.has(code))
      return {
        outcome: 'permanent',
        reason: 'invalid-request',
        message: unbuildable(error, code),
        durationMs: elapsed(),
      };
    return { outcome: 'retry', ...describeError(error, request.timeoutMs), durationMs: elapsed() };
  }
}

/** Resolves at the response's status line and headers; the body is read on, up to the limit, and dropped. */
function post(request: Request): Promise<ResponseHead> {
  return new Promise((resolve, reject) => {
    const stream = got.stream.post(request.url, {
      body: request.body,
      headers: { 'user-agent': USER_AGENT, ...request.headers },
      timeout: { request: request.timeoutMs },
      retry: { limit: 0 },
      followRedirect: false,
      throwHttpErrors: false,
      ...(request.signal ? { signal: request.signal } : {}),
    });
    stream.once('error', reject);
    stream.once('response', (response: ResponseHead) => {
      resolve(response);
      let received = 0;
      stream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_RESPONSE_BODY_BYTES) stream.destroy();
      });
      // The outcome is settled: a late error (the cut-off, a reset, the timeout) changes nothing.
      stream.on('error', () => {});
    });
  });
}

/** Names the header Node.js refused, never its value (it may be a credential). */
function unbuildable(error: unknown, code: string): string {
  const message = error instanceof Error ? error.message : '';
  const header = /\["([^"]+)"\]/.exec(message)?.[1] ?? /for header "([^"]+)"/.exec(message)?.[1];
  if (header) return `the request cannot be built: header "${header}" holds a character HTTP cannot carry (${code})`;
  return `the request cannot be built (${code})`;
}
function describeError(error: unknown, timeoutMs: number): { reason: FailureReason; message: string } {
  if (error instanceof TimeoutError) return { reason: 'timeout', message: `no response within ${timeoutMs} ms` };
  const code = error instanceof RequestError ? error.code : (error as { code?: string }).code;
  if (code === 'ERR_ABORTED' || (error as Error).name === 'AbortError')
    return { reason: 'aborted', message: 'aborted' };
  if (code === 'ECONNREFUSED') return { reason: 'connection-refused', message: 'connection refused' };
  // The message names only the error code: a got message can quote the URL, which may carry a token.
  return { reason: 'connection', message: code ? `connection error ${code}` : 'connection error' };
}
