/**
 * Marks the bundle's module factories for eager compilation, so Node.js's compile cache holds their code.
 *
 * esbuild wraps each CommonJS module of a bundle, and each ES module that must be initialised lazily, in a factory
 * function: `var require_x = __commonJS((exports, module) => { …the module… })`. V8 compiles a function lazily, on its
 * first call, unless the function is parenthesized (its "possibly invoked function expression" heuristic); and Node.js
 * makes a file's compile cache when it compiles the file, so a lazily compiled function is never in it. Every start
 * compiled every factory again (about 90 ms of CPU profile at start-up). Parenthesized, they are compiled with the
 * file, once, when the image's compile cache is made, and each start reads them from it: start to leader p50 388 ->
 * 335 ms, RSS on becoming leader +3 MiB (runs of both builds alternating, n=12).
 *
 * Which functions: each function expression that is the only argument of a call initialising a top-level variable
 * (`var a = f(() => …)`), the shape of esbuild's `__commonJS` and `__esm` sites. Parentheses never change what a
 * function does, so the rule is safe for any other function of that shape; the build fails if a file has fewer than the
 * CommonJS modules bundled into it (esbuild's output no longer has that shape).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as acorn from 'acorn';
import type * as esbuild from 'esbuild';

type Node = acorn.AnyNode;

/** The factories' source ranges in one output file's text (an ES module). */
export function moduleFactories(source: string): Array<{ start: number; end: number }> {
  const program = acorn.parse(source, { ecmaVersion: 'latest', sourceType: 'module' });
  const factories: Array<{ start: number; end: number }> = [];
  for (const statement of program.body) {
    const declaration: Node | null | undefined =
      statement.type === 'ExportNamedDeclaration' ? statement.declaration : statement;
    if (declaration?.type !== 'VariableDeclaration') continue;
    for (const { init } of declaration.declarations) {
      if (init?.type !== 'CallExpression' || init.arguments.length !== 1) continue;
      const [argument] = init.arguments as [Node];
      if (argument.type === 'ArrowFunctionExpression' || argument.type === 'FunctionExpression')
        factories.push({ start: argument.start, end: argument.end });
    }
  }
  return factories;
}

/** `source` with each factory parenthesized. */
export function parenthesizeFactories(source: string, factories: Array<{ start: number; end: number }>): string {
  let text = source;
  for (const { start, end } of [...factories].sort((a, b) => b.start - a.start))
    text = `${text.slice(0, start)}(${text.slice(start, end)})${text.slice(end)}`;
  return text;
}

/**
 * Rewrites the built files of `metafile` (paths relative to `root`) in place. Returns the number of factories marked,
 * and a problem for each file with fewer factories than CommonJS modules bundled into it.
 */
export function markFactoriesEager(metafile: esbuild.Metafile, root: string): { marked: number; problems: string[] } {
  let marked = 0;
  const problems: string[] = [];
  for (const [path, output] of Object.entries(metafile.outputs)) {
    if (!path.endsWith('.js')) continue;
    const file = join(root, path);
    const source = readFileSync(file, 'utf8');
    const factories = moduleFactories(source);
    if (factories.length) writeFileSync(file, parenthesizeFactories(source, factories));
    marked += factories.length;
    const commonJs = Object.keys(output.inputs).filter((input) => metafile.inputs[input]?.format === 'cjs').length;
    if (factories.length < commonJs)
      problems.push(
        `${path}: ${factories.length} module factories for ${commonJs} CommonJS modules: esbuild's output no longer ` +
          'has the shape scripts/build/eager-module-factories.ts expects',
      );
  }
  return { marked, problems };
}
