import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** The body of a webhook in the json format: the event's type, time and data. */
export interface WebhookBody {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/** What to do with one request: answer with a status (and headers), after `delayMs` if given, or hang. */
export type Behaviour = { status: number; headers?: Record<string, string>; body?: string; delayMs?: number } | 'hang';

/**
 * A real HTTP receiver on loopback. Requests are answered from `script` in order, then with `fallback`; everything
 * received is kept, including requests that were hung up on.
 */
export class Receiver {
  readonly received: Received[] = [];
  script: Behaviour[];
  fallback: Behaviour;
  #server: Server | undefined;
  #hanging = new Set<ServerResponse>();
  #waiters: Array<() => void> = [];
  port: number;

  private constructor(port: number, script: Behaviour[], fallback: Behaviour) {
    this.port = port;
    this.script = script;
    this.fallback = fallback;
  }

  static async start(options: { script?: Behaviour[]; fallback?: Behaviour; port?: number } = {}): Promise<Receiver> {
    const receiver = new Receiver(options.port ?? 0, options.script ?? [], options.fallback ?? { status: 200 });
    await receiver.listen();
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async listen(): Promise<void> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.received.push({
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: performance.now(),
        });
        for (const wake of this.#waiters.splice(0)) wake();
        const behaviour = this.script.shift() ?? this.fallback;
        if (behaviour === 'hang') {
          this.#hanging.add(response);
          response.on('close', () => this.#hanging.delete(response));
          return;
        }
        const reply = () => {
          response.writeHead(behaviour.status, behaviour.headers ?? {});
          response.end(behaviour.body ?? '');
        };
        if (behaviour.delayMs) setTimeout(reply, behaviour.delayMs);
        else reply();
      });
    });
    server.keepAliveTimeout = 60_000;
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Waits until at least `count` requests arrived. */
  async waitFor(count: number, timeoutMs = 10_000): Promise<Received[]> {
    const deadline = performance.now() + timeoutMs;
    while (this.received.length < count) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out waiting for ${count} requests (got ${this.received.length})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received;
  }

  json(): WebhookBody[] {
    return this.received.map((request) => JSON.parse(request.body) as WebhookBody);
  }

  async close(): Promise<void> {
    if (!this.#server) return;
    for (const response of this.#hanging) response.destroy();
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
    this.#server = undefined;
  }
}
