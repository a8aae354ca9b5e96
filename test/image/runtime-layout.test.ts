/**
 * The container image's runtime stage, rebuilt without Docker: the test follows the Dockerfile's runtime-stage COPY
 * lines (and the stages they copy from) to assemble the same file set in a temporary directory, then starts it.
 * A COPY, RUN or stage the test does not know how to reproduce fails the test, so the two cannot drift apart.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startEmbeddedApi, type EmbeddedApi } from '../../embedded-api/server.ts';
import {
  copies,
  execForm,
  parseDockerfile,
  stage,
  stageEnv,
  substitute,
  workdir,
  type Stage,
} from '../support/dockerfile.ts';
import { Child, get, run } from '../support/process.ts';
import { freePort, waitFor } from '../support/replica.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const runtime = dockerfile.stages.at(-1)!;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; dev?: boolean }>;
};

let scratch: string;
/** The runtime stage's root file system (only what the Dockerfile copies in; the base image is the Node.js in use). */
let rootfs: string;
let appDir: string;
let api: EmbeddedApi | undefined;
const children: Child[] = [];

/** Emulated stages: their root file systems under `scratch`, filled on first use. */
const stageRoots = new Map<string, string>();

async function stageRoot(name: string): Promise<string> {
  const known = stageRoots.get(name);
  if (known) return known;
  const source = stage(dockerfile, name);
  const root = join(scratch, 'stages', name);
  mkdirSync(root, { recursive: true });
  stageRoots.set(name, root);
  await replay(source, root);
  return root;
}

/** Copies a stage's context files and runs its RUN lines that build the project; anything else is unknown. */
async function replay(source: Stage, root: string): Promise<void> {
  let cwd = '/';
  for (const instruction of source.instructions) {
    switch (instruction.keyword) {
      case 'WORKDIR':
        cwd = instruction.args;
        mkdirSync(join(root, cwd), { recursive: true });
        break;
      case 'COPY':
        for (const copy of copies({ ...source, instructions: [instruction] })) await applyCopy(copy, root, cwd);
        break;
      case 'RUN': {
        const command = instruction.args;
        if (/^npm ci\b/.test(command) && !/\s--omit=dev\b/.test(command)) {
          // The build stage's full install: `npm run build` below uses the project's own install from the same
          // lockfile.
        } else if (command === 'npm run build') {
          // The type check and the bundle: the project's own build (its dev dependencies are those of the same
          // lockfile), into the stage.
          await run('npm', ['run', 'build', '--', '--outdir', join(root, cwd, 'dist')], { cwd: ROOT });
        } else {
          throw new Error(`stage ${source.name}: the test does not know how to reproduce RUN ${command}`);
        }
        break;
      }
      case 'ARG':
      case 'ENV':
      case 'LABEL':
        break;
      default:
        throw new Error(`stage ${source.name}: the test does not know ${instruction.keyword}`);
    }
  }
}

async function applyCopy(copy: ReturnType<typeof copies>[number], root: string, cwd: string): Promise<void> {
  for (const source of copy.sources) {
    const from = copy.from === undefined ? join(ROOT, source) : join(await stageRoot(copy.from), source);
    assert.ok(existsSync(from), `COPY source ${copy.from ?? 'context'}:${source} exists`);
    const destination = copy.destination.startsWith('/') ? copy.destination : join(cwd, copy.destination);
    const target =
      copy.destination.endsWith('/') && copy.sources.length > 0 && statSync(from).isFile()
        ? join(root, destination, source.split('/').at(-1)!)
        : join(root, destination);
    cpSync(from, target, { recursive: true });
  }
}

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'leaderhook-image-'));
  rootfs = join(scratch, 'runtime');
  let cwd = '/';
  for (const instruction of runtime.instructions) {
    if (instruction.keyword === 'WORKDIR') cwd = instruction.args;
    if (instruction.keyword === 'COPY')
      for (const copy of copies({ ...runtime, instructions: [instruction] })) await applyCopy(copy, rootfs, cwd);
    if (instruction.keyword === 'RUN') await replayRuntimeRun(instruction.args);
  }
  appDir = join(rootfs, workdir(runtime));
});

/**
 * The runtime stage's RUN lines the test knows: removals from the base image (nothing to do here), making a folder
 * (its owner is the image's user), and the ENTRYPOINT run with `--version` (filling the compile cache).
 */
async function replayRuntimeRun(command: string): Promise<void> {
  if (/^rm -rf /.test(command)) return;
  const folder = /^mkdir (\/\S+) && chown \d+:\d+ \1$/.exec(command)?.[1];
  if (folder) {
    mkdirSync(join(rootfs, folder), { recursive: true });
    return;
  }
  if (command === `${execForm(runtime, 'ENTRYPOINT')!.join(' ')} --version`) {
    await run(process.execPath, [...entrypoint(), '--version'], {
      cwd: '/',
      env: { ...runtimeEnv(), PATH: '/usr/bin:/bin' },
    });
    return;
  }
  throw new Error(`the runtime stage runs ${command}: the test does not know how to reproduce it`);
}

