/**
 * A pod template plus what the GlobalManager injects, turned into local processes (PodLaunch), the
 * way Kubernetes would run the pod (docs/sedna-run.md):
 *
 * - the program: the container's `command`/`args`, else the image's ENTRYPOINT/CMD (its Dockerfile,
 *   local-map.ts), as Kubernetes combines them; `node` is the Node running `sedna run`;
 * - the environment: a few variables of the user's session (PATH, HOME, ...), the image's ENV, the
 *   template's `env` (`$(VAR)` expanded, `valueFrom` field and Secret references), then what the
 *   controller injects, which wins on a name clash as in a pod;
 * - volumes: `hostPath` is the node's local folder (node-fs.ts), `emptyDir` a folder of the pod;
 *   a value (env or argument) naming a path under a container's `mountPath` is rewritten to the
 *   local folder, since a local process has no mount namespace.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SednaError } from '../../common/errors.js';
import type { LocalMap } from './local-map.js';
import type { NodeFs } from './node-fs.js';
import { DEFAULT_NODE } from './node-fs.js';
import type { ContainerLaunch, PodLaunch, RestartPolicy } from './processes.js';
import type { SecretResource } from './resources.js';
import type { MountRequest, StorageInitializer } from './storage.js';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: unknown;
    resourceFieldRef?: unknown;
  };
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  readOnly?: boolean;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  volumeMounts?: VolumeMount[];
  ports?: { containerPort: number; hostPort?: number }[];
}

export interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  emptyDir?: Record<string, unknown>;
  [other: string]: unknown;
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    nodeName?: string;
    restartPolicy?: RestartPolicy;
    containers: Container[];
    initContainers?: Container[];
    volumes?: Volume[];
  };
}

/** One variable injected from a URL (Sedna's WorkerMount): several URLs are joined with `;`. */
export interface WorkerMount {
  readonly envName: string;
  readonly urls: readonly Omit<MountRequest, 'node'>[];
}

export interface WorkerRequest {
  /** The job's name, namespace and lower-case kind (pod names, the hot-update folder). */
  readonly job: { name: string; namespace: string; kind: string };
  /** GM's worker type: `cloud`, `edge`, `train`, `eval`, `inference`, `aggregation`... */
  readonly workerType: string;
  /** For the status display: `edge`, `trainer`, ... (defaults to the worker type). */
  readonly role?: string;
  readonly template: PodTemplate;
  /** The variables the controller sets (WORKER_NAME, JOB_NAME, LC_SERVER, ...). */
  readonly env: Readonly<Record<string, string>>;
  readonly mounts?: readonly WorkerMount[];
  /** GM's RestartPolicy when the template has none (Kubernetes' own default is Always). */
  readonly restartPolicy?: RestartPolicy;
  /** IL/LL inference workers with `hotUpdateEnabled`: the hot-update folder and poll period. */
  readonly hotUpdate?: { pollPeriodSeconds: number };
  /** A pod with an address of its own on the local mesh (edgemesh.ts); else it shares the host's. */
  readonly network?: PodNetwork;
  /**
   * The run's REST token file, given as SERVICE_TOKEN_FILE to each container whose own environment
   * (image ENV, template, local map) sets neither SERVICE_TOKEN nor SERVICE_TOKEN_FILE.
   */
  readonly serviceTokenFile?: string;
}

/** What a pod has by itself in a cluster and a local process has not (edgemesh.ts). */
export interface PodNetwork {
  /** The pod's IP (`status.podIP`). */
  readonly podIp: string;
  /** Variables the pod gets before the template's (the template's win): its server's bind address. */
  readonly defaults: Readonly<Record<string, string>>;
  /** Variables that make the pod's Node resolve the job's Service names (added to NODE_OPTIONS). */
  readonly resolver: { readonly nodeOptions: string; readonly env: Readonly<Record<string, string>> };
}

export interface WorkloadContext {
  readonly nodes: NodeFs;
  readonly storage: StorageInitializer;
  readonly localMap: LocalMap;
  readonly secrets: readonly SecretResource[];
  /** Variables of the user's session passed to every worker (PATH, HOME, ...). */
  readonly baseEnv: Readonly<Record<string, string>>;
  /** Where emptyDir volumes live: `<run>/pods/<pod>/volumes/<name>`. */
  readonly runDir: string;
  readonly cwd: string;
  readonly hostIp: string;
  /** Cluster endpoints that are local servers here (the local map's `s3`): template values naming them are rewritten. */
  readonly endpoints?: readonly { readonly from: string; readonly to: string }[];
}

