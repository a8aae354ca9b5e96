import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import got, { MaxRedirectsError, RequestError, TimeoutError } from 'got';

/** How one check ended, as counted in `leaderhook_candidate_checks_total{result}`. */
export type ProbeResult = 'success' | 'http-status' | 'timeout' | 'connection-refused' | 'error';

export const PROBE_RESULTS: readonly ProbeResult[] = [
  'success',
  'http-status',
  'timeout',
  'connection-refused',
  'error',
];

export interface ProbeOutcome {
  healthy: boolean;
  result: ProbeResult;
  /** The status code of the last response, when one came. */
  status?: number;
  /** For logs and `GET /leader`: `HTTP 503`, `no response within 1000 ms`, `connection refused`, … (never the URL). */
  message: string;
}

/** kubelet reads at most 10 KiB of a probe's body (`maxRespBodyLength`); the rest is never read. */
export const MAX_PROBE_BODY_BYTES = 10 * 1024;

/**
 * kubelet reads response headers up to Go's `http.Transport` default `MaxResponseHeaderBytes`, 10 MiB; Node.js's
 * own limit (16 KiB) would judge an app unhealthy that kubelet finds healthy.
 */
export const MAX_PROBE_HEADER_BYTES = 10 * 1024 * 1024;

/** kubelet follows at most 10 redirects. */
const MAX_REDIRECTS = 10;

const USER_AGENT = 'leaderhook-candidate-check';

// kubelet's prober opens a new connection for every probe (DisableKeepAlives): no pooled socket to go stale.
const AGENTS = { http: new HttpAgent({ keepAlive: false }), https: new HttpsAgent({ keepAlive: false }) };

/**
 * One HTTP GET of the main container's health endpoint, with kubelet's httpGet probe semantics
 * (pkg/probe/http in Kubernetes):
 * - healthy when the status is 200–399; any other status, a timeout or a connection error is unhealthy;
 * - redirects are followed to the same host only, at most 10; a redirect to another host is judged by its own 3xx
 *   status (kubelet's "probe terminated redirects" warning, which counts as success);
 * - a new connection for every check (kubelet disables keep-alive) and, for https, no certificate verification
 *   (kubelet's prober skips it: the app's certificate is rarely valid for its loopback address);
 * - no `Accept-Encoding` (kubelet's transport disables compression), response headers up to
 *   `MAX_PROBE_HEADER_BYTES`;
 * - `timeoutMs` bounds the whole request, from connect to the status line. The verdict is the status line's; of the
 *   body at most `MAX_PROBE_BODY_BYTES` is read and dropped, then the connection is closed.
 * Never throws: every failure is an outcome.
 */
export function probe(url: URL, timeoutMs: number, signal?: AbortSignal): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const stream = got.stream(url, {
      method: 'GET',
      headers: { 'user-agent': USER_AGENT, accept: '*/*' },
      agent: AGENTS,
      decompress: false,
      maxHeaderSize: MAX_PROBE_HEADER_BYTES,
      https: { rejectUnauthorized: false },
      timeout: { request: timeoutMs },
      retry: { limit: 0 },
      followRedirect: (response) => sameHost(response.url, response.headers.location),
      maxRedirects: MAX_REDIRECTS,
      throwHttpErrors: false,
      ...(signal ? { signal } : {}),
    });
    stream.once('error', (error: unknown) => resolve(failure(error, timeoutMs)));
    stream.once('response', (response: { statusCode: number }) => {
      const status = response.statusCode;
      const healthy = status >= 200 && status < 400;
      resolve({ healthy, result: healthy ? 'success' : 'http-status', status, message: `HTTP ${status}` });
      let received = 0;
      stream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= MAX_PROBE_BODY_BYTES) stream.destroy();
      });
      // The verdict is in: a late error (the cut-off, a reset, the timeout on a body that never ends) changes nothing.
      stream.on('error', () => {});
    });
  });
}

function sameHost(from: string, location: string | undefined): boolean {
  if (!location) return false;
  try {
    return new URL(location, from).hostname === new URL(from).hostname;
  } catch {
    return false;
  }
}

/** Names the kind of failure only: a got message can quote the URL. */
function failure(error: unknown, timeoutMs: number): ProbeOutcome {
  if (error instanceof TimeoutError)
    return { healthy: false, result: 'timeout', message: `no response within ${timeoutMs} ms` };
  if (error instanceof MaxRedirectsError)
    return { healthy: false, result: 'error', message: `more than ${MAX_REDIRECTS} redirects` };
  const code = error instanceof RequestError ? error.code : (error as { code?: string }).code;
  if (code === 'ECONNREFUSED') return { healthy: false, result: 'connection-refused', message: 'connection refused' };
  if (code === 'ERR_ABORTED' || (error as Error).name === 'AbortError')
    return { healthy: false, result: 'error', message: 'aborted' };
  return { healthy: false, result: 'error', message: code ? `connection error ${code}` : 'connection error' };
}
