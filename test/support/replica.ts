import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ChildHandle } from './child.ts';
import { appCommand } from './image.ts';

const SOURCE_CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

/**
 * How the process tests start leaderhook: the TypeScript source, or — with `LEADERHOOK_TEST_APP` naming a folder
 * built by buildApp (test/support/image.ts) — the bundle there, with the image's Node.js options and environment.
 * Read at each start, so a test file may set the variable before it starts replicas.
 */
export function leaderhookCommand(): { args: string[]; env: Record<string, string> } {
  const app = process.env.LEADERHOOK_TEST_APP;
  if (!app) return { args: [SOURCE_CLI], env: {} };
  return appCommand(app);
}

/** `node` arguments that run leaderhook (see leaderhookCommand) with `args`. */
export function cliArgs(...args: string[]): string[] {
  return [...leaderhookCommand().args, ...args];
}

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
    /** Node.js options and the program to run, with their environment (default: leaderhookCommand()). */
    command?: { args: string[]; env: Record<string, string> };
    /**
     * Whether the process gets this process's environment under `command.env` and `env` (default true); false runs
     * it with those alone, as a container gets only its image's and its pod's variables.
     */
    inheritEnv?: boolean;
  }): Promise<Replica> {
    const port = options.port ?? (await freePort());
    const command = options.command ?? leaderhookCommand();
    const args = [
      ...command.args,
      `--election=${options.election}`,
      '--election-namespace=default',
      `--id=${options.id}`,
      `--http=127.0.0.1:${port}`,
      `--kubeconfig=${options.kubeconfig}`,
      ...(options.args ?? []),
    ];
    const env = { ...(options.inheritEnv === false ? {} : process.env), ...command.env, ...options.env };
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
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
