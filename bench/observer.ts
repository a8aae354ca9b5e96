// A small process that takes the bench's timestamps, so that the bench's own work (parsing replicas' logs, starting
// processes) never delays them: it is the hook receiver (answers 200, or never for paths under --hang) and reads
// replicas' /watch streams. Wall-clock times with sub-millisecond resolution, one JSON line per observation:
//   {"port":N}                                         once listening
//   {"hook":{path,type,eventAt,arrivedAt,receivedAt,reusedConnection}}
//   {"sse":{id,event,at}}
//   {"served":{id,url,name,at}}                        the first GET / that names a leader other than `not`
// Commands on stdin, one JSON line each: {"watch":URL,"id":ID}, {"unwatch":ID}, and
// {"poll":[URL...],"id":ID,"not":NAME} (GET / on each URL when its /watch stream sends an event and every 25 ms,
// until one names another leader, for 10 s at most).
import { Agent, createServer, get } from 'node:http';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { hang: { type: 'string' } } });
const now = (): number => performance.timeOrigin + performance.now();
const emit = (line: unknown): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

const served = new WeakSet<Socket>();
const server = createServer((request, response) => {
  const arrivedAt = now();
  const reusedConnection = served.has(request.socket);
  served.add(request.socket);
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const receivedAt = now();
    const path = request.url ?? '';
    if (values.hang && path.startsWith(values.hang)) return; // never answered: the sender times out
    response.end();
    const text = Buffer.concat(chunks).toString('utf8');
    let body: { type?: string; timestamp?: string } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // not JSON: only headers tell the type
    }
    // CloudEvents binary mode carries type and time in headers.
    const type = String(request.headers['ce-type'] ?? body.type ?? '').replace(/^io\.leaderhook\./, '');
    const eventAt = Date.parse(String(request.headers['ce-time'] ?? body.timestamp ?? ''));
    emit({ hook: { path, type, eventAt, arrivedAt, receivedAt, reusedConnection } });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => emit({ port: (server.address() as { port: number }).port }));

const streams = new Map<string, AbortController>();
async function watch(url: string, id: string): Promise<void> {
  const controller = new AbortController();
  streams.set(id, controller);
  try {
    const response = await fetch(url, { signal: controller.signal });
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of response.body ?? []) {
      const at = now();
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        emit({ sse: { id, event: /^event: ?(.*)$/m.exec(block)?.[1] ?? 'message', at } });
        for (const poke of pokes) poke(url.replace(/\/watch$/, ''));
      }
    }
  } catch {
    // aborted, or the replica exited
  } finally {
    streams.delete(id);
  }
}

const pollAgent = new Agent({ keepAlive: true });

/** GET / on `url`, resolving with the `name` answered ('' on any failure). */
function leaderName(url: string): Promise<string> {
  return new Promise((resolve) => {
    const request = get(`${url}/`, { agent: pollAgent, timeout: 1000 }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        try {
          const { name } = JSON.parse(text) as { name?: unknown };
          resolve(typeof name === 'string' ? name : '');
        } catch {
          resolve('');
        }
      });
    });
    request.on('error', () => resolve(''));
    request.on('timeout', () => request.destroy());
  });
}

/** Asks a replica's GET / at once (its /watch stream just sent an event). */
const pokes = new Set<(url: string) => void>();

async function poll(urls: string[], id: string, not: string): Promise<void> {
  // GET / as soon as a replica's /watch stream sends an event, and every 25 ms besides: polling every 2 ms kept both
  // followers' main threads a quarter busy on a 2-core machine, slowing the very handover being measured.
  const deadline = now() + 10_000;
  let done = false;
  const asking = new Set<string>();
  const again = new Set<string>();
  const ask = async (url: string): Promise<void> => {
    if (asking.has(url)) {
      again.add(url);
      return;
    }
    asking.add(url);
    do {
      again.delete(url);
      const name = await leaderName(url);
      const at = now();
      if (!done && name && name !== not) {
        done = true;
        emit({ served: { id, url, name, at } });
      }
    } while (!done && again.has(url));
    asking.delete(url);
  };
  const poke = (url: string) => {
    if (urls.includes(url)) void ask(url);
  };
  pokes.add(poke);
  while (!done && now() < deadline) {
    for (const url of urls) void ask(url);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  pokes.delete(poke);
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line) as { watch?: string; id?: string; unwatch?: string; poll?: string[]; not?: string };
  if (command.watch && command.id) void watch(command.watch, command.id);
  if (command.unwatch) streams.get(command.unwatch)?.abort();
  if (command.poll && command.id) void poll(command.poll, command.id, command.not ?? '');
});
process.stdin.on('end', () => process.exit(0));
