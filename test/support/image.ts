/**
 * leaderhook as the container image runs it, without Docker: the bundle built into a folder laid out as the image's
 * /app (dist/, package.json, bin/), started with the Dockerfile's ENTRYPOINT options and ENV.
 */
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from '../../scripts/build/bundle.ts';
import { execForm, parseDockerfile, stageEnv } from './dockerfile.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ImageCommand {
  /** Node.js options before the script, e.g. `--optimize-for-size`. */
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

/** Builds the bundle into `directory`, laid out as the image's /app. */
export async function buildApp(directory: string): Promise<void> {
  mkdirSync(directory, { recursive: true });
  await bundle({ outdir: join(directory, 'dist') });
  cpSync(join(ROOT, 'package.json'), join(directory, 'package.json'));
  cpSync(join(ROOT, 'bin'), join(directory, 'bin'), { recursive: true });
}
