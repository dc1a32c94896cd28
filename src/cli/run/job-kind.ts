/**
 * The contract of a job-kind module: one small file per Sedna kind holding its GlobalManager state
 * machine and how its CRD maps to workers and their variables (spec §1.6). The runtime
 * (control-plane.ts) gives it a JobRuntime: start workers, resolve Datasets and Models, hear the
 * LC's upstream messages, write the job's status, finish the job.
 */
import type { ForwardedMessage } from '../../testing/lc-emulator.js';
import type { PodPhase } from './processes.js';
import type { DatasetSpec, ModelSpec, SednaResource } from './resources.js';
import type { JobState, WorkerState } from './status.js';
import type { S3Credentials } from './storage.js';
import type { NodeFs } from './node-fs.js';
import type { PodNetwork, WorkerRequest } from './workload.js';

/** A Dataset or Model the job names, and where (for the error when it is missing). */
export interface Reference {
  readonly kind: 'Dataset' | 'Model';
  readonly name: string;
  /** Field path in the job document, e.g. `spec.trainingWorkers[1].dataset.name`. */
  readonly path: readonly (string | number)[];
}

export interface WorkerHandle {
  readonly state: WorkerState;
  readonly phase: PodPhase;
  /** Resolves with the pod's final phase (Succeeded or Failed). */
  readonly done: Promise<PodPhase>;
  /** Why the pod failed, with its last log lines. */
  readonly failure: string | undefined;
  /**
   * The token the pod's REST server expects (SERVICE_TOKEN or the file SERVICE_TOKEN_FILE names, in
   * its first container's environment), for the runner's own calls to it; undefined when it has none.
   */
  readonly serviceToken: string | undefined;
  /** Resolves true once `host:port` accepts connections, false after `timeoutMs` or when the pod ends. */
  waitForPort(host: string, port: number, timeoutMs: number): Promise<boolean>;
  stop(): Promise<void>;
}

export interface JobRuntime {
  readonly job: SednaResource;
  readonly state: JobState;
  readonly nodes: NodeFs;
  /** `LC_SERVER` for the workers. */
  readonly lcServer: string;
  /** The address other workers reach a worker's server at (this host's primary IPv4). */
  readonly hostIp: string;
  /** Aborted when the run stops. */
  readonly signal: AbortSignal;
  dataset(name: string): SednaResource<DatasetSpec>;
  model(name: string): SednaResource<ModelSpec>;
  /** The S3 credentials of a resource's `credentialName` Secret, if it names one. */
  credentials(resource: SednaResource<{ credentialName?: string }>): S3Credentials | undefined;
  /** Sedna's fixed port if free on this host, else a free one (noted in the timeline). */
  port(preferred: number, what: string): Promise<number>;
  startWorker(request: WorkerRequest): Promise<WorkerHandle>;
  /** Whether the run gives its REST workers a token (SERVICE_TOKEN_FILE; not `--no-service-token`). */
  readonly serviceToken: boolean;
  /**
   * A file holding a fresh random token for this job (mode 0600, in the run folder), or undefined
   * when the run gives none (`--no-fl-token`).
   */
  jobTokenFile(): Promise<string | undefined>;
  /**
   * A pod address of its own on the local mesh (edgemesh.ts), for `startWorker`'s `network`: the
   * pod's server binds it through `bindVariables` (unless the template sets them).
   */
  meshPod(bindVariables: readonly string[]): PodNetwork;
  /** The GlobalManager's Service `name` (edgemesh): meshed workers resolve it to `ip`. */
  addService(name: string, ip: string, port: number): Promise<void>;
  /** A timeline entry for this job. */
  log(message: string, level?: 'info' | 'warn' | 'error', source?: 'gm' | 'lc' | 'runner'): void;
  setStage(stage: string): void;
  setFact(name: string, value: string | undefined): void;
  /** Makes the LC forward this job's IL/LL reports, as after the GM's insert. */
  insertIntoLc(kind: 'incrementallearningjob' | 'lifelonglearningjob'): void;
  /** A period from the job's own settings unless `--check-period` overrides it. */
  periodMs(seconds: number): number;
  /** Runs `fn` every `ms` until the run stops (errors are logged, not thrown). */
  every(ms: number, fn: () => Promise<void> | void): void;
  /** Ends the job: the run's result is the jobs' results. */
  finish(phase: 'Succeeded' | 'Failed', reason: string): void;
}

export interface JobController {
  /** A message the LC forwards to the GlobalManager about this job, and the reporting worker's name. */
  onUpstream?(message: ForwardedMessage, worker: string): void;
  stop?(): void;
}

export interface JobKindModule {
  /** The CRD kind, `JointInferenceService`. */
  readonly kind: string;
  /** The lower-case kind the LC routes by (`ownerKind` in reports), `jointinferenceservice`. */
  readonly ownerKind: string;
  /**
   * Its workers serve REST or call one (BigModelService, the multi-edge servers, the KB): each gets
   * the run's SERVICE_TOKEN_FILE (one token per run: resources of a run call each other across jobs)
   * unless `--no-service-token` or its own environment sets a token.
   */
  readonly restServices?: boolean;
  references(job: SednaResource): Reference[];
  start(runtime: JobRuntime): Promise<JobController>;
}

/** A Job's end: succeeded when every pod has, failed when one gives up. */
export function followJob(rt: JobRuntime, workers: readonly WorkerHandle[]): void {
  void Promise.all(
    workers.map(async (w) => {
      const phase = await w.done;
      if (phase === 'Failed') rt.finish('Failed', w.failure ?? `${w.state.pod} failed`);
      return phase;
    }),
  ).then((phases) => {
    if (phases.every((p) => p === 'Succeeded')) rt.finish('Succeeded', `all ${phases.length} workers completed`);
  });
}

/** A service's end: it only fails (a worker gave up); it runs until stopped. */
export function followService(rt: JobRuntime, workers: readonly WorkerHandle[]): void {
  for (const w of workers)
    void w.done.then((phase) => {
      if (phase === 'Failed') rt.finish('Failed', w.failure ?? `${w.state.pod} failed`);
    });
}

/** The value at a path of a loosely typed object (a report body), for the caller to check. */
export function at(value: unknown, ...keys: (string | number)[]): unknown {
  let v: unknown = value;
  for (const k of keys) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

/** Sedna's HEM_PARAMETERS: Go's json.Marshal of `[]ParaSpec` (`null` when absent). */
export function hemParameters(parameters: { key: string; value: string }[] | undefined): string {
  return JSON.stringify(parameters === undefined ? null : parameters.map(({ key, value }) => ({ key, value })));
}
