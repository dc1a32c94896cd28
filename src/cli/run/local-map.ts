/**
 * The explicit map from a cluster to this machine (docs/sedna-run.md):
 *
 * - an **image** maps to the Dockerfile that builds it and its build context: the worker runs in the
 *   context folder, with the image's ENTRYPOINT/CMD/ENV when the template gives no `command`;
 * - a **node path** (a hostPath volume, a host-path Dataset or Model URL, an outputDir) maps to a
 *   local folder; unmapped node paths live under the node's own folder in the run state
 *   (`.sedna/nodes/<node>/...`), one per node, as each node has its own disk;
 * - a node can have **prepare** commands (put the dataset and the initial model on it first),
 *   run before the job starts;
 * - a job's workers can get **env** values that the cluster's network gives and this machine has
 *   not (a camera's stream address becomes a recording on the node); an absolute path there is a
 *   node path;
 * - the cluster's **object store** (an S3 endpoint the template names, e.g. a MinIO Service) can be
 *   a local S3-compatible server that the run starts and stops (local-s3.ts), with the Secrets
 *   that hold its keys.
 *
 * It comes from `sedna.local.yaml` files next to the job YAML (found by themselves, so an example
 * runs with no flag), from `--local FILE`, and from `--image` / `--node-path` flags, which win.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { SednaError, messageOf } from '../../common/errors.js';
import { inheritFrom, parseDockerfile, type ImageConfig } from './dockerfile.js';

export const LOCAL_FILE_NAME = 'sedna.local.yaml';

export interface ImageMapping {
  readonly image: string;
  /** The folder the worker runs in: `workdir` of the map (the image's WORKDIR), else the build context. */
  readonly context: string;
  readonly dockerfile: string | undefined;
  readonly config: ImageConfig;
  /** Where the mapping was declared (a file or a flag). */
  readonly from: string;
}

export interface NodePathMapping {
  /** A node name, or `*` for every node. */
  readonly node: string;
  /** An absolute path on the node. */
  readonly nodePath: string;
  /** The absolute local folder or file it stands for. */
  readonly local: string;
  readonly from: string;
}

export interface NodePrepare {
  readonly node: string;
  readonly command: readonly string[];
  readonly cwd: string;
  readonly from: string;
}

/** Variables a job's workers get in place of the template's (by the job resource's name). */
export interface WorkerEnvOverride {
  readonly job: string;
  readonly env: Readonly<Record<string, string>>;
  readonly from: string;
}

/** A local S3-compatible server standing for the cluster's object store (local-s3.ts). */
export interface LocalS3Server {
  /** The program and its arguments; it prints `{"endpoint","accessKeyId","secretAccessKey"}` once ready. */
  readonly command: readonly string[];
  readonly cwd: string;
  /** The cluster's endpoint it stands for (no trailing slash): template values naming it are rewritten. */
  readonly replaces: string;
  /** The Secrets (not in the job files) that hold its keys, as the cluster's Secrets hold the store's. */
  readonly secrets: readonly { namespace: string; name: string }[];
  readonly from: string;
}

export interface LocalMap {
  readonly images: ReadonlyMap<string, ImageMapping>;
  readonly paths: readonly NodePathMapping[];
  readonly prepare: readonly NodePrepare[];
  readonly workers: readonly WorkerEnvOverride[];
  readonly s3: LocalS3Server | undefined;
  /** The local files that were read. */
  readonly files: readonly string[];
}

