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
  let config: ImageConfig = { entrypoint: [], cmd: [], workdir: undefined, env: {} };
  for (const { keyword, rest, line } of instructions(text)) {
    switch (keyword) {
      case 'FROM':
        // A new stage starts from its base image, whose settings we cannot see: only the last
        // stage counts, and what it sets itself.
        config = { entrypoint: [], cmd: [], workdir: undefined, env: {} };
        break;
      case 'ENTRYPOINT':
        // Docker resets a CMD inherited from the base image here; the stage's own CMD (before or
        // after) stays, and we never see the base image's.
        config.entrypoint = commandForm(rest, 'ENTRYPOINT', line);
        break;
      case 'CMD':
        config.cmd = commandForm(rest, 'CMD', line);
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
