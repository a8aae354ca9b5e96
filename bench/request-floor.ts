// The HTTP client's share of the push latency: in a fresh process that has sent one POST before (as a follower has
// sent its hook a `leader.changed` before it takes over), the time from starting a second POST to its arrival at a
// server in the same process, with got (as the notifier sends it: its own retry off, no redirects, a timeout) or
// with node:http. Run by bench/run.ts as `node <the image's Node.js options> bench/request-floor.ts got|http`;
// prints the milliseconds.
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import got from 'got';

const client = process.argv[2] === 'got' ? 'got' : 'http';
const arrivals: Array<() => void> = [];
const server = createServer((request, response) => {
  arrivals.shift()?.();
  request.resume();
  request.on('end', () => response.end('ok'));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
const body = JSON.stringify({ type: 'leadership.started', data: { leader: 'replica-1', transitions: 3 } });
const headers = { 'content-type': 'application/json', 'webhook-id': 'msg_1' };

function post(): Promise<void> {
  return new Promise((resolve, reject) => {
    if (client === 'got') {
      const stream = got.stream.post(url, {
        body,
        headers,
        timeout: { request: 5000 },
        retry: { limit: 0 },
        followRedirect: false,
        throwHttpErrors: false,
      });
      stream.once('error', reject);
      stream.once('response', () => {
        stream.resume();
        resolve();
      });
      return;
    }
    const request = httpRequest(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (response) => {
        response.resume();
        resolve();
      },
    );
    request.once('error', reject);
    request.end(body);
  });
}

await post();
await new Promise((resolve) => setTimeout(resolve, 300));
const startedAt = performance.now();
const arrived = new Promise<number>((resolve) => arrivals.push(() => resolve(performance.now())));
void post();
console.log(((await arrived) - startedAt).toFixed(2));
server.close();
process.exit(0);