const absolutePath = z.string().regex(/^\//, 'must be an absolute node path');
// A Kubernetes object name (DNS subdomain), optionally `namespace/name`.
const secretName = z
  .string()
  .regex(
    /^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
    'not a Secret name (name or namespace/name)',
  );
const localFileSchema = z
  .object({
    apiVersion: z.literal('sedna-sdk.io/v1alpha1'),
    kind: z.literal('LocalRun'),
    images: z
      .record(
        z.string().min(1),
        z
          .object({
            dockerfile: z.string().min(1).optional(),
            context: z.string().min(1).optional(),
            /** The local folder that stands for the image's WORKDIR (where its COPYs put the files). */
            workdir: z.string().min(1).optional(),
          })
          .strict(),
      )
      .optional(),
    nodes: z
      .record(
        z.string().min(1),
        z
          .object({
            paths: z.record(absolutePath, z.string().min(1)).optional(),
            prepare: z.array(z.array(z.string()).min(1)).optional(),
          })
          .strict(),
      )
      .optional(),
    workers: z
      .record(
        z.string().min(1),
        z
          .object({ env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'not a variable name'), z.string()) })
          .strict(),
      )
      .optional(),
    s3: z
      .object({
        server: z.array(z.string().min(1)).min(1),
        replaces: z.string().regex(/^https?:\/\/[^/\s]+\/?$/, 'must be an endpoint URL, http(s)://host[:port]'),
        secrets: z.array(secretName).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

function invalid(from: string, problem: string): SednaError {
  return new SednaError('SEDNA_ERR_INVALID_ARGUMENT', `${from}: ${problem}`, { details: { from } });
}

async function imageMapping(image: string, dockerfile: string, context: string, from: string): Promise<ImageMapping> {
  let text: string;
  try {
    text = await fs.readFile(dockerfile, 'utf8');
  } catch (err) {
    throw invalid(from, `image ${image}: cannot read its Dockerfile ${dockerfile}: ${messageOf(err)}`);
  }
  return { image, context, dockerfile, config: parseDockerfile(text), from };
}

/** Reads one `sedna.local.yaml`; relative paths in it are relative to its folder. */
export async function readLocalFile(file: string): Promise<LocalMap> {
  let raw: unknown;
  try {
    raw = parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw invalid(file, `cannot read it: ${messageOf(err)}`);
  }
  const parsed = localFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ');
    throw invalid(file, `not a valid LocalRun file: ${issues}`);
  }
  const dir = path.dirname(path.resolve(file));
  const images = new Map<string, ImageMapping>();
  for (const [image, entry] of Object.entries(parsed.data.images ?? {})) {
    const context = path.resolve(dir, entry.workdir ?? entry.context ?? '.');
    if (entry.dockerfile === undefined)
      images.set(image, { image, context, dockerfile: undefined, config: parseDockerfile(''), from: file });
    else images.set(image, await imageMapping(image, path.resolve(dir, entry.dockerfile), context, file));
  }
  // An image built FROM another image of the map inherits its ENTRYPOINT, CMD, WORKDIR and ENV.
  const resolved = (image: ImageMapping, seen: Set<string>): ImageMapping => {
    const base = image.config.base === undefined ? undefined : images.get(image.config.base);
    if (base === undefined || seen.has(base.image)) return image;
    seen.add(image.image);
    return { ...image, config: inheritFrom(image.config, resolved(base, seen).config) };
  };
  for (const [name, image] of images) images.set(name, resolved(image, new Set()));
  const paths: NodePathMapping[] = [];
  const prepare: NodePrepare[] = [];
  for (const [node, entry] of Object.entries(parsed.data.nodes ?? {})) {
    for (const [nodePath, local] of Object.entries(entry.paths ?? {}))
      paths.push({ node, nodePath: path.posix.normalize(nodePath), local: path.resolve(dir, local), from: file });
    for (const command of entry.prepare ?? []) prepare.push({ node, command, cwd: dir, from: file });
  }
  const workers = Object.entries(parsed.data.workers ?? {}).map(([job, entry]) => ({
    job,
    env: entry.env,
    from: file,
  }));
  const s3 =
    parsed.data.s3 === undefined
      ? undefined
      : {
          command: parsed.data.s3.server,
          cwd: dir,
          replaces: parsed.data.s3.replaces.replace(/\/+$/, ''),
          secrets: (parsed.data.s3.secrets ?? []).map((s) => {
            const [namespace, name] = s.includes('/') ? s.split('/') : ['default', s];
            return { namespace: namespace ?? 'default', name: name ?? s };
          }),
          from: file,
        };
  return { images, paths, prepare, workers, s3, files: [file] };
}

/** `IMAGE=DOCKERFILE` (the context is the current folder, as in `docker build -f DOCKERFILE .`). */
export async function parseImageFlag(flag: string, cwd: string): Promise<ImageMapping> {
  const eq = flag.lastIndexOf('=');
  if (eq <= 0 || eq === flag.length - 1) throw invalid('--image', `expected IMAGE=DOCKERFILE, got ${flag}`);
  return imageMapping(flag.slice(0, eq), path.resolve(cwd, flag.slice(eq + 1)), cwd, `--image ${flag}`);
}

/** `[NODE:]/node/path=LOCAL`. */
export function parseNodePathFlag(flag: string, cwd: string): NodePathMapping {
  const match = /^(?:([^:/=]+):)?(\/[^=]*)=(.+)$/.exec(flag);
  if (match === null) throw invalid('--node-path', `expected [NODE:]/node/path=LOCAL, got ${flag}`);
  return {
    node: match[1] ?? '*',
    nodePath: path.posix.normalize(match[2] ?? '/'),
    local: path.resolve(cwd, match[3] ?? '.'),
    from: `--node-path ${flag}`,
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

export interface LocalMapOptions {
  /** The job YAML files: a `sedna.local.yaml` beside each is read. */
  readonly jobFiles: readonly string[];
  readonly localFiles?: readonly string[];
  readonly imageFlags?: readonly string[];
  readonly nodePathFlags?: readonly string[];
  readonly cwd: string;
}

/** Everything that maps the job onto this machine; later sources win (flags last). */
export async function loadLocalMap(options: LocalMapOptions): Promise<LocalMap> {
  const files: string[] = [];
  for (const jobFile of options.jobFiles) {
    const beside = path.join(path.dirname(path.resolve(options.cwd, jobFile)), LOCAL_FILE_NAME);
    if (!files.includes(beside) && (await exists(beside))) files.push(beside);
  }
  for (const f of options.localFiles ?? []) {
    const abs = path.resolve(options.cwd, f);
    if (!files.includes(abs)) files.push(abs);
  }
  const images = new Map<string, ImageMapping>();
  const paths: NodePathMapping[] = [];
  const prepare: NodePrepare[] = [];
  const workers: WorkerEnvOverride[] = [];
  let s3: LocalS3Server | undefined;
  for (const file of files) {
    const map = await readLocalFile(file);
    for (const [k, v] of map.images) images.set(k, v);
    paths.push(...map.paths);
    prepare.push(...map.prepare);
    workers.push(...map.workers);
    s3 = map.s3 ?? s3; // one server per run: a later file's replaces an earlier one's
  }
  for (const flag of options.imageFlags ?? []) {
    const mapping = await parseImageFlag(flag, options.cwd);
    images.set(mapping.image, mapping);
  }
  for (const flag of options.nodePathFlags ?? []) paths.push(parseNodePathFlag(flag, options.cwd));
  return { images, paths, prepare, workers, s3, files };
}
