/**
 * The product's build: one esbuild bundle per entry point (tree-shaken, ESM, ASCII-only). The sidecar's is minified,
 * with code loaded only by a dynamic `import()` in chunks of its own and `@kubernetes/client-node` slimmed at build
 * time (./client-node-slimming.ts), its module factories marked for eager compilation (./eager-module-factories.ts):
 * it needs Node.js and nothing else, no node_modules at run time. The library's
 * holds leaderhook's own code only and imports its dependencies from the app's node_modules.
 */
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { builtinsViaRequire } from './builtins-via-require.ts';
import { checkSlimBundle, planSlimming, slimClientNode, type ClientNodeCalls } from './client-node-slimming.ts';
import { markFactoriesEager } from './eager-module-factories.ts';
import { thirdPartyNotices } from './notices.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Entry points, by output name (`dist/<name>.js`):
 * - `bundled`: the sidecar, as the image runs it: every dependency inside (client-node slimmed), no node_modules;
 * - `external`: the library (`import … from 'leaderhook'`): only leaderhook's own code; its dependencies, above all
 *   `@kubernetes/client-node`, stay imports, so the app's installed copies serve it (one client, one prom-client).
 */
export const ENTRY_POINTS: Record<string, { source: string; dependencies: 'bundled' | 'external' }> = {
  cli: { source: 'src/cli.ts', dependencies: 'bundled' },
  index: { source: 'src/index.ts', dependencies: 'external' },
};

/** Every generated client-node method leaderhook calls; the build checks the source calls no other. */
export const CLIENT_NODE_CALLS: ClientNodeCalls = {
  CoordinationV1Api: ['readNamespacedLease', 'createNamespacedLease', 'replaceNamespacedLease'],
  CoreV1Api: [
    // configmaps and endpoints locks
    'readNamespacedConfigMap',
    'createNamespacedConfigMap',
    'replaceNamespacedConfigMap',
    'readNamespacedEndpoints',
    'createNamespacedEndpoints',
    'replaceNamespacedEndpoints',
    // Kubernetes Events
    'createNamespacedEvent',
    'patchNamespacedEvent',
    // the leader label
    'readNamespacedPod',
    'patchNamespacedPod',
  ],
};

/** Only a Pod's metadata (labels, resourceVersion) is read: its spec and status pass through as the JSON sent. */
export const CLIENT_NODE_PASS_THROUGH = ['V1PodSpec', 'V1PodStatus'];

/** CommonJS dependencies call `require` for Node.js built-ins; an ESM bundle has none of its own. */
const REQUIRE_SHIM =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/** How every bundle of the project is made (the product's, and the bench's import probes). */
export const BUNDLE_SETTINGS = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  minify: true,
  treeShaking: true,
  // One-byte source strings: a single non-ASCII character would make V8 keep the whole file as two-byte text.
  charset: 'ascii',
  legalComments: 'none',
  banner: { js: REQUIRE_SHIM },
} as const satisfies esbuild.BuildOptions;

export interface BundleOptions {
  /** Output folder (emptied first). */
  outdir: string;
  /** The client-node package to slim (default: the installed one). Tests point this at an altered copy. */
  clientNodeRoot?: string;
}

export interface BundleResult {
  /** The sidecar's build (every `bundled` entry and its chunks). */
  metafile: esbuild.Metafile;
  /** The library's build (every `external` entry). */
  libraryMetafile: esbuild.Metafile;
  /** Models kept in the client's typeMap, of how many. */
  models: { kept: number; of: number };
  /** Output files (absolute paths) with their sizes in bytes. */
  files: Array<{ path: string; bytes: number }>;
}

/** Builds the bundle into `outdir`; throws with every problem found (build errors, layout mismatches, non-ASCII). */
export async function bundle(options: BundleOptions): Promise<BundleResult> {
  const packageRoot =
    options.clientNodeRoot ??
    dirname(createRequire(join(ROOT, 'package.json')).resolve('@kubernetes/client-node/package.json'));
  const slimming = { packageRoot, calls: CLIENT_NODE_CALLS, passThrough: CLIENT_NODE_PASS_THROUGH };
  const plan = planSlimming(slimming);
  rmSync(options.outdir, { recursive: true, force: true });
  const entries = (dependencies: 'bundled' | 'external') =>
    Object.entries(ENTRY_POINTS)
      .filter(([, entry]) => entry.dependencies === dependencies)
      .map(([out, entry]) => ({ in: entry.source, out }));
  const failed = (error: unknown): never => {
    const failures = (error as { errors?: esbuild.Message[] }).errors;
    if (!failures) throw error;
    throw new Error(`build failed:\n${failures.map(formatMessage).join('\n')}`);
  };
  const sidecar = await esbuild
    .build({
      absWorkingDir: ROOT,
      entryPoints: entries('bundled'),
      outdir: options.outdir,
      ...BUNDLE_SETTINGS,
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      ...(options.clientNodeRoot ? { alias: { '@kubernetes/client-node': options.clientNodeRoot } } : {}),
      plugins: [slimClientNode(slimming, plan), builtinsViaRequire()],
      metafile: true,
      logLevel: 'silent',
    })
    .catch(failed);
  // Names kept, so an app's stack traces through the library name leaderhook's functions.
  const library = await esbuild
    .build({
      absWorkingDir: ROOT,
      entryPoints: entries('external'),
      outdir: options.outdir,
      ...BUNDLE_SETTINGS,
      minify: false,
      minifyWhitespace: true,
      minifySyntax: true,
      banner: {},
      packages: 'external',
      metafile: true,
      logLevel: 'silent',
    })
    .catch(failed);
  const eager = markFactoriesEager(sidecar.metafile, ROOT);
  const problems = [...checkSlimBundle(sidecar.metafile, ROOT, slimming, plan), ...eager.problems];
  const files = Object.keys({ ...sidecar.metafile.outputs, ...library.metafile.outputs }).map((path) => ({
    path: join(ROOT, path),
    bytes: statSync(join(ROOT, path)).size,
  }));
  for (const { path } of files) {
    const text = readFileSync(path);
    const at = text.findIndex((byte) => byte > 0x7f);
    if (at >= 0)
      problems.push(`${relative(ROOT, path)} is not ASCII-only (byte ${at}): V8 would hold it as two-byte text`);
  }
  if (problems.length) throw new Error(`build failed:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
  writeFileSync(join(options.outdir, 'THIRD-PARTY-NOTICES.txt'), thirdPartyNotices(sidecar.metafile, ROOT));
  return {
    metafile: sidecar.metafile,
    libraryMetafile: library.metafile,
    models: { kept: plan.keep.size, of: plan.all.length },
    files,
  };
}

function formatMessage(message: esbuild.Message): string {
  const where = message.location ? `${message.location.file}:${message.location.line}: ` : '';
  return `  ${where}${message.text}`;
}

/** A one-screen summary: output files (relative to `outdir`) and sizes, models kept. */
export function describeBundle(result: BundleResult, outdir: string): string {
  const lines = result.files.map(
    ({ path, bytes }) => `  ${relative(outdir, path).padEnd(36)} ${(bytes / 1024).toFixed(0).padStart(6)} KiB`,
  );
  return [...lines, `  client-node models kept: ${result.models.kept} of ${result.models.of}`].join('\n');
}
