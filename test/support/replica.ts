import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ChildHandle } from './child.ts';

export const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

export interface LeaderBody {
  leader: string;
  self: string;
  isLeader: boolean;
  transitions: number;
}

/**
 * A free TCP port on loopback for a child process to listen on, from below the kernel's ephemeral range (Linux:
 * 32768–60999; macOS and Windows start higher still). A port from that range, closed again until the child binds it,
 * can meanwhile be handed to any outgoing connection or `listen(0)` on the machine — and under a busy test suite it
 * is: the child then fails to start. The kernel never hands out a port below the range by itself.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const server = createServer();
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!listening) continue;
    server.close();
    await once(server, 'close');
    return port;
  }
}

/** One line of a replica's JSON log: its message and fields (a line that is not JSON is kept as its message). */
export interface LogLine {
  msg?: string;
  [field: string]: unknown;
}

/** One leaderhook replica as a real process, with its JSON log lines kept. */
export class Replica extends ChildHandle {
  readonly id: string;
  readonly port: number;
  readonly logs: LogLine[] = [];

  private constructor(id: string, port: number, child: ChildProcess) {
    super(child);
    this.id = id;
    this.port = port;
  }

  protected onStdoutLine(line: string): void {
    try {
      this.logs.push(JSON.parse(line) as LogLine);
    } catch {
      this.logs.push({ msg: line });
    }
  }

  static async start(options: {
    id: string;
    kubeconfig: string;
    election: string;
    args?: string[];
    port?: number;
    env?: NodeJS.ProcessEnv;
    /** The program to run: the TypeScript source by default, or the built `dist/cli.js`. */
    entry?: string;
  }): Promise<Replica> {
    const port = options.port ?? (await freePort());
    const args = [
      options.entry ?? CLI,
      `--election=${options.election}`,
      '--election-namespace=default',
      `--id=${options.id}`,
      `--http=127.0.0.1:${port}`,
      `--kubeconfig=${options.kubeconfig}`,
      ...(options.args ?? []),
    ];
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    return new Replica(options.id, port, child);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async leader(): Promise<LeaderBody | undefined> {
    try {
      const response = await fetch(`${this.url}/leader`, { signal: AbortSignal.timeout(2000) });
      return (await response.json()) as LeaderBody;
    } catch {
      return undefined;
    }
  }
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  intervalMs = 20,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
