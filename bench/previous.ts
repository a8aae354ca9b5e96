// The previous build: `tsc` output run by plain `node` beside node_modules, as the image ran it before the bundle.
// Its figures as the README reported them, and the build itself, for `npm run bench -- --with-previous`, which
// measures it in the same run (same machine, same load) beside the bundle.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../scripts/build/bundle.ts';

/** As reported before the bundle (README "Measured", and issue 13's measurements on this machine). */
export const PREVIOUS = {
  idleRss: 'leader 146 MiB, follower 165 MiB (median)',
  idleAnon: '97–117 MiB',
  peakWithTargets: '207 MiB (156–161 MiB idle with targets)',
  startup: 'p50 642 ms, p99 709 ms',
  httpThroughput: '44,535 req/s',
  idleCpu: 'not measured',
  handoverEmbedded: 'p50 27 ms, p99 43 ms (n=20)',
  handoverReal: 'median 94 ms, max 145 ms (n=12, from outside)',
  crashFailover: 'p50 1.60 s, p99 2.04 s (n=8)',
  push: 'p50 6.5 ms, p99 14 ms (n=100)',
  fanOut: 'p50 51 ms, p99 77 ms (n=450)',
} as const;

let built: { args: string[]; env: Record<string, string> } | undefined;

/**
 * Compiles src/ with tsc into .tmp/previous-build (inside the project, so node_modules resolve), once per run;
 * returns how to run it.
 */
export function buildPrevious(): { args: string[]; env: Record<string, string> } {
  if (built) return built;
  const directory = join(ROOT, '.tmp', 'previous-build');
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(ROOT, 'tsconfig.build.json'),
      '--noEmit',
      'false',
      '--outDir',
      join(directory, 'dist'),
      '--rootDir',
      join(ROOT, 'src'),
    ],
    { stdio: 'inherit' },
  );
  cpSync(join(ROOT, 'package.json'), join(directory, 'package.json'));
  built = { args: [join(directory, 'dist', 'cli.js')], env: { NODE_ENV: 'production' } };
  return built;
}
