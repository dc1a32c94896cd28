/**
 * Containers for the image suite: each worker runs as `podman run` would start its pod (a read-only
 * root filesystem, the image's non-root user, the environment and hostPath-style volumes the
 * controller gives it), attached, so a test reads its stdout and stderr line by line; `podman stop`
 * sends SIGTERM and kills after the grace period, as Kubernetes does. Networks give containers the
 * Service names the controller creates (`--network-alias`).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { BuildResult } from '../../scripts/images/build.mjs';
import { ROOT, TEST_LABEL, engine, ociOk } from '../../scripts/images/oci.mjs';

export const SCRATCH = path.join(ROOT, 'test', '.scratch', 'images');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');
/** The uid:gid the images run as; writable volumes belong to it, as a hostPath must. */
export const IMAGE_USER = { uid: 1000, gid: 1000 };

const short = (): string => randomBytes(3).toString('hex');

/** What globalSetup built (test/images/global-setup.mjs). */
export function builds(): BuildResult[] {
  return JSON.parse(fs.readFileSync(path.join(SCRATCH, 'build.json'), 'utf8')) as BuildResult[];
}

/** The tag of a built image; throws with the build's log when it did not build. */
export function imageTag(name: string): string {
  const build = builds().find((b) => b.name === name);
  if (build === undefined) throw new Error(`no image ${name} in the catalog`);
  if (!build.ok) throw new Error(`${name} did not build:\n${build.log}`);
  return build.tag;
}

/** Records a start-to-ready time for the report table the suite's teardown prints. */
export function recordReady(image: string, ms: number): void {
  const file = path.join(SCRATCH, 'ready.json');
  const all = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, number>) : {};
  all[image] = Math.round(ms);
  fs.writeFileSync(file, JSON.stringify(all, null, 1));
}

/** Records a scenario's outcome (numbers a reader wants to see) for the table the suite's teardown prints. */
export function recordOutcome(scenario: string, outcome: Record<string, unknown>): void {
  const file = path.join(SCRATCH, 'outcomes.json');
  const all = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  all[scenario] = outcome;
  fs.writeFileSync(file, JSON.stringify(all, null, 1));
}

