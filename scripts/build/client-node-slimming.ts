/**
 * Build-time slimming of `@kubernetes/client-node` (an esbuild plugin), keeping the client for every API call.
 *
 * The client's generated ObjectSerializer holds a `typeMap` naming all ~750 models; every generated API imports the
 * serializer, so a bundle keeps every model (and the memory of their source and attribute maps) although leaderhook
 * (de)serializes a handful. This plugin:
 * - rewrites the serializer's `typeMap` to the closure of the models that the API methods leaderhook calls
 *   (de)serialize: a model outside the map is passed through as plain JSON by the serializer itself, as it does for
 *   any type it does not know;
 * - marks the package's modules side-effect free (all but its polyfill, which its index imports for that effect), so
 *   models, API classes and features (kubectl cp, exec, attach, port-forward, informers) nothing refers to leave the
 *   bundle.
 *
 * The rewrite depends on the generated layout, so every assumption is checked and the build fails naming what no
 * longer matches (a client upgrade must never silently ship a broken or a fat build):
 * - the package's index imports nothing for its side effects but `./polyfill.js`;
 * - the serializer's `let typeMap = { "Name": Name, ... }` block, one `import { Name } from '../models/Name.js'` per
 *   entry, and the serializer still looking models up in `typeMap[...]`;
 * - each model's `Name.attributeTypeMap = [...]` (JSON) and its `mapping`;
 * - each configured API method, in `<Api>RequestFactory` and `<Api>ResponseProcessor` (`<method>WithHttpInfo`), and
 *   every model it names being in the `typeMap`;
 * - the product's source calls only the configured API classes and methods;
 * - after the build ({@link checkSlimBundle}): exactly the kept models and only the configured API files are in the
 *   output.
 */
import { readFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { Metafile, Plugin } from 'esbuild';

/** The generated API methods leaderhook calls, by API class (the `makeApiClient` argument). */
export type ClientNodeCalls = Record<string, readonly string[]>;

export interface SlimmingOptions {
  /** The installed package's root (the folder holding its package.json). */
  packageRoot: string;
  calls: ClientNodeCalls;
  /**
   * Models kept out of the closure although reachable: leaderhook never reads or writes inside them, and the
   * serializer passes them through as the JSON the server sent (e.g. a Pod's spec and status, when only its labels
   * are read). Each must exist in the typeMap.
   */
  passThrough: readonly string[];
}

/** A mismatch between the installed client and what the slimming expects: the build stops with this message. */
export class ClientLayoutError extends Error {
  constructor(message: string) {
    super(`@kubernetes/client-node slimming: ${message}`);
    this.name = 'ClientLayoutError';
  }
}

const SERIALIZER = 'dist/gen/models/ObjectSerializer.js';
const INDEX = 'dist/index.js';
/** The one module the package imports for what it does when loaded (it sets `globalThis.File` where missing). */
const POLYFILL = 'dist/polyfill.js';
const TYPE_MAP_START = 'let typeMap = {';
const TYPE_MAP_ENTRY = /^ {4}"(\w+)": (\w+),?$/;
const MODEL_IMPORT = /^import \{ (\w+) \} from '\.\.\/models\/(\w+)\.js';$/;

export interface SerializerLayout {
  /** Every model name in the typeMap, in file order. */
  models: string[];
  lines: string[];
  /** Line indexes of the typeMap's first entry and of its closing `};`. */
  typeMapStart: number;
  typeMapEnd: number;
  /** Line index of each model's import. */
  importLine: Map<string, number>;
}

/** Reads the serializer's typeMap and model imports, or throws a ClientLayoutError naming what does not match. */
export function readSerializer(text: string): SerializerLayout {
  const lines = text.split('\n');
  const starts = lines.flatMap((line, index) => (line === TYPE_MAP_START ? [index] : []));
  if (starts.length !== 1) {
    throw new ClientLayoutError(`${SERIALIZER}: expected one line "${TYPE_MAP_START}", found ${starts.length}`);
  }
  const typeMapStart = (starts[0] as number) + 1;
  const models: string[] = [];
  let typeMapEnd = typeMapStart;
  for (; typeMapEnd < lines.length && lines[typeMapEnd] !== '};'; typeMapEnd++) {
    const entry = TYPE_MAP_ENTRY.exec(lines[typeMapEnd] as string);
    if (!entry || entry[1] !== entry[2]) {
      throw new ClientLayoutError(
        `${SERIALIZER}:${typeMapEnd + 1}: expected a typeMap entry "Name": Name, found ${JSON.stringify(lines[typeMapEnd])}`,
      );
    }
    models.push(entry[1] as string);
  }
  if (typeMapEnd === lines.length)
    throw new ClientLayoutError(`${SERIALIZER}: the typeMap block never closes with "};"`);
  if (models.length === 0) throw new ClientLayoutError(`${SERIALIZER}: the typeMap is empty`);
  const rest = lines.slice(typeMapEnd + 1).join('\n');
  for (const use of ['typeMap[type]', 'typeMap[expectedType]']) {
    if (!rest.includes(use)) {
      throw new ClientLayoutError(`${SERIALIZER}: the serializer no longer looks models up with ${use}`);
    }
  }
  if (/\btypeMap\s*=/.test(rest))
    throw new ClientLayoutError(`${SERIALIZER}: typeMap is assigned again after its declaration`);

  const importLine = new Map<string, number>();
  lines.forEach((line, index) => {
    const match = MODEL_IMPORT.exec(line);
    if (match && match[1] === match[2]) importLine.set(match[1] as string, index);
  });
  const unimported = models.filter((model) => !importLine.has(model));
  if (unimported.length) {
    throw new ClientLayoutError(
      `${SERIALIZER}: no "import { Name } from '../models/Name.js'" for ${unimported.slice(0, 5).join(', ')}` +
        (unimported.length > 5 ? ` and ${unimported.length - 5} more` : ''),
    );
  }
  return { models, lines, typeMapStart, typeMapEnd, importLine };
}

/** The serializer with its typeMap (and model imports) cut to `keep`. */
export function cutSerializer(layout: SerializerLayout, keep: ReadonlySet<string>): string {
  const dropped = new Set<number>();
  for (const model of layout.models) {
    if (keep.has(model)) continue;
    dropped.add(layout.importLine.get(model) as number);
    dropped.add(layout.typeMapStart + layout.models.indexOf(model));
  }
  return layout.lines.filter((_, index) => !dropped.has(index)).join('\n');
}

export interface ModelLayout {
  /** Model names its attributes refer to (any name in a type expression; the caller keeps those in the typeMap). */
  references: string[];
}

/** Reads a generated model file: its `attributeTypeMap` (JSON) and `mapping`. */
export function readModel(name: string, text: string, file = `dist/gen/models/${name}.js`): ModelLayout {
  const attributes = new RegExp(`^${name}\\.attributeTypeMap = (\\[[\\s\\S]*?^\\]);$`, 'm').exec(text);
  if (!attributes) throw new ClientLayoutError(`${file}: no "${name}.attributeTypeMap = [...];" block`);
  let entries: unknown;
  try {
    entries = JSON.parse(attributes[1] as string);
  } catch (error) {
    throw new ClientLayoutError(`${file}: ${name}.attributeTypeMap is not JSON (${(error as Error).message})`);
  }
  const references: string[] = [];
  for (const entry of entries as Array<Record<string, unknown>>) {
    if (typeof entry?.name !== 'string' || typeof entry.baseName !== 'string' || typeof entry.type !== 'string') {
      throw new ClientLayoutError(`${file}: an attribute of ${name} lacks a string name, baseName or type`);
    }
    references.push(...typeNames(entry.type));
  }
  if (new RegExp(`^${name}\\.mapping = undefined;$`, 'm').test(text)) return { references };
  const mapping = new RegExp(`^${name}\\.mapping = (\\{[\\s\\S]*?^\\});$`, 'm').exec(text);
  if (!mapping) throw new ClientLayoutError(`${file}: no "${name}.mapping = ...;" (undefined or a JSON object)`);
  try {
    references.push(...Object.values(JSON.parse(mapping[1] as string) as Record<string, string>).flatMap(typeNames));
  } catch (error) {
    throw new ClientLayoutError(`${file}: ${name}.mapping is not JSON (${(error as Error).message})`);
  }
  return { references };
}

/** The names in a generated type expression such as `Array<V1OwnerReference>` or `{ [key: string]: V1Foo; }`. */
function typeNames(type: string): string[] {
  return [...type.matchAll(/[A-Za-z_]\w*/g)].map((match) => match[0]);
}

export interface ApiLayout {
  /** Every request-factory method of the class. */
  methods: string[];
  /** Models each configured method sends (serialize) or returns (deserialize). */
  models: Map<string, string[]>;
}

/** Reads the configured methods of a generated API file and the model names each one (de)serializes. */
export function readApi(
  api: string,
  text: string,
  methods: readonly string[],
  file = `dist/gen/apis/${api}.js`,
): ApiLayout {
  const factory = classBody(text, `${api}RequestFactory`, file);
  const processor = classBody(text, `${api}ResponseProcessor`, file);
  const all = [...factory.matchAll(/^ {4}async (\w+)\(/gm)].map((match) => match[1] as string);
  const models = new Map<string, string[]>();
  for (const method of methods) {
    const request = methodBody(factory, method, file, `${api}RequestFactory`);
    const response = methodBody(processor, `${method}WithHttpInfo`, file, `${api}ResponseProcessor`);
    const returned = [...response.matchAll(/ObjectSerializer\.deserialize\([^;]*?, "([^"]+)", "[^"]*"\)/g)].map(
      (m) => m[1] as string,
    );
    if (returned.length === 0) {
      throw new ClientLayoutError(`${file}: ${api}ResponseProcessor.${method}WithHttpInfo deserializes no model`);
    }
    const sent = [...request.matchAll(/ObjectSerializer\.serialize\([^;]*?, "([^"]+)", "[^"]*"\)/g)].map(
      (m) => m[1] as string,
    );
    models.set(method, [...new Set([...returned, ...sent].flatMap(typeNames))]);
  }
  return { methods: all, models };
}

