/**
 * leaderhook as a library, as an app gets it: `npm pack`, the tarball installed into an empty project, imported as ESM
 * and type-checked against the shipped declarations (the `exports` map and the `files` list proved, not assumed);
 * then examples/library's singleton job run from that project as three real processes against the embedded Lease
 * API, each behind a fault proxy: one job at a time, the job's signal aborted when its replica cannot renew, a
 * SIGTERM handing the job over by release, not by expiry, and a leader paused past its lease taking no step once it
 * runs again.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import { FaultProxy, proxiedKubeconfig } from '../support/fault-proxy.ts';
import { installInEmptyProject, packProject } from '../support/packed-package.ts';
import { Child, run } from '../support/process.ts';
import { waitFor } from '../support/replica.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

let scratch: string;
let tarball: string;
/** The app: an empty project with the packed leaderhook installed. */
let app: string;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'leaderhook-library-'));
  tarball = await packProject(scratch);
  app = join(scratch, 'app');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  await installInEmptyProject(tarball, app, [`@types/node@${pkg.devDependencies['@types/node']}`]);
  copyFileSync(join(ROOT, 'examples', 'library', 'job.mjs'), join(app, 'job.mjs'));
});

after(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Runs an ES module's source in the app with this Node.js; returns its stdout. */
function inApp(source: string): Promise<string> {
  return run(process.execPath, ['--input-type=module', '-e', source], { cwd: app });
}

describe('the packed package', () => {
  test('holds the build, the bin, the README and the manifest: no sources, tests or examples', () => {
    const listed = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    for (const file of ['dist/index.js', 'dist/types/index.d.ts', 'dist/cli.js', 'bin/leaderhook.js', 'README.md'])
      assert.ok(listed.includes(`package/${file}`), `${file} is packed`);
    const outside = listed.filter((file) => !/^package\/(dist\/|bin\/|README\.md$|package\.json$)/.test(file));
    assert.deepEqual(outside, []);
  });

  test('imports as ESM with exactly the public names', async () => {
    const names = await inApp(`console.log(JSON.stringify(Object.keys(await import('leaderhook')).sort()))`);
    assert.deepEqual(JSON.parse(names), ['NotLeadingError', 'UsageError', 'createElection']);
  });

  test('exports only its entry: a deep import is refused', async () => {
    const code = await inApp(
      `try { await import('leaderhook/dist/cli.js'); console.log('imported') } catch (e) { console.log(e.code) }`,
    );
    assert.equal(code.trim(), 'ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  test('an invalid option throws a UsageError naming the option, before any API call', async () => {
    const out = await inApp(`
      import { createElection, UsageError } from 'leaderhook';
      for (const options of [{ election: 'jobs', leaseDurationMs: 500 }, { election: 'jobs', leaseDuration: 15000 }]) {
        try { createElection(options); console.log('accepted') }
        catch (e) { console.log(e instanceof UsageError, e.subject) }
      }`);
    assert.deepEqual(out.trim().split('\n'), ['true leaseDurationMs', 'true leaseDuration']);
  });

  test('type-checks a consumer against the shipped declarations', async () => {
    writeFileSync(
      join(app, 'consumer.ts'),
      `import { createElection, NotLeadingError, UsageError, type Election, type LeadershipChange } from 'leaderhook';

const election: Election = createElection({ election: 'nightly-report', renewDeadlineMs: 10_000 });
const seen: LeadershipChange[] = [];
const unsubscribe: () => void = election.subscribe((change) => seen.push(change));
const leader: string = election.state.leader;
const until: number | undefined = election.leadingUntil();
for await (const change of election) if (change.type === 'stopped') console.log(change.reason);
await election.runWhileLeading(async (signal: AbortSignal) => {
  if (signal.reason instanceof NotLeadingError) console.log(signal.reason.reason);
});
await election.stop({ release: true });
// @ts-expect-error -- durations carry their unit in the name
createElection({ election: 'x', leaseDuration: 15 });
// @ts-expect-error -- the election name is required
createElection({ namespace: 'default' });
// @ts-expect-error -- a lock kind leaderhook does not have
createElection({ election: 'x', lock: 'secrets' });
const error = new UsageError('identity', 'must not be empty');
console.log(error.subject, leader, until, seen, unsubscribe);
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2024',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          types: ['node'],
        },
        files: ['consumer.ts'],
      }),
    );
    // Every declaration file is checked (no skipLibCheck); only leaderhook's and the consumer's count: a dependency's
    // own typings (client-node's optional `ws` types) are not leaderhook's to fix.
    const output = await run(process.execPath, [TSC, '-p', '.'], { cwd: app }).catch((error: Error) => error.message);
    const errors = output
      .split('\n')
      .filter((line) => /error TS\d+/.test(line))
      .filter((line) => !line.startsWith('node_modules/') || line.startsWith('node_modules/leaderhook/'));
    assert.deepEqual(errors, []);
  });

  test('its bin runs the bundled CLI', async () => {
    const out = await run(
      process.execPath,
      [join(app, 'node_modules', 'leaderhook', 'bin', 'leaderhook.js'), '--version'],
      {
        cwd: app,
      },
    );
    assert.match(out, /^leaderhook \d+\.\d+\.\d+/);
  });
});

describe('examples/library: three replicas of the singleton job', () => {
  const LEASE_DURATION_MS = 4000;
  const RENEW_DEADLINE_MS = 2000;
  const RETRY_PERIOD_MS = 500;
  let api: EmbeddedApi;
  const proxies = new Map<string, FaultProxy>();
  const jobs = new Map<string, Child>();
  let jobLog: string;

  before(async () => {
    api = await startEmbeddedApi();
    const kubeconfig = join(scratch, 'kubeconfig');
    await api.writeKubeconfig(kubeconfig);
    jobLog = join(scratch, 'job.log');
    writeFileSync(jobLog, '');
    for (const id of ['a', 'b', 'c']) {
      const proxy = await FaultProxy.start(api.url);
      proxies.set(id, proxy);
      const proxied = join(scratch, `kubeconfig-${id}`);
      proxiedKubeconfig(kubeconfig, proxy.url('http'), proxied);
      const env = {
        PATH: process.env.PATH ?? '',
        HOME: scratch,
        // The library's default credentials: $KUBECONFIG, as client-node's loadFromDefault reads it.
        KUBECONFIG: proxied,
        ID: id,
        ELECTION: 'singleton-job',
        NAMESPACE: 'default',
        LEASE_DURATION_MS: String(LEASE_DURATION_MS),
        RENEW_DEADLINE_MS: String(RENEW_DEADLINE_MS),
        RETRY_PERIOD_MS: String(RETRY_PERIOD_MS),
        JOB_LOG: jobLog,
        JOB_LOG_STEPS: '1',
      };
      jobs.set(id, new Child(process.execPath, ['job.mjs'], { cwd: app, env }));
    }
  });

  after(async () => {
    for (const job of jobs.values()) await job.stop();
    for (const proxy of proxies.values()) await proxy.close();
    await api?.close();
  });

  interface JobLine {
    event: 'started' | 'stopped' | 'step';
    id: string;
    reason?: string;
    steps?: number;
    step?: number;
  }
  /** Every line of the job log, steps included, in the order the replicas wrote them. */
  const allLines = (): JobLine[] =>
    readFileSync(jobLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as JobLine);
  /** The jobs' starts and stops. */
  const lines = (): JobLine[] => allLines().filter((line) => line.event !== 'step');
  const lineAfter = (index: number, match: (line: JobLine) => boolean, what: string) =>
    waitFor(what, () => lines().find((line, at) => at >= index && match(line)), 30_000);
  /** As lineAfter, with `index` into allLines(). */
  const anyLineAfter = (index: number, match: (line: JobLine) => boolean, what: string) =>
    waitFor(what, () => allLines().find((line, at) => at >= index && match(line)), 30_000);
  const output = () => [...jobs].map(([id, job]) => `--- ${id}\n${job.text()}`).join('\n');

  test('one job at a time; the signal aborts when the leader cannot renew; SIGTERM hands over by release', async (t) => {
    try {
      const first = await lineAfter(0, (line) => line.event === 'started', 'a replica to start the job');
      // Give the others time to (wrongly) start too.
      await new Promise((resolve) => setTimeout(resolve, 2 * RETRY_PERIOD_MS));
      assert.deepEqual(lines(), [{ event: 'started', id: first.id }], 'only the leader runs the job');

      // The leader's connections to the API go silent: it cannot renew. Its last renew was before this instant, so
      // its job must stop within the renew deadline from here (plus scheduling slack), before anyone else starts.
      let mark = lines().length;
      const partitionedAt = performance.now();
      proxies.get(first.id)!.partition();
      const stopped = await lineAfter(mark, (line) => line.event === 'stopped', `${first.id}'s job to stop`);
      const stopMs = performance.now() - partitionedAt;
      assert.equal(stopped.id, first.id);
      assert.equal(stopped.reason, 'renew-deadline');
      assert.ok(stopMs <= RENEW_DEADLINE_MS + 1500, `the job stopped ${Math.round(stopMs)} ms after the partition`);
      const second = await lineAfter(mark, (line) => line.event === 'started', 'another replica to take the job over');
      assert.notEqual(second.id, first.id);
      assert.deepEqual(lines().slice(mark), [stopped, second], 'the old job stopped before the new one started');

      // Healed, the former leader stays a follower: the job keeps running in one place.
      proxies.get(first.id)!.heal();
      await new Promise((resolve) => setTimeout(resolve, 4 * RETRY_PERIOD_MS));
      assert.deepEqual(lines().slice(mark), [stopped, second]);

      // SIGTERM: the job stops, then the lock is released and a follower starts at once, not a lease duration later.
      mark = lines().length;
      const leader = jobs.get(second.id)!;
      const terminatedAt = performance.now();
      leader.process.kill('SIGTERM');
      const third = await lineAfter(mark, (line) => line.event === 'started', 'a follower to take the job over');
      const handoverMs = performance.now() - terminatedAt;
      assert.ok(handoverMs < LEASE_DURATION_MS, `handed over in ${Math.round(handoverMs)} ms (by release)`);
      assert.notEqual(third.id, second.id);
      const [shutdown, next] = lines().slice(mark);
      assert.deepEqual([shutdown?.event, shutdown?.id, shutdown?.reason], ['stopped', second.id, 'shutdown']);
      assert.deepEqual(next, third, 'the old job stopped before the new one started');
      assert.equal(await leader.exited, 0, 'exits 0 once released');
      t.diagnostic(
        `handover on SIGTERM ${Math.round(handoverMs)} ms; job stopped ${Math.round(stopMs)} ms after a partition`,
      );

      // Over the whole run: every start follows the previous job's stop.
      let running: string | undefined;
      for (const line of lines()) {
        if (line.event === 'started') {
          assert.equal(running, undefined, `${line.id} started while ${running} ran`);
          running = line.id;
        } else {
          assert.equal(line.id, running);
          running = undefined;
        }
      }
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${output()}`, { cause: error });
    }
  });

  test('a leader paused past its lease takes no step once it runs again: it checks leadership before each', async (t) => {
    const leader = [...jobs].find(
      ([id, job]) => job.running && lines().findLast((line) => line.id === id)?.event === 'started',
    );
    assert.ok(leader, 'a replica runs the job');
    const [pausedId, paused] = leader;
    try {
      // SIGSTOP: no timer, no I/O. Another replica takes the lock a lease duration after the paused one's last renew.
      let mark = allLines().length;
      paused.process.kill('SIGSTOP');
      const next = await anyLineAfter(mark, (line) => line.event === 'started', 'another replica to take the job over');
      assert.notEqual(next.id, pausedId);
      const nextStartedAt = allLines().findIndex((line, at) => at >= mark && line.event === 'started');
      // The new leader runs for a while before the old one resumes, whose job's own 100 ms timer is long overdue.
      await new Promise((resolve) => setTimeout(resolve, 2 * RETRY_PERIOD_MS));
      mark = allLines().length;
      paused.process.kill('SIGCONT');
      const stopped = await anyLineAfter(
        mark,
        (line) => line.event === 'stopped' && line.id === pausedId,
        `${pausedId}'s job to stop once resumed`,
      );
      assert.ok(stopped.reason === 'renew-deadline' || stopped.reason === 'lost', `stopped: ${stopped.reason}`);
      const stepsAfterTakeover = allLines()
        .slice(nextStartedAt)
        .filter((line) => line.event === 'step' && line.id === pausedId);
      assert.deepEqual(stepsAfterTakeover, [], `${pausedId} took no step after ${next.id} started the job`);
      assert.ok(
        allLines().some((line, at) => at > nextStartedAt && line.event === 'step' && line.id === next.id),
        `${next.id} runs the job`,
      );
      t.diagnostic(`${pausedId} paused, ${next.id} took over; ${pausedId} stopped (${stopped.reason}) on resuming`);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${output()}`, { cause: error });
    } finally {
      paused.process.kill('SIGCONT');
    }
  });
});
