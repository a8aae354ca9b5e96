#!/usr/bin/env node
// The package's command: runs the compiled CLI when built, else the TypeScript source (Node.js 24 strips types).
import { existsSync } from 'node:fs';
const compiled = new URL('../dist/cli.js', import.meta.url);
await import(existsSync(compiled) ? compiled.href : new URL('../src/cli.ts', import.meta.url).href);