/** The variables of the user's session a worker inherits (everything else is the pod's). */
export const PASSED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'TERM'];

// Kubernetes' utilrand.String alphabet (no vowels, no confusable characters).
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** A random 5-character suffix, as the GlobalManager appends to worker and pod names. */
export function randomSuffix(length = 5): string {
  const bytes = crypto.randomBytes(length);
  return Array.from(bytes, (b) => SUFFIX_ALPHABET[b % SUFFIX_ALPHABET.length]).join('');
}

/** `$(VAR)` references to earlier variables, `$$(VAR)` escaped, unknown ones kept (Kubernetes' rules). */
export function expandEnvReferences(value: string, env: Readonly<Record<string, string>>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && env[name] !== undefined ? env[name] : match;
  });
}

function unsupported(what: string, detail: string): SednaError {
  return new SednaError('SEDNA_ERR_INVALID_RESOURCE', `${what}: ${detail} is not supported by sedna run`);
}

/**
 * Replaces a leading container mount path in `value` with its local folder; in a list of paths
 * (`a|b`, `a;b`, `a,b`, as Sedna's parameters join them) each one.
 */
export function rewriteMountedPath(value: string, mounts: readonly { mountPath: string; local: string }[]): string {
  if (/[|;,]/.test(value))
    return value
      .split(/([|;,])/)
      .map((part, i) => (i % 2 === 1 ? part : rewriteOnePath(part, mounts)))
      .join('');
  return rewriteOnePath(value, mounts);
}

function rewriteOnePath(value: string, mounts: readonly { mountPath: string; local: string }[]): string {
  let best: { mountPath: string; local: string } | undefined;
  for (const m of mounts) {
    const mp = m.mountPath.replace(/\/+$/, '') || '/';
    if ((value === mp || value.startsWith(`${mp}/`)) && (best === undefined || mp.length > best.mountPath.length))
      best = { mountPath: mp, local: m.local };
  }
  if (best === undefined) return value;
  return path.join(best.local, value.slice(best.mountPath.length));
}

/**
 * Rewrites a value that names the endpoint `from` (exactly, or followed by a path) to `to`;
 * other values are returned as they are.
 */
export function rewriteEndpoint(value: string, from: string, to: string): string {
  if (value === from || value === `${from}/`) return to;
  return value.startsWith(`${from}/`) ? `${to}${value.slice(from.length)}` : value;
}