function classBody(text: string, name: string, file: string): string {
  const start = text.indexOf(`\nexport class ${name} `);
  if (start < 0) throw new ClientLayoutError(`${file}: no "export class ${name}"`);
  const end = text.indexOf('\n}\n', start);
  if (end < 0) throw new ClientLayoutError(`${file}: class ${name} does not end with "}" on a line of its own`);
  return text.slice(start, end);
}

function methodBody(body: string, method: string, file: string, owner: string): string {
  const start = body.search(new RegExp(`^ {4}async ${method}\\(`, 'm'));
  if (start < 0) throw new ClientLayoutError(`${file}: no method ${owner}.${method}`);
  const end = body.indexOf('\n    }\n', start);
  return body.slice(start, end < 0 ? undefined : end);
}

/** Names of API classes and generated methods the product's source uses. */
export function callsInSource(text: string, apiMethods: ReadonlySet<string>): { apis: string[]; methods: string[] } {
  const apis = [...text.matchAll(/makeApiClient\((\w+)\)/g)].map((match) => match[1] as string);
  const methods = [...text.matchAll(/\.(\w+)\(/g)]
    .map((match) => match[1] as string)
    .filter((name) => apiMethods.has(name));
  return { apis, methods };
}

export interface SlimmingPlan {
  /** The typeMap entries kept (the closure). */
  keep: Set<string>;
  /** Every model in the installed client's typeMap. */
  all: string[];
  /** Every generated method of the configured API classes (to recognise calls in the source). */
  apiMethods: Set<string>;
}

/** Works out what to keep from the installed client, checking every assumption on the way. */
export function planSlimming(options: SlimmingOptions): SlimmingPlan {
  const read = (path: string) => {
    try {
      return readFileSync(join(options.packageRoot, path), 'utf8');
    } catch (error) {
      throw new ClientLayoutError(
        `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
  };
  const bareImports = [...read(INDEX).matchAll(/^import ['"]([^'"]+)['"];?$/gm)].map((match) => match[1] as string);
  if (bareImports.join() !== './polyfill.js') {
    throw new ClientLayoutError(
      `${INDEX} imports [${bareImports.join(', ')}] for their side effects; the slimming keeps those of ./polyfill.js only`,
    );
  }
  const { models: all } = readSerializer(read(SERIALIZER));
  const known = new Set(all);
  for (const name of options.passThrough) {
    if (!known.has(name)) throw new ClientLayoutError(`pass-through model ${name} is not in the typeMap`);
  }
  const apiMethods = new Set<string>();
  const roots: string[] = [];
  for (const [api, methods] of Object.entries(options.calls)) {
    const layout = readApi(api, read(`dist/gen/apis/${api}.js`), methods);
    for (const method of layout.methods) apiMethods.add(method);
    for (const [method, names] of layout.models) {
      const models = names.filter((name) => known.has(name));
      if (models.length === 0) throw new ClientLayoutError(`${api}.${method} (de)serializes no model of the typeMap`);
      roots.push(...models);
    }
  }
  const keep = new Set<string>();
  const pending = [...roots];
  const passThrough = new Set(options.passThrough);
  while (pending.length) {
    const name = pending.pop() as string;
    if (keep.has(name) || passThrough.has(name)) continue;
    keep.add(name);
    for (const reference of readModel(name, read(`dist/gen/models/${name}.js`)).references) {
      if (known.has(reference) && !keep.has(reference)) pending.push(reference);
    }
  }
  return { keep, all, apiMethods };
}

/** The esbuild plugin: cuts the typeMap to `plan.keep` and marks the package's modules side-effect free. */
export function slimClientNode(options: SlimmingOptions, plan: SlimmingPlan): Plugin {
  const dist = join(options.packageRoot, 'dist') + sep;
  const polyfill = join(options.packageRoot, POLYFILL);
  const serializer = join(options.packageRoot, SERIALIZER);
  return {
    name: 'slim-client-node',
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        const path = resolve(args.resolveDir, args.path);
        if (!path.startsWith(dist) || path === polyfill) return undefined;
        return { path, sideEffects: false };
      });
      build.onLoad({ filter: /ObjectSerializer\.js$/ }, (args) => {
        if (args.path !== serializer) return undefined;
        return { contents: cutSerializer(readSerializer(readFileSync(args.path, 'utf8')), plan.keep), loader: 'js' };
      });
    },
  };
}

/**
 * Checks a finished build against the plan: the bundled source calls only the configured API classes and methods;
 * exactly the kept models and, of the generated APIs, only the configured ones (and their shared base) are in the
 * output. Returns the problems found (empty when the build is as planned). `root`: what the metafile's paths are
 * relative to.
 */
export function checkSlimBundle(
  metafile: Metafile,
  root: string,
  options: SlimmingOptions,
  plan: SlimmingPlan,
): string[] {
  const included = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) if (bytesInOutput > 0) included.add(input);
  }
  const generated = (folder: string) =>
    [...included]
      .map((input) =>
        /node_modules\/@kubernetes\/client-node\/dist\/gen\/(\w+)\/(\w+)\.js$/.exec(input.replaceAll('\\', '/')),
      )
      .filter((match): match is RegExpExecArray => match?.[1] === folder)
      .map((match) => match[2] as string);
  const problems: string[] = [];
  const configured = new Set(Object.values(options.calls).flat());
  for (const input of Object.keys(metafile.inputs)) {
    if (input.includes('node_modules/') || !input.endsWith('.ts')) continue;
    const found = callsInSource(readFileSync(join(root, input), 'utf8'), plan.apiMethods);
    for (const api of found.apis.filter((name) => !(name in options.calls))) problems.push(`${input} uses ${api}`);
    for (const method of found.methods.filter((name) => !configured.has(name)))
      problems.push(`${input} calls ${method}`);
  }
  if (problems.length) {
    problems.push(
      '(calls missing from the configured client-node calls: add them so that their models stay in the typeMap)',
    );
  }
  const models = new Set(generated('models').filter((name) => name !== 'ObjectSerializer'));
  const extra = [...models].filter((name) => !plan.keep.has(name));
  const missing = [...plan.keep].filter((name) => !models.has(name));
  if (extra.length)
    problems.push(
      `${extra.length} models beyond the planned ${plan.keep.size} are in the bundle (${extra.slice(0, 5).join(', ')}…)`,
    );
  if (missing.length) problems.push(`planned models missing from the bundle: ${missing.join(', ')}`);
  const apis = generated('apis').filter((name) => !['baseapi', 'exception'].includes(name) && !(name in options.calls));
  if (apis.length) problems.push(`generated APIs leaderhook does not use are in the bundle: ${apis.join(', ')}`);
  return problems;
}
