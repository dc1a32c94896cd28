/**
 * `sedna run`'s local control plane, in one process: the LocalController's worker API (the SDK's
 * LC emulator, answering exactly as the real LC), the GlobalManager's job controllers (one
 * job-kind module per Sedna kind, kinds/), the storage initializer, and the workers as local
 * processes (processes.ts), with the run's status (status.ts) for the terminal, `sedna status` and
 * the status page.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { primaryHostIp } from '../../common/host-ip.js';
import { readSharedToken } from '../../common/shared-token.js';
import { SednaError, messageOf } from '../../common/errors.js';
import { VERSION } from '../../common/version.js';
import { LCEmulator, type ForwardedMessage, type RecordedReport } from '../../testing/lc-emulator.js';
import { LocalMesh } from './edgemesh.js';
import { claimPort } from './port-claims.js';
import { type JobController, type JobRuntime, type WorkerHandle } from './job-kind.js';
import { jobKind, JOB_KINDS } from './kinds/index.js';
import { loadLocalMap, type LocalMap } from './local-map.js';
import { startLocalS3 } from './local-s3.js';
import { NodeFs } from './node-fs.js';
import { DEFAULT_RESTART, Pod, Reaper, type PodPhase, type RestartSettings } from './processes.js';
import { parseProgressLine } from './progress-lines.js';
import {
  invalidResources,
  loadResources,
  type LoadedResources,
  type ResourceProblem,
  type SednaResource,
} from './resources.js';
import { StatusStore, type JobState, type WorkerState } from './status.js';
import { StorageInitializer, secretCredentials, type S3Credentials } from './storage.js';
import { buildPod, type WorkerRequest, type WorkloadContext } from './workload.js';
import { acquireJobLock, processAlive, type JobLock } from './locks.js';

export interface RunOptions {
  readonly files: readonly string[];
  readonly cwd: string;
  /** The runner's own environment (PATH, HOME, the user's S3 credentials). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Default `<cwd>/.sedna`. */
  readonly stateDir?: string;
  readonly localFiles?: readonly string[];
  readonly imageFlags?: readonly string[];
  readonly nodePathFlags?: readonly string[];
  /** Overrides every trigger's check period (seconds). */
  readonly checkPeriodSeconds?: number;
  readonly restart?: Partial<RestartSettings>;
  /** How long a worker gets between SIGTERM and SIGKILL when the run stops (default 10 s). */
  readonly stopGraceMs?: number;
  /**
   * A random token per federated-learning job, given to its aggregator and trainers in a file
   * (AGG_TOKEN_FILE) unless a template sets its own (default true; false for Python trainers).
   */
  readonly flToken?: boolean;
  /**
   * One random token per run for the REST services (JointInferenceService, the multi-edge kinds,
   * LifelongLearningJob's KB), given to their workers in a file (SERVICE_TOKEN_FILE) unless a
   * worker's own environment sets one (default true; false for Python workers, which send none).
   */
  readonly serviceToken?: boolean;
  /** Called once the API server listens (the status page and `sedna status` use it). */
  readonly api?: (store: StatusStore, run: LocalRun) => Promise<string>;
}

export interface JobOutcome {
  kind: string;
  namespace: string;
  name: string;
  phase: JobState['phase'];
  reason: string | undefined;
}

export interface RunResult {
  readonly ok: boolean;
  readonly jobs: JobOutcome[];
}

/** Whether `port` can be bound on every interface right now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => {
      resolve(false);
    });
    probe.listen({ port, host: '0.0.0.0', exclusive: true }, () =>
      probe.close(() => {
        resolve(true);
      }),
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host: '0.0.0.0' }, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => {
        resolve(port);
      });
    });
  });
}

/** Resolves true once host:port accepts a connection, false at the deadline or when `gone()` says so. */
async function waitForPort(host: string, port: number, timeoutMs: number, gone: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !gone()) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        resolve(false);
      });
    });
    if (open) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