/** Finds a program on PATH (or a path relative to `cwd`); undefined when it does not exist. */
export async function findProgram(
  program: string,
  cwd: string,
  pathVar: string | undefined,
): Promise<string | undefined> {
  const candidates = program.includes('/')
    ? [path.resolve(cwd, program)]
    : (pathVar ?? '')
        .split(path.delimiter)
        .filter((d) => d !== '')
        .map((d) => path.join(d, program));
  for (const candidate of candidates) {
    try {
      await fs.access(candidate, fs.constants.X_OK);
      if ((await fs.stat(candidate)).isFile()) return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

interface LocalMount {
  mountPath: string;
  local: string;
}

async function volumeFolders(
  template: PodTemplate,
  node: string,
  podDir: string,
  ctx: WorkloadContext,
  what: string,
): Promise<Map<string, string>> {
  const folders = new Map<string, string>();
  for (const volume of template.spec.volumes ?? []) {
    if (volume.hostPath !== undefined) {
      const local = ctx.nodes.local(node, volume.hostPath.path);
      const type = volume.hostPath.type ?? '';
      const stat = await fs.stat(local).catch(() => undefined);
      if (stat === undefined) {
        if (type === 'DirectoryOrCreate' || type === '') await fs.mkdir(local, { recursive: true });
        else if (type === 'FileOrCreate') {
          await fs.mkdir(path.dirname(local), { recursive: true });
          await fs.writeFile(local, '', { flag: 'a' });
        } else
          throw new SednaError(
            'SEDNA_ERR_FILE_NOT_FOUND',
            `${what}: volume ${volume.name}: hostPath ${volume.hostPath.path} (type ${type}) does not exist on node ${node} ` +
              `(locally ${local}); map it with --node-path or sedna.local.yaml, or create it`,
            { details: { volume: volume.name, path: volume.hostPath.path, node } },
          );
      }
      folders.set(volume.name, local);
    } else if (volume.emptyDir !== undefined) {
      const local = path.join(podDir, 'volumes', volume.name);
      await fs.mkdir(local, { recursive: true });
      folders.set(volume.name, local);
    } else {
      const source = Object.keys(volume).find((k) => k !== 'name') ?? '(none)';
      throw unsupported(what, `volume ${volume.name} of type ${source} (hostPath and emptyDir are)`);
    }
  }
  return folders;
}

function fieldValue(
  fieldPath: string,
  pod: { name: string; namespace: string; node: string; podIp: string },
  hostIp: string,
): string {
  switch (fieldPath) {
    case 'metadata.name':
      return pod.name;
    case 'metadata.namespace':
      return pod.namespace;
    case 'spec.nodeName':
      return pod.node;
    case 'status.podIP':
      return pod.podIp;
    case 'status.hostIP':
      return hostIp;
    default:
      throw unsupported(`env valueFrom.fieldRef`, fieldPath);
  }
}

/** Builds the pod's processes: resolves storage, volumes, env and each container's program. */
export async function buildPod(req: WorkerRequest, ctx: WorkloadContext): Promise<PodLaunch> {
  const node = req.template.spec.nodeName ?? DEFAULT_NODE;
  const podName = `${req.job.name}-${req.workerType.toLowerCase()}-${randomSuffix()}`;
  const what = `${req.job.kind} ${req.job.name}, ${req.workerType} worker`;
  const podDir = path.join(ctx.runDir, 'pods', podName);
  if ((req.template.spec.initContainers ?? []).length > 0) throw unsupported(what, 'initContainers');
  const injected: Record<string, string> = {};
  let hostPathMounted = false;
  for (const mount of req.mounts ?? []) {
    const values: string[] = [];
    for (const url of mount.urls) {
      const mounted = await ctx.storage.mount({ ...url, node });
      values.push(mounted.value);
      hostPathMounted ||= mounted.hostPath;
      Object.assign(injected, mounted.env);
    }
    injected[mount.envName] = values.join(';');
  }
  const extraMounts: LocalMount[] = [];
  if (hostPathMounted) injected.DATA_PATH_PREFIX = ctx.nodes.root(node);
  if (req.hotUpdate !== undefined) {
    // GetModelHotUpdateConfigFile: /var/lib/sedna/model-hot-update/<ns>/<kind>/<name>/, mounted at /model-hot-update.
    const hostDir = path.posix
      .join('/var/lib/sedna/model-hot-update', req.job.namespace, req.job.kind, req.job.name)
      .toLowerCase();
    const local = ctx.nodes.local(node, hostDir);
    await fs.mkdir(local, { recursive: true });
    extraMounts.push({ mountPath: '/model-hot-update', local });
    injected.MODEL_HOT_UPDATE = 'true';
    injected.MODEL_POLL_PERIOD_SECONDS = String(req.hotUpdate.pollPeriodSeconds);
    injected.MODEL_HOT_UPDATE_CONFIG = path.join(local, 'model_config.json');
  }
  Object.assign(injected, req.env);

  const folders = await volumeFolders(req.template, node, podDir, ctx, what);
  const containers: ContainerLaunch[] = [];
  for (const container of req.template.spec.containers) {
    const cwhat = `${what}, container ${container.name}`;
    const mounts: LocalMount[] = [...extraMounts];
    for (const vm of container.volumeMounts ?? []) {
      const local = folders.get(vm.name);
      if (local === undefined)
        throw new SednaError(
          'SEDNA_ERR_INVALID_RESOURCE',
          `${cwhat}: volumeMount ${vm.name} names no volume of the pod`,
        );
      mounts.push({ mountPath: vm.mountPath, local: vm.subPath === undefined ? local : path.join(local, vm.subPath) });
    }
    const image = container.image === undefined ? undefined : ctx.localMap.images.get(container.image);
    const env: Record<string, string> = {};
    for (const name of PASSED_ENV) if (ctx.baseEnv[name] !== undefined) env[name] = ctx.baseEnv[name];
    Object.assign(env, image?.config.env ?? {});
    Object.assign(env, req.network?.defaults ?? {});
    for (const e of container.env ?? []) {
      if (e.valueFrom === undefined) {
        let value = rewriteMountedPath(expandEnvReferences(e.value ?? '', env), mounts);
        for (const { from, to } of ctx.endpoints ?? []) value = rewriteEndpoint(value, from, to);
        env[e.name] = value;
        continue;
      }
      if (e.valueFrom.fieldRef !== undefined)
        env[e.name] = fieldValue(
          e.valueFrom.fieldRef.fieldPath,
          { name: podName, namespace: req.job.namespace, node, podIp: req.network?.podIp ?? ctx.hostIp },
          ctx.hostIp,
        );
      else if (e.valueFrom.secretKeyRef !== undefined) {
        const ref = e.valueFrom.secretKeyRef;
        const secret = ctx.secrets.find(
          (s) => s.metadata.name === ref.name && s.metadata.namespace === req.job.namespace,
        );
        const value = secret?.data[ref.key];
        if (value !== undefined) env[e.name] = value;
        else if (ref.optional !== true)
          throw new SednaError(
            'SEDNA_ERR_INVALID_RESOURCE',
            `${cwhat}: env ${e.name} refers to key ${ref.key} of Secret ${ref.name}, which is not in the given files`,
          );
      } else throw unsupported(`${cwhat}, env ${e.name}`, 'this valueFrom source');
    }
    // The local map's values for this job (a camera's address on this machine); node paths made local.
    for (const override of ctx.localMap.workers.filter((w) => w.job === req.job.name))
      for (const [name, value] of Object.entries(override.env))
        env[name] = value.startsWith('/') ? ctx.nodes.local(node, value) : value;
    const ownToken = env.SERVICE_TOKEN !== undefined || env.SERVICE_TOKEN_FILE !== undefined;
    if (req.serviceTokenFile !== undefined && !ownToken) env.SERVICE_TOKEN_FILE = req.serviceTokenFile;
    Object.assign(env, injected);
    if (req.network !== undefined) {
      Object.assign(env, req.network.resolver.env);
      env.NODE_OPTIONS = [env.NODE_OPTIONS, req.network.resolver.nodeOptions].filter((o) => o).join(' ');
    }

    const entrypoint = image?.config.entrypoint ?? [];
    const cmd = image?.config.cmd ?? [];
    const argv =
      container.command !== undefined && container.command.length > 0
        ? [...container.command, ...(container.args ?? [])]
        : [...entrypoint, ...(container.args ?? cmd)];
    if (argv.length === 0) {
      const imageHint =
        container.image === undefined
          ? 'it names no image'
          : image === undefined
            ? `its image ${container.image} is not mapped to a Dockerfile (sedna.local.yaml or --image ${container.image}=path/to/Dockerfile)`
            : `the Dockerfile of ${container.image} has no ENTRYPOINT or CMD`;
      throw new SednaError(
        'SEDNA_ERR_WORKER_COMMAND',
        `${cwhat}: no command to run: the template has no command/args and ${imageHint}`,
        {
          details: { container: container.name, image: container.image },
        },
      );
    }
    const expanded = argv.map((a) => rewriteMountedPath(expandEnvReferences(a, env), mounts));
    const cwd =
      container.workingDir !== undefined
        ? rewriteMountedPath(container.workingDir, mounts)
        : (image?.context ?? ctx.cwd);
    const program = expanded[0] ?? '';
    const resolved = program === 'node' ? process.execPath : await findProgram(program, cwd, env.PATH);
    if (resolved === undefined)
      throw new SednaError(
        'SEDNA_ERR_WORKER_COMMAND',
        `${cwhat}: program ${JSON.stringify(program)} not found (${program.includes('/') ? `in ${cwd}` : 'on PATH'})`,
        { details: { container: container.name, program } },
      );
    containers.push({ name: container.name, argv: [resolved, ...expanded.slice(1)], cwd, env });
  }
  return {
    name: podName,
    workerName: req.env.WORKER_NAME ?? podName,
    role: req.role ?? req.workerType,
    node,
    restartPolicy: req.template.spec.restartPolicy ?? req.restartPolicy ?? 'Always',
    containers,
  };
}
