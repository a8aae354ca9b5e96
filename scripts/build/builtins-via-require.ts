/**
 * An esbuild plugin: Node.js built-ins that the bundle's ES modules import are loaded with `require` instead.
 *
 * Node.js builds an ES module facade for a built-in imported from ESM by reading every export once, getters included:
 * `import tls from 'node:tls'` parses every root certificate (`tls.rootCertificates`), `import crypto from
 * 'node:crypto'` loads WebCrypto, `import fs from 'node:fs'` loads its stream classes and promises API, and
 * `import http from 'node:http'` loads Node's own undici (Hono's adapter loads that anyway, through the global
 * `Response`). `require` leaves getters alone until something reads them. Measured on a lone leader's start-up,
 * runs of both builds alternating (n=15, load average 11-15): RSS on becoming leader 85.1 -> 83.2 MiB (medians).
 *
 * Each built-in becomes a small module of the bundle that `require`s it and re-exports it: the module object as the
 * default export, and every plain property as a named export. A getter is a named export only when listed in
 * `EXPORTED_GETTERS` (reading it when the bundle starts is then wanted); else the bundle reads it through the default
 * export when it needs it, and a named import of it fails the build, as any import of a missing export does.
 */
import { builtinModules, createRequire } from 'node:module';
import type { Plugin } from 'esbuild';

const NAMESPACE = 'builtin-via-require';

/** Getters that the bundle imports by name (got's DNS cache: `import { promises } from 'node:dns'`). */
export const EXPORTED_GETTERS: Readonly<Record<string, readonly string[]>> = {
  dns: ['promises'],
};

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const requireBuiltin = createRequire(import.meta.url);

/** The module standing in for built-in `name` (without `node:`), exporting what `require` returns. */
export function builtinModuleSource(name: string): string {
  const getters = new Set(EXPORTED_GETTERS[name] ?? []);
  const properties = Object.getOwnPropertyDescriptors(requireBuiltin(`node:${name}`) as object);
  const names = Object.entries(properties)
    .filter(([key, property]) => IDENTIFIER.test(key) && key !== 'default' && (!property.get || getters.has(key)))
    .map(([key]) => key);
  return [
    "import { createRequire } from 'node:module';",
    `const builtin = createRequire(import.meta.url)(${JSON.stringify(`node:${name}`)});`,
    'export default builtin;',
    ...(names.length ? [`export const { ${names.join(', ')} } = builtin;`] : []),
  ].join('\n');
}

export function builtinsViaRequire(): Plugin {
  const builtins = new Set(builtinModules);
  return {
    name: 'builtins-via-require',
    setup(build) {
      build.onResolve({ filter: /^(node:)?[a-z_]+(\/[a-z_]+)?$/ }, (args) => {
        const name = args.path.replace(/^node:/, '');
        if (!builtins.has(name) || args.kind !== 'import-statement') return undefined;
        // The stand-in's own import of node:module stays a plain import.
        if (args.namespace === NAMESPACE) return { path: args.path, external: true };
        return { path: name, namespace: NAMESPACE };
      });
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({
        contents: builtinModuleSource(args.path),
        loader: 'js',
      }));
    },
  };
}
