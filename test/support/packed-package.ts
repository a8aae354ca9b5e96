/**
 * leaderhook as an app installs it: `npm pack` of the project (its `prepack` builds dist/), the tarball installed with
 * `npm install` into an empty project. The project is packed from a copy of its files (git's tracked and unignored
 * ones, node_modules linked), so the build never writes into the working tree.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Packs the project into `scratch`; returns the tarball's path. */
export async function packProject(scratch: string): Promise<string> {
  const copy = join(scratch, 'project');
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    // A file deleted in the working tree but not yet in git's index is simply not packed.
    try {
      cpSync(join(ROOT, file), join(copy, file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  const before = new Set(readdirSync(scratch));
  await run('npm', ['pack', '--pack-destination', scratch, '--loglevel=error'], { cwd: copy, timeoutMs: 300_000 });
  const tarball = readdirSync(scratch).find((name) => name.endsWith('.tgz') && !before.has(name));
  if (!tarball) throw new Error('npm pack wrote no tarball');
  return join(scratch, tarball);
}

/**
 * An empty ESM project in `directory` with the tarball (and `extra` packages) installed by npm, as an app would:
 * leaderhook's dependencies come from the registry, through npm's cache when it has them.
 */
export async function installInEmptyProject(tarball: string, directory: string, extra: string[] = []): Promise<void> {
  mkdirSync(directory, { recursive: true });
  writeFileSync(
    join(directory, 'package.json'),
    `${JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, ...extra], {
    cwd: directory,
    timeoutMs: 300_000,
  });
}
