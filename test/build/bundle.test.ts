// The build (scripts/build/bundle.ts): what it produces, and that it refuses a @kubernetes/client-node whose generated
// layout no longer matches what its slimming expects (a client upgrade must never silently ship a broken or fat build).
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bundle, CLIENT_NODE_CALLS, ROOT, type BundleResult } from '../../scripts/build/bundle.ts';
import { checkSlimBundle, planSlimming } from '../../scripts/build/client-node-slimming.ts';
import { run } from '../support/process.ts';

const CLIENT = join(ROOT, 'node_modules', '@kubernetes', 'client-node');
let scratch: string;

before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'leaderhook-build-'));
});
after(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('the bundle', () => {
  let result: BundleResult;
  let app: string;
  before(async () => {
    app = join(scratch, 'app');
    result = await bundle({ outdir: join(app, 'dist') });
    cpSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  });

  test('runs with no node_modules anywhere above it', async () => {
    const out = await run(process.execPath, [join(app, 'dist', 'cli.js'), '--version'], { cwd: scratch });
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(out.trim(), `leaderhook ${version}`);
  });

  test('is ASCII-only, so V8 holds its source as one-byte text', () => {
    for (const file of readdirSync(join(app, 'dist'), { recursive: true, encoding: 'utf8' }).filter((name) =>
      name.endsWith('.js'),
    )) {
      const bytes = readFileSync(join(app, 'dist', file));
      assert.equal(
        bytes.findIndex((byte) => byte > 0x7f),
        -1,
        `${file} has a non-ASCII byte`,
      );
    }
  });

  test('loads Node.js built-ins with require: no ES module facade reads their getters (root certificates, WebCrypto)', () => {
    // The sidecar's files; the library's index.js imports its dependencies and built-ins from the app by design.
    const files = readdirSync(join(app, 'dist'), { recursive: true, encoding: 'utf8' }).filter(
      (name) => name.endsWith('.js') && name !== 'index.js',
    );
    for (const file of files) {
      const imported = [
        ...readFileSync(join(app, 'dist', file), 'utf8').matchAll(/\bfrom\s*"((?:node:)?[a-z_/]+)"/g),
      ].map(([, specifier]) => specifier);
      assert.deepEqual(
        [...new Set(imported)].filter((specifier) => specifier !== 'node:module'),
        [],
        file,
      );
    }
  });

  test("loads one undici: client-node's serves the fetch globals, Node.js's own copy never loads", async () => {
    // Read at exit, after every static import (Hono's adapter among them) has run.
    const report =
      "process.on('exit', () => console.log(JSON.stringify(process.moduleLoadList.filter((name) => name.includes('undici')))));";
    const out = await run(
      process.execPath,
      [`--import=data:text/javascript,${encodeURIComponent(report)}`, join(app, 'dist', 'cli.js'), '--version'],
      { cwd: scratch },
    );
    assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)!), []);
  });

  test('keeps the delivery stack out of the entry chunk: got and p-retry load with the notifier', () => {
    const entry = Object.entries(result.metafile.outputs).find(([, output]) => output.entryPoint === 'src/cli.ts');
    assert.ok(entry, 'an output for src/cli.ts');
    const inEntry = Object.keys(entry[1].inputs);
    for (const name of ['got', 'p-retry', 'standardwebhooks', 'cloudevents']) {
      assert.ok(!inEntry.some((input) => input.includes(`node_modules/${name}/`)), `${name} is not in the entry chunk`);
    }
    const lazy = Object.values(result.metafile.outputs).filter((output) => output.entryPoint !== 'src/cli.ts');
    assert.ok(
      lazy.some((output) => Object.keys(output.inputs).some((input) => input.includes('node_modules/got/'))),
      'got is in a lazy chunk',
    );
  });

  test("holds zod as zod/mini with its English messages: not zod's chained API, not its other locales", () => {
    const zodFiles = Object.values(result.metafile.outputs).flatMap((output) =>
      Object.entries(output.inputs).flatMap(([input, { bytesInOutput }]) =>
        bytesInOutput > 0 && input.includes('node_modules/zod/') ? [input.replace(/^.*node_modules\/zod\//, '')] : [],
      ),
    );
    assert.ok(
      zodFiles.some((file) => file.startsWith('v4/mini/')),
      `zod/mini is bundled: ${zodFiles.join(', ')}`,
    );
    assert.deepEqual(
      zodFiles.filter(
        (file) => file.startsWith('v4/classic/') || (file.startsWith('v4/locales/') && file !== 'v4/locales/en.js'),
      ),
      [],
    );
  });
  test("the library entry holds leaderhook's own code: client-node and every other dependency stay imports", () => {
    const [path, output] =
      Object.entries(result.libraryMetafile.outputs).find(([, out]) => out.entryPoint === 'src/index.ts') ?? [];
    assert.ok(path && output, 'an output for src/index.ts');
    assert.deepEqual(
      Object.keys(output.inputs).filter((input) => !input.startsWith('src/')),
      [],
      'no dependency bundled',
    );
    const imported = new Set(output.imports.filter((entry) => entry.external).map((entry) => entry.path));
    for (const name of ['@kubernetes/client-node', 'prom-client']) assert.ok(imported.has(name), `imports ${name}`);
    const sidecarOnly = [...imported].filter((name) => /^(hono|@hono\/|got$|p-retry$|cloudevents$)/.test(name));
    assert.deepEqual(sidecarOnly, [], 'nothing of the sidecar: no HTTP server, no delivery stack');
  });

  test("cuts client-node's typeMap to the models leaderhook (de)serializes, of ~750", () => {
    assert.ok(result.models.of > 700, `the client has ${result.models.of} models`);
    assert.ok(result.models.kept >= 10 && result.models.kept <= 30, `kept ${result.models.kept}`);
    const bundled = Object.values(result.metafile.outputs).flatMap((output) =>
      Object.entries(output.inputs).flatMap(([input, { bytesInOutput }]) => (bytesInOutput > 0 ? [input] : [])),
    );
    const models = bundled.filter((input) => /client-node\/dist\/gen\/models\/V1\w+\.js$/.test(input));
    for (const model of ['V1Lease', 'V1LeaseSpec', 'V1ConfigMap', 'V1Endpoints', 'V1ObjectMeta', 'V1Pod']) {
      assert.ok(
        models.some((input) => input.endsWith(`/${model}.js`)),
        `${model} is bundled`,
      );
    }
    assert.ok(!models.some((input) => input.endsWith('/V1PodSpec.js')), 'a Pod spec passes through as JSON');
  });

  test('ships the licences of the packages it bundles', () => {
    const notices = readFileSync(join(app, 'dist', 'THIRD-PARTY-NOTICES.txt'), 'utf8');
    for (const name of ['@kubernetes/client-node', 'hono', 'pino', 'undici', 'got'])
      assert.match(notices, new RegExp(`^${name}@\\d`, 'm'));
    assert.match(notices, /Apache License/);
  });
});

