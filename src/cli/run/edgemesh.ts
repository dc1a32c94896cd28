/**
 * The local stand-in for a cluster's pod network and edgemesh, for the job kinds whose workers find
 * each other through Service names (multi-edge inference; docs/sedna-run.md):
 *
 * - each such pod gets an address of its own on the loopback network (`127.a.b.n`, Linux routes
 *   all of 127.0.0.0/8 to lo), so two pods can both listen on Sedna's fixed port (two detection
 *   workers on 4000) as they do on two nodes; its server binds it (the `*_MODEL_BIND_URL` the pod
 *   gets as a default, which the template can still set), as a pod's server binds the pod IP;
 * - each Service the GlobalManager would create (`<name>-<worker type>` and its `.namespace`,
 *   `.svc`, `.svc.cluster.local` forms) resolves to its pod's address in the workers' Node
 *   (mesh-resolver.ts, loaded with NODE_OPTIONS), as edgemesh's DNS does.
 *
 * Where the loopback range is not usable (not Linux), pods share the host's address, and two
 * workers that listen on the same port cannot run together: the timeline says so.
 */
import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SednaError } from '../../common/errors.js';
import { builtFile } from './built-file.js';
import type { PodNetwork } from './workload.js';

/** Whether this host can bind `ip` (a loopback alias). */
function canBind(ip: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => {
      resolve(false);
    });
    probe.listen({ host: ip, port: 0 }, () =>
      probe.close(() => {
        resolve(true);
      }),
    );
  });
}

/** `a.b` of the `127.a.b.0/24` range for `seed`. */
function rangeOf(seed: number): string {
  return `${1 + (Math.floor(seed / 256) % 254)}.${seed % 256}`;
}

/**
 * The `a.b` of every 127.a.b.0/24 range where a TCP socket listens now (Linux's /proc/net/tcp;
 * empty where that cannot be read).
 */
async function listeningLoopbackRanges(): Promise<Set<string>> {
  const ranges = new Set<string>();
  let table: string;
  try {
    table = await fs.readFile('/proc/net/tcp', 'utf8');
  } catch {
    return ranges;
  }
  for (const line of table.split('\n').slice(1)) {
    // "  sl  local_address rem_address   st ...": the address is little-endian hex, 0A is LISTEN.
    const [, local, , state] = line.trim().split(/\s+/);
    if (state !== '0A' || local === undefined) continue;
    const ip = Number.parseInt(local.split(':')[0] ?? '', 16);
    if (Number.isNaN(ip) || (ip & 0xff) !== 127) continue;
    ranges.add(`${(ip >>> 8) & 0xff}.${(ip >>> 16) & 0xff}`);
  }
  return ranges;
}

export class LocalMesh {
  private next = 1;
  private readonly hosts: Record<string, string> = {};
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    /** The JSON table the workers' resolver reads. */
    readonly file: string,
    /** `127.a.b.` when pods get their own loopback address, else undefined (they share the host's). */
    private readonly prefix: string | undefined,
    private readonly hostIp: string,
  ) {}

  /**
   * A mesh for one run. `seed` (the runner's pid) spreads concurrent runs over 127.0.0.0/8; a
   * range where some process already listens (a worker of an earlier run that had the same pid,
   * or anything else) is skipped for a random one, so a pod never finds its fixed port taken.
   */
  static async create(runDir: string, hostIp: string, seed: number): Promise<LocalMesh> {
    const busy = await listeningLoopbackRanges();
    let pick = seed;
    for (let attempt = 0; attempt < 64 && busy.has(rangeOf(pick)); attempt++) pick = randomInt(0, 254 * 256);
    const prefix = `127.${rangeOf(pick)}.`;
    const usable = await canBind(`${prefix}1`);
    const mesh = new LocalMesh(path.join(runDir, 'mesh-hosts.json'), usable ? prefix : undefined, hostIp);
    await mesh.write();
    return mesh;
  }

  /** Whether pods share the host's address (no loopback range here). */
  get shared(): boolean {
    return this.prefix === undefined;
  }

  /** The next pod's address. */
  podIp(): string {
    if (this.prefix === undefined) return this.hostIp;
    if (this.next > 254) throw new SednaError('SEDNA_ERR_INVALID_RESOURCE', 'more than 254 meshed pods in one run');
    return `${this.prefix}${this.next++}`;
  }

  /** Makes the Service `name` in `namespace` resolve to `ip` in every meshed worker. */
  addService(namespace: string, name: string, ip: string): Promise<void> {
    const service = name.toLowerCase();
    const forms = ['', `.${namespace}`, `.${namespace}.svc`, `.${namespace}.svc.cluster.local`];
    for (const suffix of forms) this.hosts[`${service}${suffix}`] = ip;
    return this.write();
  }

  /** The network of a pod at `podIp`: its server's bind variable defaults to its address. */
  network(podIp: string, bindVariables: readonly string[]): PodNetwork {
    return {
      podIp,
      defaults: Object.fromEntries(bindVariables.map((v) => [v, podIp])),
      resolver: {
        nodeOptions: `--import=${pathToFileURL(builtFile('mesh-resolver.js')).href}`,
        env: { SEDNA_RUN_MESH_HOSTS: this.file },
      },
    };
  }

  private write(): Promise<void> {
    const text = JSON.stringify(this.hosts, null, 1);
    this.writing = this.writing.then(async () => {
      const tmp = `${this.file}.${process.pid}.tmp`;
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      await fs.writeFile(tmp, text);
      await fs.rename(tmp, this.file);
    });
    return this.writing;
  }
}
