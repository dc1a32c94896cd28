/**
 * What incremental and lifelong learning share (Sedna's GM state machines for both, and the LC's
 * managers): a train → eval → deploy cycle on the job's Dataset. The LC reads the Dataset every
 * check period and splits new samples by `trainProb`; the train trigger (num_of_samples and the
 * timer window) starts a round: its samples are written to `<outputDir>/data/train/<round>/` and
 * the kind starts its train worker. A train or eval worker that fails, or exits without its
 * `completed` report, fails the stage, and the job goes back to train/waiting, as in Sedna.
 * Each kind (incremental-learning.ts, lifelong-learning.ts) says how a stage starts and ends.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { messageOf } from '../../../common/errors.js';
import { schemeOf } from '../../../datasources/file-ops.js';
import type { ForwardedMessage } from '../../../testing/lc-emulator.js';
import { at, type JobRuntime, type WorkerHandle } from '../job-kind.js';
import { SampleSplitter, readDatasetSamples, writeRoundSamples } from '../lc-dataset.js';
import type { DatasetSpec, SednaResource } from '../resources.js';
import type { CycleRow } from '../status.js';
import { describeTrigger, triggerFires, type TriggerSpec } from '../triggers.js';
import { randomSuffix, type WorkerMount } from '../workload.js';

/** Sedna's JobIterationIntervalSeconds and DatasetHandlerIntervalSeconds. */
export const LC_PERIOD_SECONDS = 10;

export type Stage = 'train' | 'eval' | 'deploy';
export type Condition = 'waiting' | 'ready' | 'starting' | 'running' | 'completed' | 'failed';

export interface ReportedModel {
  format: string;
  url: string;
  metrics?: Record<string, unknown>;
}

/** The models of a worker's report that have a URL. */
export function reportedModels(message: ForwardedMessage): ReportedModel[] {
  const list = message.content.output.models ?? [];
  return list.filter((m): m is ReportedModel => typeof at(m, 'url') === 'string');
}

/** A report's metrics as lists of numbers (Sedna's metrics are lists, one value per class). */
export function metricLists(metrics: Record<string, unknown> | undefined): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(metrics ?? {})) {
    const list = Array.isArray(v) ? v : [v];
    if (list.every((x) => typeof x === 'number')) out[k] = list;
  }
  return out;
}

/** Copies a model file (atomically for its reader) or folder. */
export async function copyModel(src: string, dst: string): Promise<void> {
  await fs.mkdir(path.dirname(dst), { recursive: true });
  const stat = await fs.stat(src);
  if (stat.isDirectory()) {
    await fs.cp(src, dst, { recursive: true, force: true });
    return;
  }
  // Atomic for the reader: the inference worker never loads half a model.
  await fs.copyFile(src, `${dst}.tmp`);
  await fs.rename(`${dst}.tmp`, dst);
}

export interface StagedSettings {
  readonly kind: 'incrementallearningjob' | 'lifelonglearningjob';
  readonly dataset: SednaResource<DatasetSpec>;
  readonly trainProb: number;
  readonly trigger: TriggerSpec;
  /** The job's `outputDir` (a node path). */
  readonly outputDir: string;
  /** The node the LC reads the Dataset on. */
  readonly lcNode: string;
}

export abstract class StagedLearningController {
  protected stage: Stage = 'train';
  protected condition: Condition = 'waiting';
  protected rounds = 0;
  protected readonly samples: SampleSplitter;
  protected stageWorker: WorkerHandle | undefined;
  protected cycle: CycleRow | undefined;
  private busy = false;
  protected readonly lcNode: string;
  /** The output folder on this machine. */
  protected readonly outputDir: string;

  constructor(
    protected readonly rt: JobRuntime,
    protected readonly settings: StagedSettings,
  ) {
    this.samples = new SampleSplitter(settings.trainProb);
    this.lcNode = settings.lcNode;
    this.outputDir = rt.nodes.local(this.lcNode, settings.outputDir);
  }

  protected get jobRef() {
    return { name: this.rt.job.metadata.name, namespace: this.rt.job.metadata.namespace, kind: this.settings.kind };
  }