/** A temp folder for a volume; `writable` ones belong to the image's user, as a hostPath must. */
export function volumeDir(label: string, writable = false): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sedna-images-${label}-`));
  if (writable) fs.chownSync(dir, IMAGE_USER.uid, IMAGE_USER.gid);
  return dir;
}

/** Makes a folder tree writable for the image's user (files written by the test, read or changed by a worker). */
export function giveToImageUser(dir: string): void {
  fs.chownSync(dir, IMAGE_USER.uid, IMAGE_USER.gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) giveToImageUser(full);
    else fs.chownSync(full, IMAGE_USER.uid, IMAGE_USER.gid);
  }
}

export interface Volume {
  host: string;
  container: string;
  writable?: boolean;
}

export interface RunOptions {
  /** Catalog name (sedna-sdk-onnx, sedna-sdk-example-joint-inference-edge, ...). */
  image: string;
  /** Container name; a random one by default. */
  name?: string;
  network?: string;
  /** Service names (`--network-alias`). */
  aliases?: readonly string[];
  env?: Readonly<Record<string, string>>;
  volumes?: readonly Volume[];
  /** Container ports to publish on a random 127.0.0.1 port (see `hostPort`). */
  publish?: readonly number[];
  /** The command (the image's CMD by default). */
  args?: readonly string[];
}

type Stream = 'stdout' | 'stderr';

export class Container extends EventEmitter<{ line: [stream: Stream, line: string] }> {
  readonly name: string;
  readonly image: string;
  readonly startedAt = performance.now();
  readonly lines: Record<Stream, string[]> = { stdout: [], stderr: [] };
  /** The container's exit code (podman's own, 125-127, when it could not run it). */
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(options: RunOptions, env: NodeJS.ProcessEnv) {
    super();
    this.image = options.image;
    this.name = options.name ?? `sedna-test-${short()}`;
    const args = ['run', '--rm', '--name', this.name, '--label', TEST_LABEL];
    // Kubernetes' readOnlyRootFilesystem: no tmpfs either, a worker writes only to its volumes.
    args.push('--read-only', '--read-only-tmpfs=false');
    if (options.network !== undefined) args.push('--network', options.network);
    for (const alias of options.aliases ?? []) args.push('--network-alias', alias);
    for (const [key, value] of Object.entries(options.env ?? {})) args.push('-e', `${key}=${value}`);
    for (const v of options.volumes ?? [])
      args.push('-v', `${v.host}:${v.container}:${v.writable === true ? 'rw' : 'ro'}`);
    for (const port of options.publish ?? []) args.push('-p', `127.0.0.1::${port}`);
    args.push(imageTag(options.image), ...(options.args ?? []));
    const child = spawn('podman', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of ['stdout', 'stderr'] as const) {
      readline.createInterface({ input: child[stream] }).on('line', (line) => {
        this.lines[stream].push(line);
        this.emit('line', stream, line);
      });
    }
    this.exited = new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => {
        this.exitCode = code;
        resolve(code);
      });
    });
  }

  /** Starts a container (attached: its output streams to this process). */
  static async run(options: RunOptions): Promise<Container> {
    const { env } = await engine();
    return new Container(options, env);
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** The last lines of both streams, for failure messages. */
  output(lines = 30): string {
    const tail = (s: Stream) => this.lines[s].slice(-lines).join('\n');
    return `--- ${this.name} (${this.image}) stdout:\n${tail('stdout')}\n--- stderr:\n${tail('stderr')}`;
  }

  /** Resolves with the first line (past or future) that matches; rejects if the container exits or time runs out first. */
  waitForLine(stream: Stream, match: (line: string) => boolean, timeoutMs = 60_000): Promise<string> {
    const seen = this.lines[stream].find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.off('line', onLine);
      };
      const onLine = (s: Stream, line: string): void => {
        if (s !== stream || !match(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching ${stream} line within ${timeoutMs} ms\n${this.output()}`));
      }, timeoutMs);
      this.on('line', onLine);
      void this.exited.then((code) => {
        // Output that arrived with the exit is already in `lines`.
        const last = this.lines[stream].find(match);
        done();
        if (last !== undefined) resolve(last);
        else reject(new Error(`exited with ${code} before a matching ${stream} line\n${this.output()}`));
      });
    });
  }

  /** Resolves with the exit code; rejects when the container is still running after `timeoutMs`. */
  async waitForExit(timeoutMs = 120_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms\n${this.output()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The 127.0.0.1 port a published container port got. */
  async hostPort(containerPort: number): Promise<number> {
    const out = await ociOk(['port', this.name, `${containerPort}/tcp`]);
    return Number(out.trim().split('\n')[0]?.split(':').at(-1));
  }

  /** `podman stop -t <grace>`: SIGTERM, SIGKILL after the grace period. Resolves with the exit code and how long it took. */
  async stop(graceSeconds = 10): Promise<{ code: number | null; ms: number }> {
    const started = performance.now();
    if (this.running) await ociOk(['stop', '-t', String(graceSeconds), this.name]).catch(() => undefined);
    const code = await this.waitForExit((graceSeconds + 20) * 1000);
    return { code, ms: performance.now() - started };
  }

  /** Removes the container at once (cleanup after a failed test). */
  async kill(): Promise<void> {
    if (this.running) await ociOk(['rm', '-f', '-t', '0', this.name]).catch(() => undefined);
    await this.exited.catch(() => undefined);
  }
}

/** A user-defined network (Services resolve by name on it); `remove()` when done. */
export async function createNetwork(): Promise<{ name: string; remove(): Promise<void> }> {
  const name = `sedna-test-${short()}`;
  await ociOk(['network', 'create', '--label', TEST_LABEL, name]);
  return { name, remove: () => ociOk(['network', 'rm', '-f', name]).then(() => undefined) };
}

/** One line the LC emulator container prints per report it received (test/images/lc-emulator.mjs). */
export interface LcLine {
  event: 'report';
  worker: string;
  status: number;
  body: {
    name: string;
    namespace: string;
    ownerName: string;
    ownerKind: string;
    kind: string;
    status?: string;
    results?: { format?: string; url: string; metrics?: Record<string, number[]> }[];
    ownerInfo?: Record<string, unknown>;
  };
  /** What the real LC would forward to the GlobalManager (null: dropped). */
  forwarded: { content: { phase: string; status: string; output: Record<string, unknown> } } | null;
}

/** The LC emulator in a container on `network`, reachable as http://<alias>:9100 (what LC_SERVER names). */
export class LcContainer {
  static readonly ALIAS = 'sedna-lc';
  readonly url = `http://${LcContainer.ALIAS}:9100`;

  private constructor(readonly container: Container) {}

  static async start(network: string, knownJobs: readonly string[] = []): Promise<LcContainer> {
    const container = await Container.run({
      image: 'sedna-sdk-core',
      name: `sedna-test-lc-${short()}`,
      network,
      aliases: [LcContainer.ALIAS],
      env: { KNOWN_JOBS: knownJobs.join(','), LOG_LEVEL: 'warn' },
      volumes: [{ host: path.join(ROOT, 'test', 'images', 'lc-emulator.mjs'), container: '/app/lc-emulator.mjs' }],
      args: ['lc-emulator.mjs'],
    });
    await container.waitForLine('stdout', (l) => l.includes('"listening"'), 60_000);
    return new LcContainer(container);
  }

  reports(worker?: string): LcLine[] {
    return this.container.lines.stdout
      .filter((l) => l.startsWith('{"event":"report"'))
      .map((l) => JSON.parse(l) as LcLine)
      .filter((r) => worker === undefined || r.worker === worker);
  }

  /** Resolves once `predicate` holds for the reports received so far. */
  async waitFor(predicate: (reports: LcLine[]) => boolean, timeoutMs = 60_000): Promise<LcLine[]> {
    if (predicate(this.reports())) return this.reports();
    await this.container.waitForLine('stdout', () => predicate(this.reports()), timeoutMs);
    return this.reports();
  }

  stop(): Promise<{ code: number | null; ms: number }> {
    return this.container.stop(5);
  }
}

/** A short random suffix, as the controller gives worker names (`edgeworker-x1y2z`). */
export function workerName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex').slice(0, 5)}`;
}

