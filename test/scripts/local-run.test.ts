/**
 * `npm start` as a newcomer follows it: the local run prints the kubeconfig and the kubectl command to watch the
 * Lease, and that command, run as printed (the installed kubectl), shows the Lease change hands through the demo's
 * SIGTERM and SIGKILL failovers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../support/replica.ts';
import { requireTool } from '../support/tools.ts';

const LOCAL_RUN = fileURLToPath(new URL('../../scripts/local-run.ts', import.meta.url));

async function isFree(port: number): Promise<boolean> {
  const server = createServer();
  server.listen(port, '127.0.0.1');
  try {
    await once(server, 'listening');
  } catch {
    return false;
  }
  server.close();
  await once(server, 'close');
  return true;
}

/** A base port with the two after it free too (the local run serves three replicas). */
async function freeBasePort(): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await isFree(base)) && (await isFree(base + 1)) && (await isFree(base + 2))) return base;
  }
}

test('npm start prints a kubectl command that watches the Lease change hands', { timeout: 90_000 }, async (t) => {
  const kubectl = requireTool(t, 'kubectl', 'apt-get install kubernetes-client');
  if (!kubectl) return;
  const home = mkdtempSync(join(tmpdir(), 'leaderhook-local-run-home-'));
  const run = spawn(process.execPath, [LOCAL_RUN, `--base-port=${await freeBasePort()}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const printed: string[] = [];
  createInterface({ input: run.stdout }).on('line', (line) => printed.push(line));
  const watched: string[] = [];
  let watcher: ReturnType<typeof spawn> | undefined;
  try {
    const command = await waitFor('the kubectl command', () =>
      printed.map((line) => /kubectl (--kubeconfig=\S+ get lease -w)$/.exec(line)?.[1]).find(Boolean),
    );
    assert.ok(
      printed.some((line) => /kubeconfig for it: \/\S+kubeconfig$/.test(line)),
      printed.join('\n'),
    );
    // As printed: the newcomer's own shell, with kubectl's cache under a home of this test's own.
    watcher = spawn(kubectl, command.split(' '), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: home },
    });
    createInterface({ input: watcher.stdout! }).on('line', (line) => watched.push(line));
    createInterface({ input: watcher.stderr! }).on('line', (line) => watched.push(`stderr: ${line}`));
    watcher.once('exit', (code) => watched.push(`kubectl exited: ${code}`));
    // The holders in turn (a row without one, the released lock, is not a holder); the restarted first leader may
    // well be the one that takes over after the SIGKILL.
    const holders = (): string[] =>
      watched
        .map((line) => line.trim().split(/\s{2,}/))
        .filter((cells) => cells[0] === 'local-demo' && cells.length === 3)
        .map((cells) => cells[1]!)
        .filter((holder, index, all) => index === 0 || holder !== all[index - 1]);
    // The first leader, its successor after the SIGTERM, and the next after the SIGKILL.
    await waitFor('three holders in turn', () => holders().length >= 3, 60_000, 100);
    assert.deepEqual(watched[0]?.trim().split(/\s{2,}/), ['NAME', 'HOLDER', 'AGE']);
    for (const holder of holders()) assert.match(holder, /^replica-[123]$/);
  } catch (error) {
    throw new Error(
      `${(error as Error).message}\n--- npm start ---\n${printed.join('\n')}\n--- kubectl ---\n${watched.join('\n')}`,
      {
        cause: error,
      },
    );
  } finally {
    watcher?.kill();
    run.kill('SIGINT');
    await once(run, 'exit');
    rmSync(home, { recursive: true, force: true });
  }
});

test('Ctrl-C on npm start: the leader releases the lock, every replica exits', { timeout: 60_000 }, async () => {
  // Its own process group, as a terminal's foreground job: Ctrl-C sends SIGINT to the whole group.
  const run = spawn(process.execPath, [LOCAL_RUN, `--base-port=${await freeBasePort()}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const printed: string[] = [];
  createInterface({ input: run.stdout }).on('line', (line) => printed.push(line));
  try {
    const leader = await waitFor(
      'a first leader',
      () => printed.map((line) => /all replicas name (\S+) as leader/.exec(line)?.[1]).find(Boolean),
      30_000,
    );
    process.kill(-run.pid!, 'SIGINT');
    const [code] = (await once(run, 'exit')) as [number | null];
    assert.equal(code, 0, printed.join('\n'));
    // A follower may take the released lock before its own SIGTERM is handled; it releases it too.
    assert.ok(
      printed.some((line) => line.endsWith(`${leader} released the lock`)),
      `the leader released the lock:\n${printed.join('\n')}`,
    );
    assert.ok(!printed.some((line) => line.includes('error')), printed.join('\n'));
  } finally {
    if (run.exitCode === null) process.kill(-run.pid!, 'SIGKILL');
  }
});
