/**
 * The licences of the packages a bundle carries. Minifying drops their comments and the image ships no node_modules,
 * so their notices (MIT, Apache-2.0, ISC, BSD all require it) travel in one file beside the bundle.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';

/** `node_modules/<name>` folders (scoped or not, nested or not) with code in the output, sorted by package name. */
export function bundledPackages(metafile: Metafile): string[] {
  const folders = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input.replaceAll('\\', '/'));
      if (match && bytesInOutput > 0) folders.add(match[1] as string);
    }
  }
  const name = (folder: string) => folder.slice(folder.lastIndexOf('node_modules/') + 'node_modules/'.length);
  return [...folders].sort((a, b) => name(a).localeCompare(name(b)) || a.localeCompare(b));
}

/** One text: for each bundled package, its name, version, licence and licence file. */
export function thirdPartyNotices(metafile: Metafile, root: string): string {
  const sections = bundledPackages(metafile).map((folder) => {
    const directory = join(root, folder);
    const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
      license?: string;
    };
    const licenseFile = readdirSync(directory).find((file) => /^(licen[cs]e|copying)(\.|$)/i.test(file));
    const text =
      licenseFile && existsSync(join(directory, licenseFile))
        ? readFileSync(join(directory, licenseFile), 'utf8').trim()
        : '(no licence file in the package)';
    return `${manifest.name}@${manifest.version} (${manifest.license ?? 'see below'})\n\n${text}\n`;
  });
  return `leaderhook bundles the following packages.\n\n${sections.join(`\n${'-'.repeat(80)}\n\n`)}`;
}
