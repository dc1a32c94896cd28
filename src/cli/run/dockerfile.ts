/**
 * What `sedna run` needs from the Dockerfile that builds a worker image: the final stage's
 * ENTRYPOINT, CMD, WORKDIR and ENV, so a container whose template names no `command` runs the
 * image's own program, as Kubernetes would. A reader, not a builder: COPY, RUN and the like are
 * ignored (the image's files are the build context itself, see docs/sedna-run.md).
 */
import { SednaError } from '../../common/errors.js';

export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  workdir: string | undefined;
  env: Record<string, string>;
  /** The final stage's base image (`FROM`, build-arg defaults expanded). */
  base?: string;
  /** Which of ENTRYPOINT / CMD the final stage sets itself (the rest comes from its base). */
  sets?: { entrypoint: boolean; cmd: boolean };
}

/** `${NAME}` and `$NAME` from build-arg defaults. */
function expandArgs(text: string, args: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a?: string, b?: string) => args[a ?? b ?? ''] ?? whole);
}

/**
 * An image built `FROM` a base: the base's ENTRYPOINT, CMD, WORKDIR and ENV unless the stage sets
 * its own, as Docker does (a stage's ENTRYPOINT drops the base's CMD).
 */
export function inheritFrom(stage: ImageConfig, base: ImageConfig): ImageConfig {
  const sets = stage.sets ?? { entrypoint: true, cmd: true };
  return {
    entrypoint: sets.entrypoint ? stage.entrypoint : base.entrypoint,
    cmd: sets.cmd ? stage.cmd : sets.entrypoint ? [] : base.cmd,
    workdir: stage.workdir ?? base.workdir,
    env: { ...base.env, ...stage.env },
  };
}

/** Joins continuation lines and drops comments, as Docker's parser does. */
function instructions(text: string): { keyword: string; rest: string; line: number }[] {
  const out: { keyword: string; rest: string; line: number }[] = [];
  let pending = '';
  let startLine = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending !== '' && line.startsWith('#')) return; // comments inside a continued instruction
    if (pending === '') startLine = i + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = pending + line;
    pending = '';
    const match = /^(\S+)\s*(.*)$/s.exec(full);
    if (match !== null)
      out.push({ keyword: (match[1] ?? '').toUpperCase(), rest: (match[2] ?? '').trim(), line: startLine });
  });
  return out;
}

/** The exec form `["a", "b"]` or the shell form `a b` (run by /bin/sh -c, as Docker does). */
function commandForm(rest: string, what: string, line: number): string[] {
  if (rest.startsWith('[')) {
    try {
      const parsed = JSON.parse(rest) as unknown;
      if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) return parsed;
    } catch {
      // fall through to the error
    }
    throw new SednaError('SEDNA_ERR_WORKER_COMMAND', `Dockerfile line ${line}: ${what} is not a JSON list of strings`);
  }
  return rest === '' ? [] : ['/bin/sh', '-c', rest];
}

/** `ENV A=1 B="two words"` and the legacy `ENV A 1`. */
function envPairs(rest: string): [string, string][] {
  if (!rest.includes('=')) {
    const space = rest.search(/\s/);
    return space < 0 ? [] : [[rest.slice(0, space), rest.slice(space).trim()]];
  }
  const pairs: [string, string][] = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const m of rest.matchAll(re)) {
    let value = m[2] ?? '';
    if (value.startsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    else if (value.startsWith("'")) value = value.slice(1, -1);
    pairs.push([m[1] ?? '', value]);
  }
  return pairs;
}

/** Reads the final build stage of a Dockerfile. */
export function parseDockerfile(text: string): ImageConfig {
  const fresh = (): ImageConfig => ({
    entrypoint: [],
    cmd: [],
    workdir: undefined,
    env: {},
    sets: { entrypoint: false, cmd: false },
  });
  let config = fresh();
  // Build-arg defaults declared before the first FROM may be used in FROM lines.
  const globalArgs: Record<string, string> = {};
  let seenFrom = false;
  for (const { keyword, rest, line } of instructions(text)) {
    switch (keyword) {
      case 'ARG': {
        const eq = rest.indexOf('=');
        if (!seenFrom && eq > 0)
          globalArgs[rest.slice(0, eq).trim()] = rest
            .slice(eq + 1)
            .trim()
            .replace(/^"(.*)"$/, '$1');
        break;
      }
      case 'FROM': {
        // A new stage: only the last one counts. Its base image's settings come from the base's
        // own Dockerfile when the local map names it (inheritFrom), else they are unknown.
        seenFrom = true;
        config = fresh();
        const base = expandArgs(rest.split(/\s+/)[0] ?? '', globalArgs);
        if (base !== '') config.base = base;
        break;
      }
      case 'ENTRYPOINT':
        config.entrypoint = commandForm(rest, 'ENTRYPOINT', line);
        if (config.sets !== undefined) config.sets.entrypoint = true;
        break;
      case 'CMD':
        config.cmd = commandForm(rest, 'CMD', line);
        if (config.sets !== undefined) config.sets.cmd = true;
        break;
      case 'WORKDIR':
        config.workdir = rest;
        break;
      case 'ENV':
        for (const [k, v] of envPairs(rest)) config.env[k] = v;
        break;
      default:
        break;
    }
  }
  return config;
}