after(async () => {
  for (const child of children) await child.stop();
  await api?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** The runtime stage's ENV, with paths under the image's /app pointing into the emulated app directory. */
function runtimeEnv(): NodeJS.ProcessEnv {
  const app = workdir(runtime);
  return Object.fromEntries(
    Object.entries(stageEnv(runtime)).map(([name, value]) => [
      name,
      value === app || value.startsWith(`${app}/`) ? join(rootfs, value) : value,
    ]),
  );
}

/** The environment of a replica started as the image starts it, with its kubeconfig and Pod name. */
function replicaEnv(kubeconfig: string, podName: string): NodeJS.ProcessEnv {
  return {
    ...runtimeEnv(),
    PATH: '/usr/bin:/bin',
    HOME: scratch,
    KUBECONFIG: kubeconfig,
    POD_NAME: podName,
    POD_NAMESPACE: 'default',
  };
}

/** The ENTRYPOINT with `node` as this Node.js and /app as the emulated app directory. */
function entrypoint(): string[] {
  const [command, ...args] = execForm(runtime, 'ENTRYPOINT')!;
  assert.equal(command, 'node');
  return args.map((arg) => (arg.startsWith(`${workdir(runtime)}/`) ? join(rootfs, arg) : arg));
}

test('the runtime stage holds the bundle, its licence notices, package.json, bin/ and the compile cache: no node_modules, no sources', () => {
  assert.deepEqual(readdirSync(appDir).sort(), ['bin', 'compile-cache', 'dist', 'package.json']);
  assert.ok(existsSync(join(appDir, 'dist', 'cli.js')), 'dist/cli.js');
  assert.ok(existsSync(join(appDir, 'dist', 'THIRD-PARTY-NOTICES.txt')), "the bundled packages' licences");
  const files = readdirSync(join(appDir, 'dist'), { recursive: true, encoding: 'utf8' });
  assert.deepEqual(
    files.filter((file) => file.endsWith('.ts')),
    [],
    'no TypeScript in dist/',
  );
  assert.deepEqual(
    files.filter((file) => file.includes('node_modules')),
    [],
    'no node_modules in dist/',
  );
  // Nothing above the app folder either: the checks below run it with no package to resolve anywhere.
  assert.ok(!existsSync(join(rootfs, 'node_modules')), 'no node_modules at the root');
});

test('the allocator setting is read by the C library of the base image', () => {
  const base = substitute(substitute(dockerfile.globalArgs.NODE_IMAGE!, dockerfile.globalArgs), dockerfile.globalArgs);
  const env = runtimeEnv();
  // GLIBC_TUNABLES is ignored by musl (Alpine): there it would be a setting that does nothing.
  if (env.GLIBC_TUNABLES !== undefined) assert.doesNotMatch(base, /alpine/, `GLIBC_TUNABLES on a musl base (${base})`);
  assert.match(env.GLIBC_TUNABLES ?? '', /^glibc\.malloc\.mmap_threshold=\d+$/);
});

test('the image runs the Node.js version the project tests with, as a numeric non-root user', () => {
  const lockedNode = lock.packages['node_modules/node']?.version;
  assert.equal(
    dockerfile.globalArgs.NODE_VERSION,
    lockedNode,
    'Dockerfile NODE_VERSION = the `node` devDependency in package-lock.json',
  );
  assert.equal(process.versions.node, lockedNode, 'these tests run on that version too');
  const base = substitute(substitute(dockerfile.globalArgs.NODE_IMAGE!, dockerfile.globalArgs), dockerfile.globalArgs);
  assert.match(
    base,
    /^node:24\.\d+\.\d+-(alpine|slim|bookworm-slim|trixie-slim)/,
    'a pinned Node.js 24 (LTS) base image',
  );
  for (const built of dockerfile.stages)
    assert.equal(built.from, '${NODE_IMAGE}', `stage ${built.name} starts from the same base`);

  const user = runtime.instructions.filter((instruction) => instruction.keyword === 'USER').at(-1)?.args;
  assert.match(user ?? '', /^[1-9]\d*(:\d+)?$/, 'USER is a numeric, non-zero uid');
  const entrypoint = execForm(runtime, 'ENTRYPOINT') ?? [];
  assert.equal(entrypoint[0], 'node');
  assert.equal(entrypoint.at(-1), '/app/bin/leaderhook.js');
  for (const option of entrypoint.slice(1, -1))
    assert.match(option, /^--[a-z-]+(=\S+)?$/, 'Node.js options between node and the script');
  assert.equal(
    execForm(runtime, 'CMD'),
    undefined,
    'no CMD: the pod args are the whole command line, as with leader-elector',
  );
  const labels = runtime.instructions
    .filter((instruction) => instruction.keyword === 'LABEL')
    .map((instruction) => instruction.args)
    .join(' ');
  for (const key of ['title', 'description', 'licenses', 'version', 'revision', 'created', 'base.name']) {
    assert.ok(labels.includes(`org.opencontainers.image.${key}=`), `OCI label ${key}`);
  }
});

test("start-up reads V8's code for the bundle from the image's compile cache instead of compiling it", async () => {
  const child = new Child(process.execPath, [...entrypoint(), '--version'], {
    cwd: '/',
    env: { ...runtimeEnv(), PATH: '/usr/bin:/bin', NODE_DEBUG_NATIVE: 'COMPILE_CACHE' },
  });
  children.push(child);
  assert.equal(await child.exited, 0);
  const cli = `file://${join(appDir, 'dist', 'cli.js')}`;
  assert.ok(
    child.text().includes(`V8 code cache for ESM ${cli} was accepted`),
    `the cached code of dist/cli.js was used:\n${child.text()}`,
  );
});

test("Node.js's built-in modules load from its own code cache, from start to exit: the image's V8 flags leave it usable", async () => {
  api ??= await startEmbeddedApi();
  const kubeconfig = join(scratch, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
  // A hook and a state file load the notifier and file writing too.
  const hook = createServer((request, response) => request.resume().on('end', () => response.end()));
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const port = await freePort();
  const args = [`--http=127.0.0.1:${port}`, `--state-file=${join(scratch, 'builtins.json')}`];
  args.push(`--hook=http://127.0.0.1:${(hook.address() as AddressInfo).port}/`);
  const child = new Child(process.execPath, [...entrypoint(), '--election=builtins', ...args], {
    cwd: '/',
    env: { ...replicaEnv(kubeconfig, 'builtins-0'), NODE_DEBUG_NATIVE: 'CODE_CACHE' },
  });
  children.push(child);
  try {
    const leading = await waitFor(
      'leading',
      async () => (await get(`http://127.0.0.1:${port}/`))?.body.includes('builtins-0') || (!child.running && 'exited'),
    );
    assert.equal(leading, true, child.text());
    await child.stop();
    assert.equal(await child.exited, 0);
  } finally {
    hook.close();
  }
  // A V8 flag changes that cache's key: a built-in first loaded after the sidecar sets one is compiled from source.
  const accepted = child.text().match(/Code cache of \S+ \(\w+\) is accepted/g) ?? [];
  const rejected = child.text().match(/Code cache of \S+ \(\w+\) is rejected/g) ?? [];
  assert.ok(accepted.length > 50, `built-ins read from the code cache: ${accepted.length}`);
  assert.deepEqual(rejected, [], 'no built-in compiled from source');
});

test("with the image's Node.js options V8 compiles on the main thread only: Maglev, TurboFan and on-stack replacement", async () => {
  // A background compile job can deadlock process.exit (nodejs/node#54918; see the Dockerfile).
  const hotLoop = 'function add(a, b) { return a + b } let s = 0; for (let i = 0; i < 3e7; i++) s = add(s, i % 7);';
  const out = await run(process.execPath, [...entrypoint().slice(0, -1), '--trace-opt', '--trace-osr', '-e', hotLoop], {
    cwd: '/',
    env: { ...runtimeEnv(), PATH: '/usr/bin:/bin' },
  });
  const compiles = out.split('\n').filter((line) => /^\[(compiling method|OSR - compilation started)/.test(line));
  for (const target of ['MAGLEV', 'TURBOFAN_JS', 'OSR'])
    assert.ok(
      compiles.some((line) => line.includes(target)),
      `the loop made V8 compile with ${target}:\n${out}`,
    );
  assert.deepEqual(
    compiles.filter((line) => !line.includes('ConcurrencyMode::kSynchronous')),
    [],
    'every compile job on the main thread',
  );
  assert.ok(entrypoint().includes('--no-concurrent-sparkplug'), 'the baseline compiler (Sparkplug) too');
});

test('--version answers from the runtime file set', async () => {
  const out = await run(process.execPath, [...entrypoint(), '--version'], {
    cwd: '/',
    env: { ...runtimeEnv(), PATH: '/usr/bin:/bin' },
  });
  assert.equal(out.trim(), `leaderhook ${pkg.version}`);
});

test('with leader-elector style args it elects itself against the embedded Lease API and serves /healthz and GET /', async () => {
  api ??= await startEmbeddedApi();
  const kubeconfig = join(scratch, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
  const port = await freePort();
  const child = new Child(process.execPath, [...entrypoint(), '--election=example', `--http=127.0.0.1:${port}`], {
    cwd: '/',
    env: replicaEnv(kubeconfig, 'example-pod-0'),
  });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  try {
    const healthz = await waitFor(
      '/healthz',
      async () => (await get(`${base}/healthz`))?.status === 200 || (!child.running && 'exited'),
    );
    assert.equal(healthz, true);
    const leader = await waitFor('a leader on GET /', async () => {
      const answer = await get(`${base}/`);
      const name = answer ? (JSON.parse(answer.body) as { name: string }).name : '';
      return name || undefined;
    });
    assert.equal(leader, 'example-pod-0');
    assert.equal((await get(`${base}/readyz`))?.status, 200);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- leaderhook output ---\n${child.text()}`, { cause: error });
  }
  await child.stop();
  assert.equal(await child.exited, 0, 'SIGTERM: released and exited 0');
});
