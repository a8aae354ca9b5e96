/** A small Dockerfile reader: enough to let tests follow what the image build does, without Docker. */

export interface Instruction {
  keyword: string;
  /** The text after the keyword, continuation lines joined. */
  args: string;
}

export interface Stage {
  /** The `AS` name, or the stage's index as text. */
  name: string;
  /** The image or stage it starts from, before ARG substitution. */
  from: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** `ARG`s declared before the first `FROM`, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

export interface CopyInstruction {
  /** The `--from` stage, or undefined for the build context. */
  from: string | undefined;
  sources: string[];
  destination: string;
}

export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (pending === '' && /^\s*#/.test(line)) continue;
    if (pending !== '' && /^\s*#/.test(line)) continue; // comments inside a continued instruction
    if (/\\\s*$/.test(line)) {
      pending += `${line.replace(/\\\s*$/, '')} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (!full) continue;
    const match = /^(\S+)\s*(.*)$/s.exec(full)!;
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim() });
  }
  if (pending.trim()) throw new Error('Dockerfile ends inside a continued line');

  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const parts = instruction.args.split(/\s+/).filter((part) => !part.startsWith('--'));
      const as = parts.findIndex((part) => part.toUpperCase() === 'AS');
      stages.push({ name: as >= 0 ? parts[as + 1]! : String(stages.length), from: parts[0]!, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`${instruction.keyword} before the first FROM`);
      const [name, value = ''] = instruction.args.split('=', 2) as [string, string?];
      globalArgs[name.trim()] = value.trim();
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/** Replaces `${NAME}` and `$NAME` with the given values (unknown names are left as they are). */
export function substitute(text: string, values: Record<string, string>): string {
  return text.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (whole, braced: string | undefined, bare: string | undefined) => values[(braced ?? bare)!] ?? whole,
  );
}

export function stage(dockerfile: Dockerfile, name: string): Stage {
  const found = dockerfile.stages.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no stage ${JSON.stringify(name)} in the Dockerfile`);
  return found;
}

export function copies(stage: Stage): CopyInstruction[] {
  return stage.instructions
    .filter((instruction) => instruction.keyword === 'COPY')
    .map((instruction) => {
      if (instruction.args.startsWith('['))
        throw new Error(`COPY in JSON form is not supported here: ${instruction.args}`);
      const words = instruction.args.split(/\s+/);
      let from: string | undefined;
      const paths: string[] = [];
      for (const word of words) {
        if (word.startsWith('--from=')) from = word.slice('--from='.length);
        else if (word.startsWith('--')) throw new Error(`COPY option ${word} is not supported here`);
        else paths.push(word);
      }
      if (paths.length < 2) throw new Error(`COPY needs a source and a destination: ${instruction.args}`);
      return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
    });
}

/** The last `WORKDIR` of a stage (absolute paths only). */
export function workdir(stage: Stage): string {
  const dirs = stage.instructions
    .filter((instruction) => instruction.keyword === 'WORKDIR')
    .map((instruction) => instruction.args);
  const last = dirs.at(-1) ?? '/';
  if (!last.startsWith('/')) throw new Error(`relative WORKDIR ${last} is not supported here`);
  return last;
}

/** The exec-form value of an instruction such as ENTRYPOINT: a JSON array. */
export function execForm(stage: Stage, keyword: string): string[] | undefined {
  const instruction = stage.instructions.filter((candidate) => candidate.keyword === keyword).at(-1);
  if (!instruction) return undefined;
  const value: unknown = JSON.parse(instruction.args);
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string'))
    throw new Error(`${keyword} is not in exec form`);
  return value;
}

/** The variables a stage's `ENV` lines set (`NAME=value` pairs; values without spaces or quotes). */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const instruction of stage.instructions) {
    if (instruction.keyword !== 'ENV') continue;
    for (const pair of instruction.args.split(/\s+/)) {
      const match = /^(\w+)=(\S*)$/.exec(pair);
      if (!match) throw new Error(`ENV ${instruction.args}: only NAME=value pairs are supported here`);
      env[match[1]!] = match[2]!;
    }
  }
  return env;
}