describe('a client-node whose generated layout changed fails the build, naming what changed', () => {
  /** A copy of the installed client (its JavaScript) beside links to every other installed package. */
  let copy: string;
  let pristine: Map<string, string>;
  before(() => {
    const modules = join(scratch, 'altered', 'node_modules');
    mkdirSync(join(modules, '@kubernetes'), { recursive: true });
    for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
      if (entry !== '@kubernetes' && entry !== '.bin')
        symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry));
    }
    copy = join(modules, '@kubernetes', 'client-node');
    cpSync(CLIENT, copy, { recursive: true, filter: (source) => !/\.(map|d\.ts)$/.test(source) });
    pristine = new Map();
  });

  /** Rewrites one file of the copy for one test; restored afterwards. */
  function alter(path: string, change: (text: string) => string): void {
    const file = join(copy, path);
    const text = pristine.get(file) ?? readFileSync(file, 'utf8');
    pristine.set(file, text);
    const changed = change(text);
    assert.notEqual(changed, text, `the alteration of ${path} applies`);
    writeFileSync(file, changed);
  }
  function restore(): void {
    for (const [file, text] of pristine) writeFileSync(file, text);
  }
  const build = () => bundle({ outdir: join(scratch, 'out'), clientNodeRoot: copy });

  test('the unaltered copy builds (the fixture itself is sound)', async () => {
    const result = await build();
    assert.ok(result.models.kept > 0);
  });

  test('the typeMap declared otherwise', async () => {
    alter('dist/gen/models/ObjectSerializer.js', (text) => text.replace('let typeMap = {', 'const typeMap = {'));
    try {
      await assert.rejects(build(), /ObjectSerializer\.js: expected one line "let typeMap = \{", found 0/);
    } finally {
      restore();
    }
  });

  test('typeMap entries in another form', async () => {
    alter('dist/gen/models/ObjectSerializer.js', (text) => text.replace('    "V1Lease": V1Lease,', '    V1Lease,'));
    try {
      await assert.rejects(
        build(),
        /ObjectSerializer\.js:\d+: expected a typeMap entry "Name": Name, found " {4}V1Lease,"/,
      );
    } finally {
      restore();
    }
  });

  test('the serializer no longer looking models up in the typeMap', async () => {
    alter('dist/gen/models/ObjectSerializer.js', (text) => text.replaceAll('typeMap[type]', 'models.get(type)'));
    try {
      await assert.rejects(build(), /the serializer no longer looks models up with typeMap\[type\]/);
    } finally {
      restore();
    }
  });

  test('a model whose attribute map is no longer JSON', async () => {
    alter('dist/gen/models/V1LeaseSpec.js', (text) =>
      text.replace('"name": "holderIdentity"', 'name: "holderIdentity"'),
    );
    try {
      await assert.rejects(build(), /V1LeaseSpec\.js: V1LeaseSpec\.attributeTypeMap is not JSON/);
    } finally {
      restore();
    }
  });

  test('a method leaderhook calls that is gone or returns no model', async () => {
    alter('dist/gen/apis/CoordinationV1Api.js', (text) => text.replaceAll('"V1Lease", ""', '"any", ""'));
    try {
      await assert.rejects(build(), /CoordinationV1Api\.readNamespacedLease \(de\)serializes no model of the typeMap/);
    } finally {
      restore();
    }
    alter('dist/gen/apis/CoreV1Api.js', (text) =>
      text.replaceAll('async patchNamespacedPod(', 'async patchNamespacedPodV2('),
    );
    try {
      await assert.rejects(build(), /CoreV1Api\.js: no method CoreV1ApiRequestFactory\.patchNamespacedPod/);
    } finally {
      restore();
    }
  });

  test('generated code that keeps every model alive: the build is refused as fat', async () => {
    alter(
      'dist/gen/index.js',
      (text) => `${text}\nimport * as everyModel from './models/all.js';\nglobalThis.everyModel = everyModel;\n`,
    );
    try {
      await assert.rejects(build(), /\d{3} models beyond the planned \d+ are in the bundle/);
    } finally {
      restore();
    }
  });
});

test('source calling a client-node method the slimming does not know fails the check, naming file and method', () => {
  const root = join(scratch, 'calls');
  mkdirSync(join(root, 'src'), { recursive: true });
  writeFileSync(
    join(root, 'src', 'pods.ts'),
    'await api.listNamespacedPod({ namespace });\nconst apps = kubeConfig.makeApiClient(AppsV1Api);\n',
  );
  const options = { packageRoot: CLIENT, calls: CLIENT_NODE_CALLS, passThrough: [] };
  const metafile = { inputs: { 'src/pods.ts': { bytes: 0, imports: [] } }, outputs: {} };
  const problems = checkSlimBundle(metafile, root, options, planSlimming(options));
  assert.ok(problems.includes('src/pods.ts calls listNamespacedPod'), problems.join('\n'));
  assert.ok(problems.includes('src/pods.ts uses AppsV1Api'), problems.join('\n'));
});
