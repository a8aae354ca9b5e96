// `npm run build`: type-checks the product (tsconfig.build.json) and bundles it into dist/ (scripts/build/bundle.ts):
// the sidecar as the image runs it, and the library. `--declarations` also writes the library's declarations into
// dist/types (tsconfig.types.json), as `npm pack` does; the image needs none. `--outdir DIR` builds elsewhere;
// `--no-typecheck` skips the type check.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bundle, describeBundle, ROOT } from './build/bundle.ts';

const { values } = parseArgs({
  options: {
    outdir: { type: 'string', default: join(ROOT, 'dist') },
    'no-typecheck': { type: 'boolean', default: false },
    declarations: { type: 'boolean', default: false },
  },
});
try {
  if (!values['no-typecheck']) {
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')],
      { stdio: 'inherit' },
    );
  }
  const outdir = resolve(values.outdir);
  const result = await bundle({ outdir });
  if (values.declarations) {
    execFileSync(
      process.execPath,
      [
        join(ROOT, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(ROOT, 'tsconfig.types.json'),
        '--outDir',
        join(outdir, 'types'),
      ],
      { stdio: 'inherit' },
    );
  }
  console.log(`built ${outdir}:\n${describeBundle(result, outdir)}`);
} catch (error) {
  // tsc has printed its own errors; a bundling failure is ours to print, one problem a line.
  if (!(error as { status?: number }).status) console.error((error as Error).message);
  process.exitCode = 1;
}
