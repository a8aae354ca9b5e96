/**
 * leaderhook as the container image runs it, without Docker: the bundle built into a folder laid out as the image's
 * /app (dist/, package.json, bin/), started with the Dockerfile's ENTRYPOINT options and ENV.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from '../../scripts/build/bundle.ts';
import { execForm, parseDockerfile, stageEnv } from './dockerfile.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ImageCommand {
  /** Node.js options before the script, e.g. `--no-concurrent-recompilation`. */
  nodeArgs: string[];
  /** The script, as a path inside the image (e.g. `/app/bin/leaderhook.js`). */
  script: string;
  /** The runtime stage's ENV. */
  env: Record<string, string>;
}

/** The runtime stage's `ENTRYPOINT ["node", ...options, script]` and ENV, from the Dockerfile. */
export function imageCommand(): ImageCommand {
  const runtime = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).stages.at(-1)!;
  const entrypoint = execForm(runtime, 'ENTRYPOINT');
  if (!entrypoint || entrypoint[0] !== 'node' || entrypoint.length < 2)
    throw new Error('the ENTRYPOINT is not ["node", ..., script]');
  return { nodeArgs: entrypoint.slice(1, -1), script: entrypoint.at(-1)!, env: stageEnv(runtime) };
}

/** The folder the image holds the app in (its WORKDIR). */
const IMAGE_APP = '/app';

/**
 * The image's command and environment for the app built by buildApp in `directory`: paths under the image's /app
 * (the script, NODE_COMPILE_CACHE) point into `directory`.
 */
export function appCommand(directory: string): { args: string[]; env: Record<string, string> } {
  const image = imageCommand();
  const local = (value: string) =>
    value === IMAGE_APP || value.startsWith(`${IMAGE_APP}/`) ? join(directory, value.slice(IMAGE_APP.length)) : value;
  const env = Object.fromEntries(Object.entries(image.env).map(([name, value]) => [name, local(value)]));
  return { args: [...image.nodeArgs, local(image.script)], env };
}

/**
 * Builds the bundle into `directory`, laid out as the image's /app, and fills its compile cache as the image's build
 * does (the ENTRYPOINT run once with --version).
 */
export async function buildApp(directory: string): Promise<void> {
  mkdirSync(directory, { recursive: true });
  await bundle({ outdir: join(directory, 'dist') });
  cpSync(join(ROOT, 'package.json'), join(directory, 'package.json'));
  cpSync(join(ROOT, 'bin'), join(directory, 'bin'), { recursive: true });
  mkdirSync(join(directory, 'compile-cache'));
  const { args, env } = appCommand(directory);
  execFileSync(process.execPath, [...args, '--version'], { env: { ...process.env, ...env }, stdio: 'ignore' });
}