interface RunningJob {
  readonly resource: SednaResource;
  readonly state: JobState;
  readonly ownerKind: string;
  /** Its workers get the run's SERVICE_TOKEN_FILE (JobKindModule.restServices). */
  readonly restServices: boolean;
  readonly workers: Map<string, { pod: Pod; state: WorkerState }>;
  controller: JobController | undefined;
  readonly timers: NodeJS.Timeout[];
  settled: boolean;
}

export class LocalRun {
  readonly status: StatusStore;
  /** Resolves when every job has ended (a service only ends when stopped or failed). */
  readonly finished: Promise<RunResult>;
  private resolveFinished!: (result: RunResult) => void;
  private readonly jobs: RunningJob[] = [];
  private readonly abort = new AbortController();
  private lc!: LCEmulator;
  private reaper!: Reaper;
  private nodes!: NodeFs;
  private storage!: StorageInitializer;
  private localMap!: LocalMap;
  private mesh!: LocalMesh;
  private meshWarned = false;
  private loaded!: LoadedResources;
  /** The local map's S3 server: the cluster endpoint it stands for and its own. */
  private endpoints: { from: string; to: string }[] = [];
  private readonly locks: JobLock[] = [];
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  private stopping: Promise<RunResult> | undefined;
  private apiUrl: string | undefined;
  private serviceTokenFile: Promise<string | undefined> | undefined;
  readonly hostIp = primaryHostIp();
  readonly stateDir: string;
  readonly runDir: string;
  private readonly restart: RestartSettings;

  private constructor(private readonly options: RunOptions) {
    this.stateDir = path.resolve(options.cwd, options.stateDir ?? '.sedna');
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    this.runDir = path.join(this.stateDir, 'runs', `${stamp}-${process.pid}`);
    this.restart = { ...DEFAULT_RESTART, ...options.restart };
    this.status = new StatusStore({
      version: VERSION,
      files: [...options.files],
      stateDir: this.stateDir,
      startedAt: new Date().toISOString(),
    });
    this.finished = new Promise((resolve) => {
      this.resolveFinished = resolve;
    });
  }

  /** Validates everything, then starts the control plane and the jobs. */
  static async start(options: RunOptions): Promise<LocalRun> {
    const run = new LocalRun(options);
    try {
      await run.boot();
    } catch (err) {
      // Workers a job started before another failed (a Dataset that cannot be read, say) stop too.
      await run.stop(`could not start: ${messageOf(err)}`);
      throw err;
    }
    return run;
  }

  get lcServer(): string {
    return this.lc.url;
  }

  get api(): string | undefined {
    return this.apiUrl;
  }

  /** The last log lines of a pod of this run. */
  logsOf(podName: string, lines = 200): { t: number; container: string; text: string }[] | undefined {
    for (const job of this.jobs) {
      const w = job.workers.get(podName);
      if (w !== undefined) return w.pod.lastLines(lines).map((l) => ({ t: l.t, container: l.container, text: l.text }));
    }
    return undefined;
  }