  protected baseEnv(prefix: string): Record<string, string> {
    return {
      NAMESPACE: this.rt.job.metadata.namespace,
      JOB_NAME: this.rt.job.metadata.name,
      WORKER_NAME: `${prefix}-${randomSuffix()}`,
      LC_SERVER: this.rt.lcServer,
    };
  }

  /** The output folders, the LC's insert. */
  protected async prepare(): Promise<void> {
    for (const dir of ['data/train', 'data/eval', 'train', 'eval'])
      await fs.mkdir(path.join(this.outputDir, dir), { recursive: true });
    this.rt.insertIntoLc(this.settings.kind);
  }

  /** Starts the LC's loop (train/waiting first). */
  protected async loop(): Promise<void> {
    this.rt.setFact('train trigger', describeTrigger(this.settings.trigger));
    this.setCondition('train', 'waiting');
    const period = this.rt.periodMs(this.settings.trigger.checkPeriodSeconds ?? LC_PERIOD_SECONDS);
    this.rt.every(period, () => this.step());
    await this.step();
  }

  protected setCondition(stage: Stage, condition: Condition): void {
    if (this.stage === stage && this.condition === condition) return;
    this.stage = stage;
    this.condition = condition;
    const cycle = this.rounds === 0 ? '' : `cycle ${this.rounds}: `;
    this.rt.setStage(`${cycle}${stage}/${condition}`);
    this.rt.log(`${stage} ${condition}`, 'info', 'gm');
  }

