// A TCP proxy between one replica and the API server that breaks the network the way operators' networks do:
// - silence(): every open connection stops forwarding in both directions, without FIN or RST (a NAT or conntrack
//   entry dropped); new connections work. The silenced ones stay dead until the client gives up on them.
// - partition(): open connections stop forwarding and new connections are accepted but black-holed (the client sees
//   no answer), until heal(), which delivers what waited, as TCP does after a partition.
// It works below TLS, so it serves the embedded API and kube-apiserver alike.
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';

type ConnectionState = 'open' | 'held' | 'silenced';

interface Connection {
  client: Socket;
  upstream: Socket | undefined;
  state: ConnectionState;
  /** Client bytes received while held, forwarded on heal. */
  pending: Buffer[];
  /** Server bytes received while held, delivered on heal. */
  held: Buffer[];
  /** The server closed the connection while it was held: closed on heal, after what waited. */
  upstreamEnded: boolean;
}

export class FaultProxy {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #connections = new Set<Connection>();
  #partitioned = false;
  #accepted = 0;

  private constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
    server.on('connection', (client) => this.#accept(client));
  }

  /** A proxy on a free loopback port forwarding to `target` (a URL or host:port of the API server). */
  static async start(target: string): Promise<FaultProxy> {
    const url = new URL(target.includes('://') ? target : `tcp://${target}`);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const server = createServer({ pauseOnConnect: false });
    const proxy = new FaultProxy(server, { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  /** The proxy's address with the target's scheme, e.g. `https://127.0.0.1:41234`. */
  url(scheme: 'http' | 'https'): string {
    return `${scheme}://127.0.0.1:${this.port}`;
  }

  /** Connections open now (not yet closed by either side). */
  get openConnections(): number {
    return this.#connections.size;
  }

  /** Connections accepted since the start. */
  get acceptedConnections(): number {
    return this.#accepted;
  }

  get partitioned(): boolean {
    return this.#partitioned;
  }

  /** Every open connection goes silent for good (no FIN, no RST, nothing forwarded); new connections work. */
  silence(): number {
    let count = 0;
    for (const connection of this.#connections) {
      if (connection.state === 'silenced') continue;
      connection.state = 'silenced';
      connection.pending = [];
      connection.held = [];
      count++;
    }
    return count;
  }

  /** All traffic stops: open connections hold, new ones are accepted but get no answer, until heal(). */
  partition(): void {
    this.#partitioned = true;
    for (const connection of this.#connections) {
      if (connection.state === 'open') connection.state = 'held';
    }
  }

  /** Ends a partition: held connections resume (what waited is delivered), new ones are forwarded again. */
  heal(): void {
    this.#partitioned = false;
    for (const connection of this.#connections) {
      if (connection.state !== 'held') continue;
      connection.state = 'open';
      this.#flush(connection);
    }
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    for (const connection of this.#connections) this.#destroy(connection);
    this.#server.close();
    await once(this.#server, 'close').catch(() => undefined);
  }

  #accept(client: Socket): void {
    this.#accepted++;
    client.setNoDelay(true);
    const connection: Connection = {
      client,
      upstream: undefined,
      state: this.#partitioned ? 'held' : 'open',
      pending: [],
      held: [],
      upstreamEnded: false,
    };
    this.#connections.add(connection);
    client.on('data', (chunk: Buffer) => {
      if (connection.state === 'silenced') return;
      if (connection.state === 'held' || !connection.upstream) {
        connection.pending.push(chunk);
        return;
      }
      connection.upstream.write(chunk);
    });
    const end = () => this.#destroy(connection);
    client.on('error', end);
    client.on('close', end);
    client.on('end', () => {
      if (connection.state === 'open') connection.upstream?.end();
    });
    if (connection.state === 'open') this.#connectUpstream(connection);
  }

  #connectUpstream(connection: Connection): void {
    const upstream = connect(this.#target.port, this.#target.host);
    connection.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('connect', () => {
      if (connection.state === 'open') this.#flush(connection);
    });
    upstream.on('data', (chunk: Buffer) => {
      // Held: the server's bytes wait, delivered on heal; silenced: dropped.
      if (connection.state === 'silenced') return;
      if (connection.state === 'held') connection.held.push(chunk);
      else connection.client.write(chunk);
    });
    // A refused or reset upstream (the API server down) resets the client too, as a direct connection would.
    const end = () => {
      if (connection.state === 'silenced') return;
      if (connection.state === 'held') connection.upstreamEnded = true;
      else this.#destroy(connection);
    };
    upstream.on('error', end);
    upstream.on('close', end);
  }

  #flush(connection: Connection): void {
    for (const chunk of connection.held.splice(0)) connection.client.write(chunk);
    if (connection.upstreamEnded) {
      this.#destroy(connection);
      return;
    }
    if (!connection.upstream) {
      this.#connectUpstream(connection);
      return;
    }
    if (connection.upstream.connecting) return;
    for (const chunk of connection.pending.splice(0)) connection.upstream.write(chunk);
  }

  #destroy(connection: Connection): void {
    if (!this.#connections.delete(connection)) return;
    connection.client.destroy();
    connection.upstream?.destroy();
  }
}

/** Writes a copy of `kubeconfig` whose cluster server is `server` (the proxy in front of the original one). */
export function proxiedKubeconfig(kubeconfig: string, server: string, destination: string): { original: string } {
  const text = readFileSync(kubeconfig, 'utf8');
  const match = /^(\s*server:\s*)(\S+)\s*$/m.exec(text);
  if (!match) throw new Error(`${kubeconfig}: no cluster server to proxy`);
  writeFileSync(destination, text.replace(match[0], `${match[1]}${server}`), { mode: 0o600 });
  return { original: match[2] as string };
}

/** The cluster server named in `kubeconfig`. */
export function kubeconfigServer(kubeconfig: string): string {
  const match = /^\s*server:\s*(\S+)\s*$/m.exec(readFileSync(kubeconfig, 'utf8'));
  if (!match) throw new Error(`${kubeconfig}: no cluster server`);
  return match[1] as string;
}
