// The library's cost inside an app: the memory a Node.js app that already uses @kubernetes/client-node gains when it
// also elects with leaderhook's library (the build `import … from 'leaderhook'` loads: leaderhook's own code, the
// app's installed client-node and prom-client).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from '../scripts/build/bundle.ts';
import { medianMemory, MemorySampler, type MemorySample } from './process-stats.ts';
import type { Bench } from './setup.ts';

/**
 * The app: it reads a Lease with its own client every 2 s, as an app using the API does; with `ELECT=1` it also runs
 * an election on the library (its own KubeConfig handed over) with leader work that waits for its signal. It prints
 * `ready` once it is settled: at once, or once it leads.
 */
const APP = `import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
const { KUBECONFIG: file, NAMESPACE: namespace, ELECTION: election, ELECT } = process.env;
const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(file);
const leases = kubeConfig.makeApiClient(CoordinationV1Api);
setInterval(() => leases.readNamespacedLease({ name: election, namespace }).catch(() => {}), 2000);
if (ELECT) {
  const { createElection } = await import('./dist/index.js');
  const run = createElection({ election, namespace, identity: 'library-app', kubeConfig, leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 500 });
  run.start();
  void run.runWhileLeading((signal) => new Promise((resolve) => signal.addEventListener('abort', resolve)));
  while (!run.state.isLeader) await new Promise((resolve) => setTimeout(resolve, 50));
}
console.log('ready');
`;

/**
 * Idle RSS and RssAnon (MiB, medians over `seconds` after 5 s settling, median of `runs` processes each) of the app
 * without and with the library's election, run as an app runs: plain `node`, no Node.js options, the app's own
 * node_modules.
 */
export async function libraryInApp(
  bench: Bench,
  seconds: number,
  runs = 3,
): Promise<{ clientOnly: MemorySample; withElection: MemorySample }> {
  const app = join(bench.appDirectory, 'library-app.mjs');
  writeFileSync(app, APP);
  // The library's build imports its dependencies from the app's node_modules: this checkout's.
  try {
    symlinkSync(join(ROOT, 'node_modules'), join(bench.appDirectory, 'node_modules'), 'dir');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const measure = async (elect: boolean): Promise<MemorySample> => {
    const figures: MemorySample[] = [];
    for (let run = 0; run < runs; run++) {
      const child = spawn(process.execPath, [app], {
        cwd: bench.appDirectory,
        stdio: ['ignore', 'pipe', 'inherit'],
        env: {
          PATH: process.env.PATH,
          KUBECONFIG: bench.kubeconfig,
          NAMESPACE: bench.namespace,
          ELECTION: `library-${Date.now().toString(36)}`,
          ...(elect ? { ELECT: '1' } : {}),
        },
      });
      try {
        const [line] = (await Promise.race([
          once(createInterface({ input: child.stdout }), 'line'),
          once(child, 'exit'),
        ])) as [string];
        if (line !== 'ready') throw new Error('the library bench app did not start');
        await new Promise((resolve) => setTimeout(resolve, 5000));
        const sampler = new MemorySampler([child.pid as number]);
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
        sampler.stop();
        figures.push(medianMemory(sampler.samples.get(child.pid as number) ?? []));
      } finally {
        child.kill('SIGKILL');
        await once(child, 'exit').catch(() => {});
      }
    }
    return medianMemory(figures);
  };
  return { clientOnly: await measure(false), withElection: await measure(true) };
}
