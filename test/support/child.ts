import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { stopWhenFileEnds } from './leftovers.ts';

/** A process under test: stdout line by line to the subclass, stderr kept, its exit awaited. */
export abstract class ChildHandle {
  readonly process: ChildProcess;
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;

  protected constructor(child: ChildProcess) {
    this.process = child;
    // Lines arrive asynchronously, after the subclass has initialised its fields.
    createInterface({ input: child.stdout! }).on('line', (line) => this.onStdoutLine(line));
    createInterface({ input: child.stderr! }).on('line', (line) => this.stderr.push(line));
    const forget = stopWhenFileEnds(() => child.kill('SIGKILL'));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        forget();
        resolve(code);
      }),
    );
  }

  protected abstract onStdoutLine(line: string): void;

  signal(signal: NodeJS.Signals): void {
    this.process.kill(signal);
  }

  /** Kills it (SIGKILL) unless it has exited already. */
  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill('SIGKILL');
    await this.exited;
  }
}
