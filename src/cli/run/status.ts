/**
 * What a run knows about its jobs, kept in one place: the status page, `sedna status`, the live
 * terminal summary and the final report all read this model. Job-kind modules write to it through
 * their JobStatus.
 */
import { EventEmitter } from 'node:events';
import type { PodPhase } from './processes.js';

export type JobPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Stopped';

export interface WorkerState {
  pod: string;
  workerName: string;
  role: string;
  node: string;
  phase: PodPhase;
  restarts: number;
  pids: number[];
  startedAt: string;
  endedAt?: string;
  exitCode?: number | null;
  /** The last LC report of this worker: `kind/status` and when. */
  lastReport?: { kind: string; status: string; at: string };
  failure?: string;
}

export interface TimelineEvent {
  t: string;
  job: string;
  source: 'gm' | 'lc' | 'worker' | 'runner';
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** A progress bar: a worker's (or the runner's) long piece of work. */
export interface ProgressState {
  key: string;
  job: string;
  worker: string;
  task: string;
  done: number;
  total: number | null;
  unit: string;
  updatedAt: string;
}

/** Federated learning: one point per round reported by the trainers. */
export interface FlRoundPoint {
  round: number;
  t: string;
  loss?: number;
  accuracy?: number;
  samples?: number;
}

/** Joint inference: the edge's cumulative counters at each periodic report. */
export interface JiPoint {
  t: string;
  worker: string;
  inferenceNumber: number;
  hardExampleNumber: number;
  ratio: number;
}

/** Incremental / lifelong learning: one row per train-eval-deploy cycle. */
export interface CycleRow {
  cycle: number;
  trainSamples: number;
  evalSamples: number;
  trainedAt?: string;
  trainMetrics?: Record<string, number>;
  /** Eval metrics of the new model and the deployed one, as the LC reads them (lists). */
  newMetrics?: Record<string, number[]>;
  oldMetrics?: Record<string, number[]>;
  deltas?: Record<string, number[]>;
  /** The deploy trigger and its verdict. */
  trigger?: string;
  deployed?: boolean;
  deployedAt?: string;
  outcome?: string;
}

export interface JobState {
  kind: string;
  namespace: string;
  name: string;
  phase: JobPhase;
  reason?: string;
  startedAt: string;
  endedAt?: string;
  /** The state machine's position, e.g. `train/waiting` for IL, `round 3 of 5` for FL. */
  stage: string;
  /** Short facts for the summary: `samples: 48 train, 12 eval`, `trigger: num_of_samples > 200`. */
  facts: Record<string, string>;
  workers: WorkerState[];
  reports: number;
  charts: { fl: FlRoundPoint[]; ji: JiPoint[]; cycles: CycleRow[] };
}

export interface RunSnapshot {
  version: string;
  pid: number;
  startedAt: string;
  files: string[];
  stateDir: string;
  lcServer: string;
  ui: string | undefined;
  jobs: JobState[];
  timeline: TimelineEvent[];
  progress: ProgressState[];
}

interface StoreEvents {
  change: [];
  event: [event: TimelineEvent];
}

const TIMELINE_LIMIT = 500;

export class StatusStore extends EventEmitter<StoreEvents> {
  readonly jobs: JobState[] = [];
  readonly timeline: TimelineEvent[] = [];
  readonly progress = new Map<string, ProgressState>();
  ui: string | undefined;
  lcServer = '';
  private pending: NodeJS.Timeout | undefined;

  constructor(readonly meta: { version: string; files: string[]; stateDir: string; startedAt: string }) {
    super();
    this.setMaxListeners(100);
  }

  addJob(kind: string, namespace: string, name: string): JobState {
    const job: JobState = {
      kind,
      namespace,
      name,
      phase: 'Pending',
      startedAt: new Date().toISOString(),
      stage: 'starting',
      facts: {},
      workers: [],
      reports: 0,
      charts: { fl: [], ji: [], cycles: [] },
    };
    this.jobs.push(job);
    this.changed();
    return job;
  }

  log(job: string, source: TimelineEvent['source'], message: string, level: TimelineEvent['level'] = 'info'): void {
    const event: TimelineEvent = { t: new Date().toISOString(), job, source, level, message };
    this.timeline.push(event);
    if (this.timeline.length > TIMELINE_LIMIT) this.timeline.shift();
    this.emit('event', event);
    this.changed();
  }

  setProgress(p: ProgressState): void {
    if (p.total !== null && p.done >= p.total) this.progress.delete(p.key);
    else this.progress.set(p.key, p);
    this.changed();
  }

  /** Coalesces changes: listeners hear at most one `change` per 100 ms. */
  changed(): void {
    if (this.pending !== undefined) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.emit('change');
    }, 100);
    this.pending.unref();
  }

  snapshot(): RunSnapshot {
    return {
      version: this.meta.version,
      pid: process.pid,
      startedAt: this.meta.startedAt,
      files: this.meta.files,
      stateDir: this.meta.stateDir,
      lcServer: this.lcServer,
      ui: this.ui,
      jobs: structuredClone(this.jobs),
      timeline: this.timeline.slice(-200),
      progress: [...this.progress.values()],
    };
  }
}
