// Import probes: what a library costs in memory as the image runs it, measured in a process that serves HTTP and
// loads nothing else (bundled with the product's settings). For a library that is always loaded, the figure is what
// replacing or deferring it could save.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { BUNDLE_SETTINGS, ROOT } from '../scripts/build/bundle.ts';
import { medianMemory, type MemorySample } from './process-stats.ts';

/** Each probe's code, run after an HTTP server is listening. */
export const PROBES: Record<string, string> = {
  'zod, named import (import { z } from "zod"), as leaderhook imported it first': `import { z } from 'zod'; globalThis.probe = z.strictObject({ a: z.string().min(1), b: z.number().int().optional(), c: z.enum(['x', 'y']) }).parse({ a: 'q', c: 'x' });`,
  'zod, namespace import (import * as z from "zod"), as leaderhook imported it before zod/mini': `import * as z from 'zod'; globalThis.probe = z.strictObject({ a: z.string().min(1), b: z.number().int().optional(), c: z.enum(['x', 'y']) }).parse({ a: 'q', c: 'x' });`,
  'zod/mini with its English messages, as leaderhook imports it (the same checks)': `import * as z from 'zod/mini'; import en from 'zod/v4/locales/en.js'; z.config(en()); globalThis.probe = z.strictObject({ a: z.string().check(z.minLength(1)), b: z.optional(z.int()), c: z.enum(['x', 'y']) }).parse({ a: 'q', c: 'x' });`,
  'yaml (parse)': `import { parse } from 'yaml'; globalThis.probe = parse('targets:\\n  - {name: a, url: "http://x"}\\n');`,
};

const BASE = `import { createServer } from 'node:http'; createServer((request, response) => response.end()).listen(0, '127.0.0.1');\n`;
const REPORT = `\nsetTimeout(() => { const status = require('node:fs').readFileSync('/proc/self/status', 'utf8'); const kb = (name) => Number(new RegExp(name + ':\\\\s+(\\\\d+)').exec(status)[1]); console.log(JSON.stringify({ rssMb: kb('VmRSS') / 1024, anonMb: kb('RssAnon') / 1024 })); process.exit(0); }, 3000);`;

/** RSS and RssAnon (MB, median of `runs`) of the HTTP-only process, and each probe's addition to it. */
export async function importProbes(
  command: { nodeArgs: string[]; env: Record<string, string> },
  directory: string,
  runs = 3,
): Promise<Array<{ probe: string; rssMb: number; anonMb: number }>> {
  const measure = async (name: string, code: string) => {
    const outfile = join(directory, 'probes', `${name.replace(/\W+/g, '-')}.js`);
    mkdirSync(join(directory, 'probes'), { recursive: true });
    await esbuild.build({
      ...BUNDLE_SETTINGS,
      stdin: { contents: BASE + code + REPORT, resolveDir: ROOT, loader: 'js' },
      outfile,
      logLevel: 'error',
    });
    const samples = Array.from(
      { length: runs },
      () =>
        JSON.parse(
          execFileSync(process.execPath, [...command.nodeArgs, outfile], {
            env: { ...process.env, ...command.env },
          }).toString(),
        ) as MemorySample,
    );
    return medianMemory(samples);
  };
  const base = await measure('http-only', '');
  const rows = [{ probe: 'an HTTP server alone (the floor)', ...base }];
  for (const [probe, code] of Object.entries(PROBES)) {
    const figure = await measure(probe, code);
    rows.push({ probe: `+ ${probe}`, rssMb: figure.rssMb - base.rssMb, anonMb: figure.anonMb - base.anonMb });
  }
  return rows;
}
