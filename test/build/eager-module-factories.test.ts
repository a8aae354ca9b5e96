// The bundle's module factories are compiled with their file, not on first call, so Node.js's compile cache holds them
// (scripts/build/eager-module-factories.ts). Checked with V8's own function events on a bundle of a CommonJS module.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as esbuild from 'esbuild';
import { BUNDLE_SETTINGS } from '../../scripts/build/bundle.ts';
import { markFactoriesEager, moduleFactories } from '../../scripts/build/eager-module-factories.ts';
import { run } from '../support/process.ts';

let scratch: string;

before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'leaderhook-eager-'));
  mkdirSync(join(scratch, 'node_modules', 'greeter'), { recursive: true });
  writeFileSync(
    join(scratch, 'node_modules', 'greeter', 'package.json'),
    JSON.stringify({ name: 'greeter', main: 'index.js' }),
  );
  writeFileSync(
    join(scratch, 'node_modules', 'greeter', 'index.js'),
    "const prefix = 'hello, ';\nmodule.exports = { greet(name) { return prefix + name; } };\n",
  );
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(join(scratch, 'entry.js'), "import greeter from 'greeter';\nconsole.log(greeter.greet('lease'));\n");
});
after(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

async function build(outdir: string): Promise<{ file: string; metafile: esbuild.Metafile }> {
  const { metafile } = await esbuild.build({
    absWorkingDir: scratch,
    entryPoints: ['entry.js'],
    outdir,
    ...BUNDLE_SETTINGS,
    metafile: true,
    logLevel: 'silent',
  });
  return { file: join(outdir, 'entry.js'), metafile };
}

/** Runs `file` and returns what it printed and the source ranges V8 compiled lazily, on first call. */
async function lazilyCompiled(file: string): Promise<{ out: string; ranges: string[] }> {
  const log = `${file}.v8.log`;
  const out = await run(
    process.execPath,
    ['--log-function-events', `--logfile=${log}`, '--no-logfile-per-isolate', file],
    { cwd: scratch },
  );
  const lines = readFileSync(log, 'utf8').split('\n');
  const scriptId = lines.find((line) => line.startsWith('script-details,') && line.includes(file))?.split(',')[1];
  assert.ok(scriptId, `V8 logged the bundle's script:\n${lines.slice(0, 20).join('\n')}`);
  const ranges = lines
    .filter((line) => line.startsWith(`function,parse-function,${scriptId},`))
    .map((line) => line.split(',').slice(3, 5).join('-'));
  return { out: out.trim(), ranges };
}

test("esbuild's factory of a CommonJS module is compiled lazily unless marked, and marked it runs the same", async () => {
  const plain = await build(join(scratch, 'plain'));
  const [factory] = moduleFactories(readFileSync(plain.file, 'utf8'));
  assert.ok(factory, 'the bundle has a module factory');
  const before = await lazilyCompiled(plain.file);
  assert.equal(before.out, 'hello, lease');
  assert.ok(before.ranges.includes(`${factory.start}-${factory.end}`), 'unmarked, V8 compiles it on its first call');

  const marked = await build(join(scratch, 'marked'));
  const result = markFactoriesEager(marked.metafile, scratch);
  assert.deepEqual(result, { marked: 1, problems: [] });
  const text = readFileSync(marked.file, 'utf8');
  const [eager] = moduleFactories(text);
  assert.ok(eager && text[eager.start - 1] === '(' && text[eager.end] === ')', 'parenthesized');
  const after = await lazilyCompiled(marked.file);
  assert.equal(after.out, 'hello, lease');
  assert.ok(
    !after.ranges.includes(`${eager.start}-${eager.end}`),
    `marked, V8 compiles it with its file; compiled lazily: ${after.ranges.join(' ')}`,
  );
});

test('the build fails when a file holds CommonJS modules but no factory of the expected shape', async () => {
  const { file, metafile } = await build(join(scratch, 'reshaped'));
  // esbuild's output of another shape: the factory passed as a second argument.
  const text = readFileSync(file, 'utf8');
  const [factory] = moduleFactories(text);
  assert.ok(factory);
  writeFileSync(file, `${text.slice(0, factory.start)}0,${text.slice(factory.start)}`);
  const { marked, problems } = markFactoriesEager(metafile, scratch);
  assert.equal(marked, 0);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /0 module factories for 1 CommonJS modules: esbuild's output no longer has the shape/);
});