  /** The LC's loop: read the dataset, then whatever the current stage waits for. */
  async step(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.readDataset();
      if (this.condition !== 'waiting') return;
      if (this.stage === 'train') await this.maybeTrain();
      else if (this.stage === 'eval') await this.startEval();
      else await this.deploy();
    } catch (err) {
      this.rt.log(`${this.stage} stage: ${messageOf(err)}`, 'error', 'lc');
      this.fail(messageOf(err));
    } finally {
      this.busy = false;
    }
  }

  private async readDataset(): Promise<void> {
    const dataset = this.settings.dataset;
    if (schemeOf(dataset.spec.url) !== 'file') return;
    const file = this.rt.nodes.local(dataset.spec.nodeName ?? this.lcNode, dataset.spec.url);
    const current = await readDatasetSamples(file, dataset.spec.format).catch((err: unknown) => {
      this.rt.setFact('dataset', `unreadable: ${messageOf(err)}`);
      return undefined;
    });
    if (current === undefined) return;
    const fresh = this.samples.update(current);
    if (fresh > 0)
      this.rt.log(
        `dataset ${dataset.metadata.name}: ${fresh} new samples (${current.samples.length} in all)`,
        'info',
        'lc',
      );
    this.rt.setFact(
      'samples',
      `${current.samples.length} in the dataset; waiting for training ${this.samples.train.length}, for eval ${this.samples.evalSamples().length}`,
    );
  }

  private async maybeTrain(): Promise<void> {
    const stats = { num_of_samples: this.samples.train.length };
    if (!triggerFires(this.settings.trigger, stats)) return;
    this.rounds += 1;
    const round = this.rounds;
    const trainSamples = this.samples.consumeTrain();
    const dataFile = await writeRoundSamples(
      path.join(this.outputDir, 'data', 'train'),
      round,
      trainSamples,
      this.samples.header,
    );
    this.cycle = { cycle: round, trainSamples: trainSamples.length, evalSamples: 0 };
    this.rt.state.charts.cycles.push(this.cycle);
    this.rt.log(
      `train trigger fired: num_of_samples ${trainSamples.length} (${describeTrigger(this.settings.trigger)}); round ${round}`,
      'info',
      'lc',
    );
    this.setCondition('train', 'ready');
    this.stageWorker = await this.startTrain(round, this.nodePath(dataFile));
    this.setCondition('train', 'running');
    this.watchStageWorker(this.stageWorker, 'train');
  }

  /** Writes this round's eval samples; their node path. */
  protected async writeEvalSamples(): Promise<string> {
    const evalSamples = this.samples.evalSamples();
    const dataFile = await writeRoundSamples(
      path.join(this.outputDir, 'data', 'eval'),
      this.rounds,
      evalSamples,
      this.samples.header,
    );
    if (this.cycle !== undefined) this.cycle.evalSamples = evalSamples.length;
    return this.nodePath(dataFile);
  }

  /** Starts the round's train worker on the samples at `dataNodePath`. */
  protected abstract startTrain(round: number, dataNodePath: string): Promise<WorkerHandle>;
  /** Starts the eval worker (or fails the stage); sets the condition. */
  protected abstract startEval(): Promise<void>;
  /** Deploys (or decides not to); sets the condition. */
  protected abstract deploy(): Promise<void>;

  /** The Dataset itself, which the GM gives the train and eval workers as ORIGINAL_DATASET_URL. */
  protected originalDatasetMount(): WorkerMount {
    const dataset = this.settings.dataset;
    return {
      envName: 'ORIGINAL_DATASET_URL',
      urls: [{ url: dataset.spec.url, access: 'read', download: true, what: `Dataset ${dataset.metadata.name}` }],
    };
  }

  protected nodePath(local: string): string {
    return this.rt.nodes.nodePathOf(this.lcNode, local) ?? local;
  }

  /** A train/eval worker that ends without its `completed` report fails the stage. */
  protected watchStageWorker(worker: WorkerHandle, stage: Stage): void {
    void worker.done.then((phase) => {
      if (this.stageWorker !== worker || this.stage !== stage || this.condition === 'completed') return;
      if (this.condition === 'failed') return;
      this.fail(
        phase === 'Failed'
          ? (worker.failure ?? `the ${stage} worker failed`)
          : `the ${stage} worker exited without reporting "${stage} completed"`,
      );
    });
  }

  protected fail(why: string): void {
    const stage = this.stage;
    this.setCondition(stage, 'failed');
    if (this.cycle !== undefined && this.cycle.outcome === undefined)
      this.cycle.outcome = `${stage} failed: ${why.split('\n')[0] ?? why}`;
    this.rt.log(`${stage} failed: ${why}`, 'error', 'gm');
    const worker = this.stageWorker;
    this.stageWorker = undefined;
    if (worker !== undefined && worker.phase === 'Running') void worker.stop();
    // Sedna's GM: a failed stage goes back to train/waiting.
    this.setCondition('train', 'waiting');
  }

  /** Whether a report is the current stage worker's, about `stage`. */
  private fromStageWorker(message: ForwardedMessage, worker: string, stage: Stage): boolean {
    return message.content.phase === stage && this.stage === stage && worker === this.stageWorker?.state.workerName;
  }

  /** The train worker's models (its `train completed` report). */
  protected abstract trained(models: ReportedModel[]): void;
  /** The eval worker's models (its `eval completed` report). */
  protected abstract evaluated(models: ReportedModel[]): void;

  /**
   * The stage workers' reports: `completed` moves to the next stage (at once, not at the next
   * check period), `failed` fails the stage. Returns false for a report this does not handle.
   */
  protected onStageReport(message: ForwardedMessage, worker: string): boolean {
    const { status } = message.content;
    for (const [stage, next] of [
      ['train', 'eval'],
      ['eval', 'deploy'],
    ] as const) {
      if (!this.fromStageWorker(message, worker, stage)) continue;
      if (status === 'completed') {
        const models = reportedModels(message);
        if (stage === 'train') {
          if (this.cycle !== undefined) {
            this.cycle.trainedAt = new Date().toISOString();
            const m = metricLists(models[0]?.metrics);
            this.cycle.trainMetrics = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v[0] ?? Number.NaN]));
          }
          this.trained(models);
        } else this.evaluated(models);
        this.setCondition(stage, 'completed');
        this.setCondition(next, 'waiting');
        void this.step();
      } else if (status === 'failed') this.fail(`the ${stage} worker reported "${stage} failed"`);
      return true;
    }
    return false;
  }
}
