import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import { Fanout } from '../../src/election/changes.ts';
import type { LeadershipChange, LeadershipSnapshot } from '../../src/election/leadership.ts';
import { StateFile, stateFilePathProblem } from '../../src/state-file/state-file.ts';
import { captureLog } from '../notify/helpers.ts';
import { Replica, waitFor } from '../support/replica.ts';

/** An election the test drives by hand. */
class ScriptedLeadership {
  state: LeadershipSnapshot = {
    election: 'demo',
    namespace: 'team-a',
    lock: 'leases',
    identity: 'pod-b',
    leader: '',
    isLeader: false,
    transitions: 0,
    lockUid: 'uid-1',
    acquireTime: null,
    renewTime: null,
    observedAt: null,
    ready: false,
  };
  readonly changes = new Fanout<LeadershipChange>(() => {});
  snapshot = () => this.state;
  subscribe = (listener: (change: LeadershipChange) => void) => this.changes.subscribe(listener);

  change(patch: Partial<LeadershipSnapshot>, type: LeadershipChange['type']): void {
    const previousLeader = this.state.leader;
    this.state = { ...this.state, ...patch };
    const { leader, isLeader, transitions, lockUid } = this.state;
    this.changes.emit({ type, leader, previousLeader, isLeader, transitions, lockUid, at: new Date() });
  }
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

describe('--state-file paths', () => {
  it('only a regular file or nothing may be at the path, in a directory that exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leaderhook-state-path-'));
    const regular = join(dir, 'state.json');
    writeFileSync(regular, '{}');
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const link = join(dir, 'link');
    symlinkSync(regular, link);
    mkdirSync(join(dir, 'sub'));
    const longest = 255 - `.${process.pid}.tmp`.length;
    const replaced = 'exists and is not a regular file: it would be replaced, so name a regular file or a new one';
    const cases: Array<[string, string | undefined]> = [
      [regular, undefined],
      [join(dir, 'new.json'), undefined],
      ['/dev/null', `"/dev/null" ${replaced}`],
      [fifo, `${JSON.stringify(fifo)} ${replaced}`],
      [link, `${JSON.stringify(link)} ${replaced}`],
      [join(dir, 'sub'), `${JSON.stringify(join(dir, 'sub'))} is a directory`],
      [join(dir, 'missing', 'state.json'), `directory ${JSON.stringify(join(dir, 'missing'))} does not exist`],
      [join(regular, 'state.json'), `${JSON.stringify(regular)} is not a directory`],
      // A directory that exists but takes no new file (as root, permission bits would not stop it).
      ['/proc/1/state.json', 'cannot create files in directory "/proc/1" (ENOENT)'],
      // The longest name whose temporary file (`<name>.<pid>.tmp`) still fits in 255 bytes, and one byte more.
      [join(dir, 'b'.repeat(longest)), undefined],
      [
        join(dir, 'b'.repeat(longest + 1)),
        `the file name is too long: its temporary file "${'b'.repeat(longest + 1)}.${process.pid}.tmp" would need 256 bytes, more than the 255 a file name may have`,
      ],
    ];
    for (const [path, problem] of cases) assert.equal(stateFilePathProblem(path), problem, path);
    assert.deepEqual(readdirSync(dir).sort(), ['fifo', 'link', 'state.json', 'sub'], 'the check leaves no file behind');
  });
});

