/**
 * Each node of the job gets its own folder, `<state>/nodes/<node>/`, standing for its disk: a node
 * path `/data/digits/index.txt` is `<state>/nodes/<node>/data/digits/index.txt` locally. Mapped
 * node paths (local-map.ts) are symlinks at that place to the local folder the user named, so every
 * path a worker is given lives under its node's folder, and `DATA_PATH_PREFIX` (the node folder)
 * turns a reported URL back into the node path, exactly as in a pod.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SednaError, messageOf } from '../../common/errors.js';
import type { LocalMap, NodePathMapping } from './local-map.js';

/** The node a template without `nodeName` runs on. */
export const DEFAULT_NODE = 'local';

const SAFE_NODE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export class NodeFs {
  private readonly prepared = new Map<string, Promise<void>>();

  constructor(
    readonly stateDir: string,
    private readonly map: LocalMap,
  ) {}

  /** The node's folder (absolute). */
  root(node: string): string {
    const name = node === '' ? DEFAULT_NODE : node;
    if (!SAFE_NODE.test(name))
      throw new SednaError('SEDNA_ERR_INVALID_RESOURCE', `node name ${JSON.stringify(node)} is not a valid node name`);
    return path.join(this.stateDir, 'nodes', name);
  }

  /** The local path of an absolute node path (a path already under the node's folder is kept). */
  local(node: string, nodePath: string): string {
    const root = this.root(node);
    if (nodePath.startsWith(`${root}${path.sep}`)) return nodePath;
    const normal = path.posix.normalize(`/${nodePath}`);
    return path.join(root, normal);
  }

  /** The node path of a local path under the node's folder, else undefined. */
  nodePathOf(node: string, local: string): string | undefined {
    const rel = path.relative(this.root(node), path.resolve(local));
    if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
    return `/${rel.split(path.sep).join('/')}`;
  }

  /** The mappings that apply to a node: its own win over `*` ones for the same path. */
  mappingsFor(node: string): NodePathMapping[] {
    const byPath = new Map<string, NodePathMapping>();
    for (const m of this.map.paths) if (m.node === '*') byPath.set(m.nodePath, m);
    for (const m of this.map.paths) if (m.node === node) byPath.set(m.nodePath, m);
    return [...byPath.values()];
  }

  /**
   * Creates the node's folder and the symlinks of its mapped paths, then runs its prepare
   * commands (once per run). `log` gets their output lines.
   */
  prepare(node: string, baseEnv: Readonly<Record<string, string>>, log: (line: string) => void): Promise<void> {
    let done = this.prepared.get(node);
    if (done === undefined) {
      done = this.doPrepare(node, baseEnv, log);
      this.prepared.set(node, done);
    }
    return done;
  }

  private async doPrepare(
    node: string,
    baseEnv: Readonly<Record<string, string>>,
    log: (line: string) => void,
  ): Promise<void> {
    const root = this.root(node);
    await fs.mkdir(root, { recursive: true });
    const mappings = this.mappingsFor(node);
    for (const m of mappings) {
      const nested = mappings.find((o) => o !== m && m.nodePath.startsWith(`${o.nodePath}/`));
      if (nested !== undefined)
        throw new SednaError(
          'SEDNA_ERR_INVALID_ARGUMENT',
          `node ${node}: ${m.nodePath} (${m.from}) lies inside ${nested.nodePath} (${nested.from}), which is mapped too; map one of them`,
        );
      await linkInto(this.local(node, m.nodePath), m);
    }
    for (const p of this.map.prepare.filter((x) => x.node === node || x.node === '*')) {
      log(`node ${node}: ${p.command.join(' ')}`);
      await runPrepare(p.command, p.cwd, { ...baseEnv, SEDNA_NODE_NAME: node, SEDNA_NODE_ROOT: root }, log).catch(
        (err: unknown) => {
          throw new SednaError(
            'SEDNA_ERR_JOB_FAILED',
            `node ${node}: prepare command (${p.from}) failed: ${messageOf(err)}`,
            {
              cause: err,
            },
          );
        },
      );
    }
  }
}

async function linkInto(at: string, m: NodePathMapping): Promise<void> {
  await fs.mkdir(path.dirname(at), { recursive: true });
  try {
    await fs.access(m.local);
  } catch {
    throw new SednaError(
      'SEDNA_ERR_FILE_NOT_FOUND',
      `node path ${m.nodePath} is mapped to ${m.local} (${m.from}), which does not exist`,
      { details: { nodePath: m.nodePath, local: m.local } },
    );
  }
  const current = await fs.lstat(at).catch(() => undefined);
  if (current?.isSymbolicLink() === true) {
    if ((await fs.readlink(at)) === m.local) return;
    await fs.unlink(at);
  } else if (current !== undefined) {
    const empty = current.isDirectory() && (await fs.readdir(at)).length === 0;
    if (!empty)
      throw new SednaError(
        'SEDNA_ERR_INVALID_ARGUMENT',
        `node path ${m.nodePath} is mapped to ${m.local} (${m.from}), but ${at} already holds files from an earlier run; move them away or drop the mapping`,
      );
    await fs.rmdir(at);
  }
  await fs.symlink(m.local, at);
}

function runPrepare(
  command: readonly string[],
  cwd: string,
  env: Record<string, string>,
  log: (line: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const [program = '', ...args] = command;
    const child = spawn(program === 'node' ? process.execPath : program, args, {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    const collect = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim() !== '') {
          log(`  ${line}`);
          tail.push(line);
          if (tail.length > 10) tail.shift();
        }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`exit ${code}${tail.length > 0 ? `:\n${tail.map((l) => `  | ${l}`).join('\n')}` : ''}`));
    });
  });
}
