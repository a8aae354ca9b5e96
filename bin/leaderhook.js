#!/usr/bin/env node
// The package's command: runs the compiled CLI when built, else the TypeScript source (Node.js 24 strips types).
import { existsSync } from 'node:fs';
// An older Node.js fails inside the bundle with a screen of minified code: say what is needed instead.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`leaderhook: needs Node.js 24 or later; this is ${process.version}\n`);
  process.exit(1);
}
const compiled = new URL('../dist/cli.js', import.meta.url);
await import(existsSync(compiled) ? compiled.href : new URL('../src/cli.ts', import.meta.url).href);