describe('--state-file', () => {
  it("holds GET /leader's body from the start and after every change, replaced whole", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leaderhook-state-'));
    const path = join(dir, 'leader.json');
    const leadership = new ScriptedLeadership();
    const log = captureLog();
    const file = new StateFile(path, log);
    file.follow(leadership);
    assert.equal(await file.flush(5_000), true);
    assert.deepEqual(readJson(path), {
      leader: '',
      self: 'pod-b',
      isLeader: false,
      election: 'demo',
      namespace: 'team-a',
      lock: 'leases',
      transitions: 0,
      acquireTime: null,
      renewTime: null,
      observedAt: null,
    });

    const renewTime = new Date('2026-11-24T10:00:04Z');
    const observed = { acquireTime: renewTime, renewTime, observedAt: renewTime, ready: true };
    leadership.change({ leader: 'pod-a', transitions: 3, ...observed }, 'leader-changed');
    leadership.change({ leader: 'pod-b', isLeader: true, transitions: 4 }, 'started');
    assert.equal(await file.flush(5_000), true);
    assert.deepEqual(readJson(path), {
      leader: 'pod-b',
      self: 'pod-b',
      isLeader: true,
      election: 'demo',
      namespace: 'team-a',
      lock: 'leases',
      transitions: 4,
      acquireTime: '2026-11-24T10:00:04.000Z',
      renewTime: '2026-11-24T10:00:04.000Z',
      observedAt: '2026-11-24T10:00:04.000Z',
    });
    assert.deepEqual(readdirSync(dir), ['leader.json'], 'no temporary file left behind');

    file.stop();
    leadership.change({ leader: '', isLeader: false }, 'stopped');
    await file.flush(5_000);
    assert.equal((readJson(path) as { leader: string }).leader, 'pod-b', 'nothing written once stopped');
    assert.deepEqual(log.lines, []);
  });

  it('a link or FIFO planted at the temporary file name is neither followed nor opened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leaderhook-state-'));
    const path = join(dir, 'leader.json');
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'untouched');
    for (const plant of [
      () => symlinkSync(victim, `${path}.${process.pid}.tmp`),
      () => execFileSync('mkfifo', [`${path}.${process.pid}.tmp`]),
    ]) {
      rmSync(path, { force: true });
      plant();
      const log = captureLog();
      const file = new StateFile(path, log);
      file.follow(new ScriptedLeadership());
      assert.equal(await file.flush(5_000), true, 'no write hangs');
      file.stop();
      assert.equal((readJson(path) as { self: string }).self, 'pod-b');
      assert.equal(readFileSync(victim, 'utf8'), 'untouched');
      assert.deepEqual(readdirSync(dir).sort(), ['leader.json', 'victim']);
      assert.deepEqual(log.lines, []);
    }
  });

  it('a write that fails is one warning naming the path; it is retried with back-off, without a change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leaderhook-state-'));
    const missing = join(dir, 'missing-dir');
    const path = join(missing, 'leader.json');
    const leadership = new ScriptedLeadership();
    const log = captureLog();
    const file = new StateFile(path, log, { baseMs: 50, capMs: 200 });
    file.follow(leadership);
    assert.equal(await file.flush(5_000), false, 'not on disk');
    assert.deepEqual(
      log.lines.map((line) => [line.level, line.msg, line.fields.path]),
      [['warn', 'cannot write the state file; retrying with back-off', path]],
    );
    leadership.change({ leader: 'pod-a' }, 'leader-changed');
    await file.flush(5_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(log.lines.filter((line) => line.level === 'warn').length, 1, 'one warning for the whole streak');
    assert.ok(log.lines.length >= 3, 'the change and the back-off each tried again');

    // The directory comes back and nothing changes: the back-off writes the current state.
    mkdirSync(missing);
    await waitFor('the retried write', () => existsSync(path), 5_000);
    assert.equal((readJson(path) as { leader: string }).leader, 'pod-a');
    assert.equal(await file.flush(5_000), true);
    assert.deepEqual(log.lines.at(-1)?.msg, 'state file written again');
    assert.deepEqual(readdirSync(missing), ['leader.json'], 'no temporary file left behind');
    const settled = log.lines.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(log.lines.length, settled, 'no retry once written');
    file.stop();
  });

  it('a rename that fails leaves no temporary file, and stop() ends the retries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leaderhook-state-'));
    const path = join(dir, 'leader.json');
    mkdirSync(path);
    const log = captureLog();
    const file = new StateFile(path, log, { baseMs: 20, capMs: 40 });
    file.follow(new ScriptedLeadership());
    assert.equal(await file.flush(5_000), false);
    assert.match(String(log.lines[0]?.fields.err), /EISDIR|ENOTEMPTY|EEXIST/);
    file.stop();
    await file.flush(5_000);
    const stopped = log.lines.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(log.lines.length, stopped, 'no retry after stop()');
    assert.deepEqual(readdirSync(dir), ['leader.json'], 'no temporary file left behind');
  });
});

describe('--state-file as the only output, in a leaderhook process', () => {
  const preload = fileURLToPath(new URL('../support/record-modules.ts', import.meta.url));
  /** Modules of the delivery stack: the HTTP client, the retry loop, the notifier, its queues and formats. */
  const DELIVERY_STACK = [
    /\/node_modules\/got\//,
    /\/node_modules\/p-retry\//,
    /\/node_modules\/cloudevents\//,
    /\/src\/notify\/notifier\.ts$/,
    /\/src\/notify\/target-queue\.ts$/,
    /\/src\/notify\/delivery\.ts$/,
    /\/src\/notify\/formats\//,
  ];
  let api: EmbeddedApi;
  let dir: string;
  let kubeconfig: string;
  before(async () => {
    api = await startEmbeddedApi();
    dir = mkdtempSync(join(tmpdir(), 'leaderhook-state-'));
    kubeconfig = join(dir, 'kubeconfig');
    await api.writeKubeconfig(kubeconfig);
  });
  after(() => api.close());

  /** Starts one replica with `args`, waits until its state file names it leader; returns the modules it loaded. */
  async function loadedWith(name: string, args: string[]): Promise<string[]> {
    const modulesLog = join(dir, `${name}.modules`);
    const stateFile = join(dir, `${name}.json`);
    const replica = await Replica.start({
      id: `${name}-1`,
      kubeconfig,
      election: name,
      args: [`--state-file=${stateFile}`, ...args],
      env: { NODE_OPTIONS: `--import=${preload}`, LEADERHOOK_TEST_MODULES_LOG: modulesLog },
    });
    try {
      await waitFor('the state file to name the leader', () => {
        try {
          return (readJson(stateFile) as { isLeader: boolean }).isLeader;
        } catch {
          return false;
        }
      });
      return readFileSync(modulesLog, 'utf8').split('\n');
    } finally {
      await replica.stop();
    }
  }

  it('loads nothing of the delivery stack; a hook target does', async () => {
    const alone = await loadedWith('state-alone', []);
    assert.ok(alone.some((url) => url.endsWith('/src/state-file/state-file.ts')));
    assert.deepEqual(
      alone.filter((url) => DELIVERY_STACK.some((pattern) => pattern.test(url))),
      [],
    );
    const withHook = await loadedWith('state-and-hook', ['--hook=http://127.0.0.1:9/hook']);
    for (const pattern of DELIVERY_STACK.filter((pattern) => !/cloudevents/.test(pattern.source))) {
      assert.ok(
        withHook.some((url) => pattern.test(url)),
        `a hook target loads ${pattern.source}`,
      );
    }
  });
});