/** A test file's stage: a network, the LC emulator on it, and the containers and folders to clean up. */
export interface Stage {
  /** The network's name (after beforeAll). */
  readonly network: string;
  /** The LC emulator container (after beforeAll; absent with `lc: false`). */
  readonly lc: LcContainer;
  /** Runs a container on the stage's network; removed after the file's tests. */
  run(options: RunOptions): Promise<Container>;
  /** A temp folder removed after the file's tests; `writable` ones belong to the image's user. */
  dir(label: string, writable?: boolean): string;
}

/** Sets up a stage in beforeAll and tears it down in afterAll (call at a test file's top level). */
export function stage(options: { lc?: boolean; knownJobs?: readonly string[] } = {}): Stage {
  let network: Awaited<ReturnType<typeof createNetwork>> | undefined;
  let lc: LcContainer | undefined;
  const containers: Container[] = [];
  const dirs: string[] = [];
  beforeAll(async () => {
    network = await createNetwork();
    if (options.lc !== false) lc = await LcContainer.start(network.name, options.knownJobs);
  });
  afterAll(async () => {
    for (const c of containers.reverse()) await c.kill();
    await lc?.stop();
    await network?.remove();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the stage has no ${what} (beforeAll failed or lc: false)`);
    return value;
  };
  return {
    get network() {
      return ready(network, 'network').name;
    },
    get lc() {
      return ready(lc, 'LC');
    },
    async run(runOptions) {
      const container = await Container.run({ network: ready(network, 'network').name, ...runOptions });
      containers.push(container);
      return container;
    },
    dir(label, writable = false) {
      const made = volumeDir(label, writable);
      dirs.push(made);
      return made;
    },
  };
}
