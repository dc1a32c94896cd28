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

  /** A mesh for one run; `seed` (the runner's pid) spreads concurrent runs over 127.0.0.0/8. */
  static async create(runDir: string, hostIp: string, seed: number): Promise<LocalMesh> {
    const a = 1 + (Math.floor(seed / 256) % 254);
    const b = seed % 256;
    const prefix = `127.${a}.${b}.`;
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