  private async boot(): Promise<void> {
    this.loaded = await loadResources(this.options.files, this.options.cwd);
    for (const w of this.loaded.warnings) this.status.log('run', 'runner', w, 'warn');
    const jobs = this.loaded.resources.filter((r) => r.kind !== 'Dataset' && r.kind !== 'Model');
    const problems: ResourceProblem[] = [];
    for (const job of jobs) {
      const module = jobKind(job.kind);
      if (module === undefined) {
        problems.push({
          source: job.source,
          subject: `${job.kind} ${job.metadata.name}`,
          path: 'kind',
          rule: 'supported',
          message: `sedna run does not run ${job.kind} jobs yet (it runs ${JOB_KINDS.map((k) => k.kind).join(', ')})`,
        });
        continue;
      }
      for (const ref of module.references(job)) {
        const found = this.loaded.resources.some(
          (r) => r.kind === ref.kind && r.metadata.name === ref.name && r.metadata.namespace === job.metadata.namespace,
        );
        if (!found)
          problems.push({
            source: job.source,
            subject: `${job.kind} ${job.metadata.name}`,
            path: ref.path
              .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
              .join('')
              .slice(1)
              .replace(/\.\[/g, '['),
            rule: 'reference',
            message: `${ref.kind} ${JSON.stringify(ref.name)} is not defined in namespace ${job.metadata.namespace} of the given files`,
          });
      }
    }
    if (problems.length > 0) throw invalidResources(problems);

    await fs.mkdir(this.runDir, { recursive: true });
    for (const job of jobs) this.locks.push(await acquireJobLock(this.stateDir, job, () => this.apiUrl));
    await pruneOldRuns(path.join(this.stateDir, 'runs'), 5);

    this.localMap = await loadLocalMap({
      jobFiles: this.options.files,
      ...(this.options.localFiles === undefined ? {} : { localFiles: this.options.localFiles }),
      ...(this.options.imageFlags === undefined ? {} : { imageFlags: this.options.imageFlags }),
      ...(this.options.nodePathFlags === undefined ? {} : { nodePathFlags: this.options.nodePathFlags }),
      cwd: this.options.cwd,
    });
    for (const f of this.localMap.files)
      this.status.log('run', 'runner', `local map: ${path.relative(this.options.cwd, f) || f}`);
    this.nodes = new NodeFs(this.stateDir, this.localMap);
    const userCreds: S3Credentials = {
      ...(this.options.env.S3_ENDPOINT_URL ? { endpoint: this.options.env.S3_ENDPOINT_URL } : {}),
      ...(this.options.env.ACCESS_KEY_ID ? { accessKeyId: this.options.env.ACCESS_KEY_ID } : {}),
      ...(this.options.env.SECRET_ACCESS_KEY ? { secretAccessKey: this.options.env.SECRET_ACCESS_KEY } : {}),
    };
    this.storage = new StorageInitializer(this.nodes, path.join(this.runDir, 'downloads'), userCreds, (url, local) => {
      this.status.log('run', 'runner', `downloaded ${url} → ${path.relative(this.options.cwd, local)}`);
    });
    this.cleanups.push(() => this.storage.close());
    this.mesh = await LocalMesh.create(this.runDir, this.hostIp, process.pid);
    this.reaper = Reaper.start();
    this.cleanups.push(() => {
      this.reaper.close();
    });
    this.lc = await LCEmulator.start({ host: '127.0.0.1' });
    this.cleanups.push(() => this.lc.close());
    this.status.lcServer = this.lc.url;
    this.lc.on('report', (report) => {
      this.onReport(report);
    });
    this.lc.on('forward', (message, report) => {
      this.onForward(message, report);
    });
    await this.startLocalS3();
    if (this.options.api !== undefined) this.apiUrl = await this.options.api(this.status, this);
    for (const lock of this.locks) await lock.update();

    for (const resource of jobs) {
      const module = jobKind(resource.kind);
      if (module === undefined) continue; // refused above
      const state = this.status.addJob(resource.kind, resource.metadata.namespace, resource.metadata.name);
      // What differs from the cluster shows in the job's summary, not only in the timeline.
      for (const e of this.endpoints) state.facts['object store'] = `${e.from} is the local S3 server ${e.to}`;
      const job: RunningJob = {
        resource,
        state,
        ownerKind: module.ownerKind,
        restServices: module.restServices === true,
        workers: new Map(),
        controller: undefined,
        timers: [],
        settled: false,
      };
      this.jobs.push(job);
      state.phase = 'Running';
      this.status.log(
        resource.metadata.name,
        'gm',
        `${resource.kind} ${resource.metadata.namespace}/${resource.metadata.name} created`,
      );
      job.controller = await module.start(this.runtime(job));
    }
  }

  /** The local map's `s3` server (local-s3.ts), before any job: its Secrets and endpoint for the workers. */
  private async startLocalS3(): Promise<void> {
    const spec = this.localMap.s3;
    if (spec === undefined) return;
    const from = path.relative(this.options.cwd, spec.from) || spec.from;
    for (const ref of spec.secrets) {
      const defined = this.loaded.secrets.find(
        (s) => s.metadata.name === ref.name && s.metadata.namespace === ref.namespace,
      );
      if (defined !== undefined)
        throw new SednaError(
          'SEDNA_ERR_INVALID_ARGUMENT',
          `${from}: s3.secrets names Secret ${ref.namespace}/${ref.name}, which ${defined.source.file} defines too: ` +
            'keep one of them (the local S3 server makes that Secret from its own keys)',
          { details: { secret: `${ref.namespace}/${ref.name}` } },
        );
    }
    this.status.log('run', 'runner', `local S3 server: starting ${spec.command.join(' ')} (${from})`);
    const s3 = await startLocalS3(spec, {
      env: this.workloadContext().baseEnv,
      reaper: this.reaper,
      logFile: path.join(this.runDir, 'logs', 'local-s3-server.log'),
    });
    this.cleanups.push(() => s3.stop(this.options.stopGraceMs ?? 10_000));
    this.endpoints.push({ from: spec.replaces, to: s3.endpoint });
    this.loaded.secrets.push(...s3.secrets);
    const secrets = s3.secrets.map((s) => `Secret ${s.metadata.namespace}/${s.metadata.name}`).join(', ');
    const made = secrets === '' ? '' : `; ${secrets} made from its keys`;
    this.status.log(
      'run',
      'runner',
      `local S3 server ${s3.endpoint} stands for ${spec.replaces} (template values naming it are rewritten)${made}`,
    );
  }

  private runtime(job: RunningJob): JobRuntime {
    const ns = job.resource.metadata.namespace;
    const byName = <T>(kind: 'Dataset' | 'Model', name: string): SednaResource<T> => {
      const found = this.loaded.resources.find(
        (r) => r.kind === kind && r.metadata.name === name && r.metadata.namespace === ns,
      );
      if (found === undefined)
        throw new SednaError('SEDNA_ERR_INVALID_RESOURCE', `${kind} ${name} is not defined in namespace ${ns}`);
      return found as unknown as SednaResource<T>;
    };
    const jobName = job.resource.metadata.name;
    const log = (
      message: string,
      level: 'info' | 'warn' | 'error' = 'info',
      source: 'gm' | 'lc' | 'runner' = 'gm',
    ): void => {
      this.status.log(jobName, source, message, level);
    };
    return {
      job: job.resource,
      state: job.state,
      nodes: this.nodes,
      lcServer: this.lc.url,
      hostIp: this.hostIp,
      signal: this.abort.signal,
      serviceToken: this.options.serviceToken !== false,
      dataset: (name) => byName('Dataset', name),
      model: (name) => byName('Model', name),
      credentials: (resource) => {
        const name = resource.spec.credentialName;
        if (name === undefined || name === '') return undefined;
        const secret = this.loaded.secrets.find((s) => s.metadata.name === name && s.metadata.namespace === ns);
        if (secret === undefined)
          throw new SednaError(
            'SEDNA_ERR_INVALID_RESOURCE',
            `${resource.kind} ${resource.metadata.name}: credentialName ${name} names no Secret in the given files`,
          );
        return secretCredentials(secret);
      },
      port: async (preferred, what) => {
        if (await portIsFree(preferred)) {
          const release = await claimPort(preferred);
          if (release !== undefined) {
            this.cleanups.push(release);
            return preferred;
          }
        }
        const port = await freePort();
        log(`port ${preferred} (Sedna's, for ${what}) is taken on this machine: using ${port}`, 'warn', 'runner');
        return port;
      },
      startWorker: async (request) => {
        const tokenFile = job.restServices ? await this.runServiceToken() : undefined;
        return this.startWorker(job, tokenFile === undefined ? request : { ...request, serviceTokenFile: tokenFile });
      },
      jobTokenFile: async () => {
        if (this.options.flToken === false) return undefined;
        return this.writeTokenFile(`${ns}.${jobName}.token`);
      },
      meshPod: (bindVariables) => {
        if (this.mesh.shared && !this.meshWarned) {
          this.meshWarned = true;
          log('no loopback range on this host: meshed pods share its address (and its ports)', 'warn', 'runner');
        }
        return this.mesh.network(this.mesh.podIp(), bindVariables);
      },
      addService: async (name, ip, port) => {
        await this.mesh.addService(ns, name, ip);
        log(`Service ${name}.${ns}:${port} → ${ip}:${port} (edgemesh)`);
      },
      log,
      setStage: (stage) => {
        job.state.stage = stage;
        this.status.changed();
      },
      setFact: (name, value) => {
        if (value === undefined) Reflect.deleteProperty(job.state.facts, name);
        else job.state.facts[name] = value;
        this.status.changed();
      },
      insertIntoLc: (kind) => {
        this.lc.insertJob(kind, ns, jobName);
      },
      periodMs: (seconds) => Math.max(50, (this.options.checkPeriodSeconds ?? seconds) * 1000),
      every: (ms, fn) => {
        const timer = setInterval(() => {
          Promise.resolve()
            .then(fn)
            .catch((err: unknown) => {
              log(messageOf(err), 'error', 'runner');
            });
        }, ms);
        job.timers.push(timer);
      },
      finish: (phase, reason) => {
        this.finishJob(job, phase, reason);
      },
    };
  }

  /** A fresh random token in `<run>/secrets/<name>` (folder 0700, file 0600). */
  private async writeTokenFile(name: string): Promise<string> {
    const file = path.join(this.runDir, 'secrets', name);
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await fs.writeFile(file, crypto.randomBytes(32).toString('base64url'), { mode: 0o600 });
    return file;
  }

  /** The run's REST token file, made once (undefined with `--no-service-token`). */
  private runServiceToken(): Promise<string | undefined> {
    this.serviceTokenFile ??= (async () => {
      if (this.options.serviceToken === false) return undefined;
      const file = await this.writeTokenFile('service.token');
      this.status.log(
        'run',
        'runner',
        'the REST services of this run take a per-run token (SERVICE_TOKEN_FILE for their workers)',
      );
      return file;
    })();
    return this.serviceTokenFile;
  }

  private workloadContext(): WorkloadContext {
    const baseEnv = Object.fromEntries(
      Object.entries(this.options.env).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    return {
      nodes: this.nodes,
      storage: this.storage,
      localMap: this.localMap,
      secrets: this.loaded.secrets,
      baseEnv,
      runDir: this.runDir,
      cwd: this.options.cwd,
      hostIp: this.hostIp,
      endpoints: this.endpoints,
    };
  }

  private async startWorker(job: RunningJob, request: WorkerRequest): Promise<WorkerHandle> {
    const ctx = this.workloadContext();
    const node = request.template.spec.nodeName ?? '';
    await this.nodes.prepare(node === '' ? 'local' : node, ctx.baseEnv, (line) => {
      this.status.log(job.state.name, 'runner', line);
    });
    const launch = await buildPod(request, ctx);
    const pod = new Pod(launch, this.reaper, path.join(this.runDir, 'logs'), this.restart);
    const state: WorkerState = {
      pod: launch.name,
      workerName: launch.workerName,
      role: launch.role,
      node: launch.node,
      phase: 'Pending',
      restarts: 0,
      pids: [],
      startedAt: new Date().toISOString(),
    };
    job.state.workers.push(state);
    job.workers.set(launch.name, { pod, state });
    const jobName = job.state.name;
    const done = new Promise<PodPhase>((resolve) => {
      pod.on('phase', (phase) => {
        state.phase = phase;
        if (phase === 'Succeeded' || phase === 'Failed' || phase === 'Stopped') {
          state.endedAt = new Date().toISOString();
          if (pod.failure !== undefined) state.failure = pod.failure;
          this.status.log(
            jobName,
            'runner',
            `${launch.role} worker ${launch.name} ${phase.toLowerCase()}`,
            phase === 'Failed' ? 'error' : 'info',
          );
          resolve(phase);
        }
        this.status.changed();
      });
    });
    pod.on('started', (container, pid) => {
      state.pids = pod.pids;
      this.status.log(
        jobName,
        'runner',
        `${launch.role} worker ${launch.name}: ${container} started (pid ${pid}, node ${launch.node})`,
      );
    });
    pod.on('exited', (container, code, signal, restartIn) => {
      state.pids = pod.pids;
      state.restarts = pod.restarts;
      state.exitCode = code;
      if (restartIn !== undefined)
        this.status.log(
          jobName,
          'runner',
          `${launch.name}: ${container} exited (${signal ?? `code ${code}`}); restarting in ${(restartIn / 1000).toFixed(1)} s`,
          'warn',
        );
      this.status.changed();
    });
    pod.on('log', (line) => {
      const progress = parseProgressLine(line.text);
      if (progress !== undefined)
        this.status.setProgress({
          key: `${launch.name}/${progress.task}`,
          job: jobName,
          worker: launch.workerName,
          ...progress,
          updatedAt: new Date().toISOString(),
        });
    });
    pod.start();
    this.status.log(
      jobName,
      'gm',
      `created the ${launch.role} worker ${launch.name} (WORKER_NAME=${launch.workerName})`,
    );
    return {
      state,
      get phase() {
        return pod.phase;
      },
      get failure() {
        return pod.failure;
      },
      done,
      serviceToken: podServiceToken(launch.containers[0]),
      waitForPort: (host, port, timeoutMs) =>
        waitForPort(
          host,
          port,
          timeoutMs,
          () => pod.phase === 'Failed' || pod.phase === 'Succeeded' || this.abort.signal.aborted,
        ),
      stop: () => pod.stop(this.options.stopGraceMs ?? 10_000),
    };
  }

  private jobOf(ownerKind: string, namespace: string, name: string): RunningJob | undefined {
    return this.jobs.find(
      (j) =>
        j.ownerKind === ownerKind && j.resource.metadata.namespace === namespace && j.resource.metadata.name === name,
    );
  }

  private onReport(report: RecordedReport): void {
    if (this.lc.reports.length > 2000) this.lc.clear(); // the emulator records everything; a run can be long
    const body = (report.body ?? {}) as Record<string, unknown>;
    const str = (v: unknown): string => (typeof v === 'string' ? v : '');
    const job = this.jobOf(str(body.ownerKind), str(body.namespace), str(body.ownerName));
    if (job === undefined) {
      this.status.log(
        'run',
        'lc',
        `report from ${report.worker} (${str(body.ownerKind) || 'no ownerKind'}/${str(body.ownerName)}): HTTP ${report.status}, not about a job of this run`,
        'warn',
      );
      return;
    }
    job.state.reports += 1;
    for (const { state } of job.workers.values())
      if (state.workerName === report.worker)
        state.lastReport = { kind: str(body.kind), status: str(body.status), at: report.receivedAt.toISOString() };
    this.status.changed();
  }

  private onForward(message: ForwardedMessage, report: RecordedReport): void {
    const job = this.jobs.find(
      (j) =>
        j.resource.metadata.namespace === message.header.namespace &&
        j.resource.metadata.name === message.header.resourceName &&
        (j.ownerKind === message.header.resourceKind || j.resource.kind === message.header.resourceKind),
    );
    if (job === undefined) return;
    const { phase, status } = message.content;
    // Periodic progress (running, or JI's status-less counters) would flood the timeline.
    if (status !== 'running' && status !== '')
      this.status.log(job.state.name, 'lc', `${report.worker}: ${phase} ${status}`);
    try {
      job.controller?.onUpstream?.(message, report.worker);
    } catch (err) {
      this.status.log(job.state.name, 'gm', messageOf(err), 'error');
    }
    this.status.changed();
  }

  private finishJob(job: RunningJob, phase: 'Succeeded' | 'Failed', reason: string): void {
    if (job.settled) return;
    job.settled = true;
    job.state.phase = phase;
    job.state.reason = reason;
    job.state.endedAt = new Date().toISOString();
    job.state.stage = phase === 'Succeeded' ? 'completed' : 'failed';
    this.status.log(
      job.state.name,
      'gm',
      `${job.resource.kind} ${job.state.name} ${phase.toLowerCase()}: ${reason}`,
      phase === 'Failed' ? 'error' : 'info',
    );
    for (const t of job.timers) clearInterval(t);
    if (phase === 'Failed') {
      // The job is over: its other workers stop too.
      for (const { pod } of job.workers.values())
        if (pod.phase === 'Running') void pod.stop(this.options.stopGraceMs ?? 10_000);
    }
    if (this.jobs.every((j) => j.settled)) this.resolveFinished(this.result());
  }

  private result(): RunResult {
    const jobs = this.jobs.map((j) => ({
      kind: j.state.kind,
      namespace: j.state.namespace,
      name: j.state.name,
      phase: j.state.phase,
      reason: j.state.reason,
    }));
    return { ok: jobs.every((j) => j.phase === 'Succeeded'), jobs };
  }

  /** Stops every worker (SIGTERM, then SIGKILL after the grace period) and the control plane. */
  stop(reason = 'stopped'): Promise<RunResult> {
    this.stopping ??= (async () => {
      this.abort.abort();
      for (const job of this.jobs) {
        for (const t of job.timers) clearInterval(t);
        job.controller?.stop?.();
        if (!job.settled) {
          job.settled = true;
          job.state.phase = 'Stopped';
          job.state.reason = reason;
          job.state.endedAt = new Date().toISOString();
          this.status.log(job.state.name, 'runner', `stopping: ${reason}`);
        }
      }
      // Jobs stop side by side; a job's workers in the reverse of their start order (a JI edge
      // before its cloud, FL trainers before the aggregator), so none sees the worker it calls
      // vanish while it finishes its last sample.
      await Promise.all(
        this.jobs.map(async (j) => {
          for (const { pod } of [...j.workers.values()].reverse()) await pod.stop(this.options.stopGraceMs ?? 10_000);
        }),
      );
      const result = this.result();
      await this.teardown();
      this.resolveFinished(result);
      return result;
    })();
    return this.stopping;
  }

  private async teardown(): Promise<void> {
    // What boot() made, last made first (boot may have stopped half way).
    for (const cleanup of this.cleanups.reverse())
      await Promise.resolve()
        .then(cleanup)
        .catch(() => {});
    this.cleanups.length = 0;
    const snapshot = this.status.snapshot();
    await fs.writeFile(path.join(this.runDir, 'status.json'), JSON.stringify(snapshot, null, 1)).catch(() => {});
    for (const lock of this.locks) await lock.release(snapshot).catch(() => {});
  }
}

/** The token a pod's REST server takes from its environment, as the SDK reads it (none if unreadable). */
function podServiceToken(
  container: { env: Readonly<Record<string, string>>; cwd: string } | undefined,
): string | undefined {
  if (container === undefined) return undefined;
  const { env, cwd } = container;
  const file = env.SERVICE_TOKEN_FILE === undefined ? undefined : path.resolve(cwd, env.SERVICE_TOKEN_FILE);
  try {
    return readSharedToken(env.SERVICE_TOKEN, file, {
      value: 'SERVICE_TOKEN',
      file: 'SERVICE_TOKEN_FILE',
    });
  } catch {
    return undefined; // the worker fails on it itself, with the coded error
  }
}

/** Keeps the `keep` newest run folders (logs, downloads, pod volumes), never one whose run is alive. */
async function pruneOldRuns(dir: string, keep: number): Promise<void> {
  const entries = (await fs.readdir(dir).catch(() => [] as string[])).sort();
  for (const old of entries.slice(0, Math.max(0, entries.length - keep))) {
    const pid = Number(/-(\d+)$/.exec(old)?.[1]);
    if (Number.isInteger(pid) && processAlive(pid)) continue;
    await fs.rm(path.join(dir, old), { recursive: true, force: true }).catch(() => {});
  }
}
