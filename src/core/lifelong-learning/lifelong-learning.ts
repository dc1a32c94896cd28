/**
 * Lifelong learning (Sedna's `LifelongLearning`, spec §5.4): one job class for the three workers
 * of a LifelongLearningJob.
 *
 * - train (cloud): splits the data into tasks, trains a model per task group (and a global model
 *   for rare groups), stores the models and the index in the knowledge base, and reports
 *   `kind: train` with the index as result `{format: "pkl", url: <OUTPUT_URL>/index.pkl}`.
 * - eval (cloud): scores each task group's model on test data, drops the groups whose scores meet
 *   the CRD's rule (`score <operator> model_threshold` for any score, Sedna's rule), tells the
 *   knowledge base (`update/status`, status 0) and reports `kind: eval` with the overall metrics.
 * - inference (edge): answers each sample with its task's model, flags samples of unseen tasks
 *   (UTD_NAME, default `TaskAttrFilter`) and saves them under UT_SAVED_URL; keeps a local copy of
 *   the index and models and hot-updates when the index changes (MODEL_POLL_PERIOD_SECONDS), with
 *   the incremental-learning guarantees: the new set of models is loaded beside the old one and
 *   swapped at once, every update is announced, a bad update keeps the old state.
 */
import path from 'node:path';
import '../../algorithms/multi-task-learning/index.js'; // registers the steps
import '../../algorithms/unseen-task-detect/index.js'; // registers the detectors
import {
  MultiTaskLearning,
  evaluateTasks,
  toTaskTable,
  type MultiTaskLearningOptions,
  type TaskPrediction,
  type TaskTable,
  type TaskTableInput,
  type TrainOutcome,
} from '../../algorithms/multi-task-learning/index.js';
import type { UnseenTaskDetector } from '../../algorithms/unseen-task-detect/index.js';
import { classificationMetric } from '../../backend/classification-metrics.js';
import type { Estimator, MetricFunction, Metrics, TrainOptions } from '../../backend/estimator.js';
import { ClassFactory, ClassType } from '../../common/class-factory.js';
import type { AlgorithmSpec, ComparisonOperator, SednaConfig } from '../../common/config.js';
import { K8sResourceKind } from '../../common/constants.js';
import { SednaError, invalidArgument, invalidConfig, isSednaError, messageOf } from '../../common/errors.js';
import { FileOps, removePathPrefix, schemeOf, toLocalPath, writeFileAtomic } from '../../datasources/file-ops.js';
import {
  KB_INDEX_FORMAT,
  KB_INDEX_NAME,
  indexFormatOf,
  kbIndexError,
  parseKBIndex,
  serializeKBIndex,
  type KBIndex,
  type KBModelRecord,
  type KBTaskGroupRecord,
} from '../../datasources/kb-index.js';
import { makeTempDir, removeQuietly } from '../../datasources/local-fs.js';
import { KBClient } from '../../service/client/kb-client.js';
import { workerIdentity, type LCClient, type ReportResult } from '../../service/client/lc-client.js';
import { HotUpdatePoller, hotUpdateError, type HotUpdateConfig, type PollOutcome } from '../hot-update.js';
import { JobBase, OwnedResources, type ReportOutcome } from '../job-base.js';
import { ModelSlot } from '../model-slot.js';
import { indexVersion, loadDeployment, readIndex, type Deployment } from './deployment.js';
import {
  readStoredSamples,
  safeName,
  serializeTaskSamples,
  taskSamplesFileName,
  withStoredSamples,
} from './knowledge.js';

export type LLDataInput<Y = unknown> = TaskTableInput<Y> | (() => Promise<TaskTableInput<Y>>);

export interface LifelongLearningOptions extends MultiTaskLearningOptions {
  /** Makes a fresh, untrained estimator: one per task model, and one per model loaded. */
  createEstimator: () => Promise<Estimator>;
  config?: SednaConfig;
  /** Unseen-task detection: a detector, `{ method, param }`, or null for none; default UTD_NAME, else TaskAttrFilter. */
  unseenTaskDetect?: UnseenTaskDetector | AlgorithmSpec | null;
  /** The knowledge base client; default one from KB_SERVER (none when unset); `false`: no KB. */
  kbClient?: KBClient | false;
  lcClient?: LCClient | false;
  fileOps?: FileOps;
  /** Where the train worker writes models and the index; default OUTPUT_URL. */
  outputUrl?: string;
  /** The index eval and inference read; default MODEL_URLS (first entry), else `<OUTPUT_URL>/index.pkl`. */
  indexUrl?: string;
  /** The edge's local copy of the index and models; default edge_output_url (/var/lib/sedna/kb). */
  edgeDir?: string;
  /** Where unseen samples go; default UT_SAVED_URL, else UTD_SAVED_URL, else unseen_save_url; `false`: not saved. */
  unseenSaveDir?: string | false;
  /** Poll the index for updates at inference (default true). */
  hotUpdate?: boolean;
  /** Default MODEL_POLL_PERIOD_SECONDS × 1000, else 30 s (Sedna's LL edge). */
  pollPeriodMs?: number;
}

export interface LLTrainOptions {
  validData?: LLDataInput;
  /**
   * `initial`: the tasks of the data given, from scratch. `update`: the previous index's stored
   * samples join the data, touched groups are retrained, the others keep their models. Default:
   * `update` when HAS_COMPLETED_INITIAL_TRAINING is true (the controller sets it), else `initial`.
   */
  action?: 'initial' | 'update';
  trainOptions?: TrainOptions;
  /** A global model: `auto` (when a group is rare, Sedna's rule), `always`, `never`. */
  globalModel?: 'auto' | 'always' | 'never';
}

export interface LLTrainResult {
  readonly index: KBIndex;
  /** Where the index was written (`<OUTPUT_URL>/index.pkl`). */
  readonly indexUrl: string;
  /** The knowledge base's URL of the index, when a KB is used. */
  readonly kbIndexUrl: string | undefined;
  readonly results: readonly ReportResult[];
  readonly report: ReportOutcome;
  /** Training metrics per task group trained in this call (and `global`). */
  readonly taskMetrics: Readonly<Record<string, Metrics | null>>;
  readonly action: 'initial' | 'update';
  /** Groups that got a model of their own in this call. */
  readonly retrained: readonly string[];
  /** Groups whose previous model stays (an update that brought them no samples). */
  readonly kept: readonly string[];
}

export interface LLEvaluateOptions {
  /** Metric names (scikit-learn's) or functions; default the CRD's `metrics`, else precision_score. */
  metrics?: string | readonly string[] | Readonly<Record<string, MetricFunction>>;
  /** Parameters of named metrics (e.g. `{ average: 'micro' }`); default the CRD's `metric_param`. */
  metricsParam?: Readonly<Record<string, unknown>> | string;
  operator?: ComparisonOperator;
  modelThreshold?: number;
}

export interface LLEvaluateResult {
  readonly metrics: Metrics;
  readonly tasks: readonly { readonly entry: string; readonly scores: Metrics; readonly sampleCount: number }[];
  /** Task groups whose models are taken out of deployment. */
  readonly dropped: readonly string[];
  readonly indexUrl: string;
  readonly report: ReportOutcome;
}

export interface LLInferenceResult<P = unknown> {
  /** One prediction per sample, in order. */
  readonly result: P[];
  /** Whether any sample belongs to an unseen task (Sedna's `is_unseen_task`). */
  readonly isUnseenTask: boolean;
  /** Per sample: belongs to an unseen task. */
  readonly unseen: readonly boolean[];
  /** Which model answered which rows. */
  readonly tasks: readonly TaskPrediction<P>[];
  /** The index version that answered. */
  readonly version: string;
  /** Where the unseen samples of this call were saved. */
  readonly unseenSavedTo?: string;
}

export interface IndexUpdate {
  readonly version: string;
  readonly indexUrl: string;
}

export interface LifelongLearningEvents {
  indexUpdate: [update: IndexUpdate];
  indexUpdateFailed: [error: SednaError];
}

/** A polled index file: its version (`modelUpdateTime`), where it is, and its bytes. */
export interface IndexFileConfig extends HotUpdateConfig {
  readonly bytes: Uint8Array;
}

const COMPARE: Readonly<Record<ComparisonOperator, (a: number, b: number) => boolean>> = {
  '>': (a, b) => a > b,
  '<': (a, b) => a < b,
  '=': (a, b) => a === b,
  '>=': (a, b) => a >= b,
  '<=': (a, b) => a <= b,
};

/** Sedna's drop rule: a group is dropped when ANY of its scores satisfies `score <op> threshold`. */
export function shouldDrop(scores: Metrics, operator: ComparisonOperator, threshold: number): boolean {
  const compare = COMPARE[operator];
  return Object.values(scores).some((v) => (typeof v === 'number' ? [v] : v).some((x) => compare(x, threshold)));
}

/** A group keeps its model when it had one of its own for the same tasks, none of which got new samples. */
function keepsModel(
  before: KBTaskGroupRecord | undefined,
  tasks: readonly string[],
  touched: ReadonlySet<string>,
): boolean {
  if (before === undefined || before.model.entry !== before.entry) return false;
  const had = before.tasks.map((t) => t.entry);
  return had.length === tasks.length && tasks.every((t) => had.includes(t) && !touched.has(t));
}

function metricFunctions(
  metrics: LLEvaluateOptions['metrics'],
  param: LLEvaluateOptions['metricsParam'],
): Record<string, MetricFunction> {
  if (metrics !== undefined && typeof metrics === 'object' && !Array.isArray(metrics)) {
    return { ...(metrics as Record<string, MetricFunction>) };
  }
  let params: Record<string, unknown> = { average: 'micro' };
  if (typeof param === 'string' && param.trim() !== '') {
    try {
      params = JSON.parse(param) as Record<string, unknown>;
    } catch (err) {
      throw invalidConfig('metric_param', param, 'a JSON object such as {"average": "micro"}', err);
    }
  } else if (typeof param === 'object') params = { ...param };
  const names =
    metrics === undefined
      ? ['precision_score']
      : typeof metrics === 'string'
        ? metrics.split(',').map((m) => m.trim())
        : [...(metrics as readonly string[])];
  return Object.fromEntries(names.map((n) => [n, classificationMetric(n, params)]));
}

async function resolveData<Y>(input: LLDataInput<Y>): Promise<TaskTableInput<Y>> {
  return typeof input === 'function' ? input() : input;
}

function joinUrl(dir: string, name: string): string {
  return schemeOf(dir) === 'file' ? path.join(toLocalPath(dir), name) : `${dir.replace(/\/+$/, '')}/${name}`;
}

export class LifelongLearning extends JobBase<LifelongLearningEvents> {
  readonly engine: MultiTaskLearning;
  readonly detector: UnseenTaskDetector | undefined;
  private readonly createEstimator: () => Promise<Estimator>;
  private readonly kb: KBClient | undefined;
  private readonly fileOps: FileOps;
  private readonly outputUrl: string;
  private readonly indexUrl: string;
  private readonly edgeDir: string;
  private readonly unseenDir: string | undefined;
  private readonly hotUpdate: boolean;
  private readonly pollPeriodMs: number;
  private slot: ModelSlot<Deployment> | undefined;
  private loading: Promise<void> | undefined;
  private poller: HotUpdatePoller<IndexFileConfig> | undefined;
  private unseenSeq = 0;

  private constructor(
    options: LifelongLearningOptions,
    config: SednaConfig,
    parts: { lc: LCClient | undefined; resources: OwnedResources; kb: KBClient | undefined; fileOps: FileOps },
  ) {
    super({
      name: 'LifelongLearning',
      component: 'lifelong-learning',
      config,
      lc: parts.lc,
      resources: parts.resources,
      identity: workerIdentity(config, K8sResourceKind.LIFELONG_LEARNING_JOB),
    });
    this.engine = new MultiTaskLearning({
      ...options,
      minTrainSample: options.minTrainSample ?? config.minTrainSample,
    });
    this.detector = createDetector(
      options.unseenTaskDetect === undefined
        ? (config.utd ?? { method: 'TaskAttrFilter', param: {} })
        : options.unseenTaskDetect,
    );
    this.createEstimator = options.createEstimator;
    this.kb = parts.kb;
    this.fileOps = parts.fileOps;
    this.outputUrl = options.outputUrl ?? config.outputUrl;
    this.indexUrl = options.indexUrl ?? config.modelUrls?.[0] ?? joinUrl(this.outputUrl, KB_INDEX_NAME);
    this.edgeDir = options.edgeDir ?? config.edgeOutputUrl;
    const unseen = options.unseenSaveDir ?? config.utSavedUrl ?? config.utdSavedUrl ?? config.unseenSaveUrl;
    this.unseenDir = unseen === false || unseen === '' ? undefined : unseen;
    this.hotUpdate = options.hotUpdate ?? true;
    this.pollPeriodMs = options.pollPeriodMs ?? config.indexPollPeriodSeconds * 1000;
  }

  /** Builds the job; unknown step or detector names and bad parameters throw here. */
  static async create(options: LifelongLearningOptions): Promise<LifelongLearning> {
    if (typeof (options.createEstimator as unknown) !== 'function')
      throw invalidArgument('createEstimator', options.createEstimator, 'a function that makes a fresh estimator');
    const config = JobBase.resolveConfig(options.config);
    const resources = new OwnedResources();
    try {
      const fileOps = options.fileOps ?? resources.own(FileOps.fromConfig(config));
      const lc = JobBase.lcClientFor(options.lcClient, config, resources);
      const kb =
        options.kbClient === false
          ? undefined
          : (options.kbClient ??
            (config.kbServer === undefined ? undefined : resources.own(KBClient.fromConfig(config))));
      return new LifelongLearning(options, config, { lc, resources, kb, fileOps });
    } catch (err) {
      await resources.closeAll();
      throw err;
    }
  }

  /**
   * Trains the task models and publishes the index: models and each task's samples to OUTPUT_URL
   * and the knowledge base, the index to the KB (`update`) and to `<OUTPUT_URL>/index.pkl`.
   * Reports `kind: train`; a failure is reported (`failed`) and rethrown.
   *
   * `action: 'update'` (default when the controller says HAS_COMPLETED_INITIAL_TRAINING=true)
   * builds on the previous index (CLOUD_KB_INDEX, else `<OUTPUT_URL>/index.pkl`): its stored
   * samples join the new data, the groups the new data touches are retrained on both, new tasks
   * get models, and the groups it does not touch keep their models (and their deploy flags).
   */
  async train<Y>(trainData: LLDataInput<Y>, options: LLTrainOptions = {}): Promise<LLTrainResult> {
    this.assertOpen();
    let outcome: TrainOutcome<Y> | undefined;
    const scratch = await makeTempDir('sedna-ll-train-');
    try {
      const action: unknown = options.action ?? (this.config.hasCompletedInitialTraining ? 'update' : 'initial');
      // JavaScript callers may pass anything.
      if (action !== 'initial' && action !== 'update') throw invalidArgument('action', action, '"initial" or "update"');
      const fresh = toTaskTable(await resolveData(trainData));
      const previous = action === 'update' ? await this.previousKnowledge() : undefined;
      const data = previous === undefined ? fresh : withStoredSamples(previous.index, previous.samples, fresh);
      const touched = previous === undefined ? undefined : await this.touchedTasks(fresh, previous.index);
      const previousGroups = new Map(previous?.index.seen_task.task_groups.map((g) => [g.entry, g]));
      outcome = await this.engine.train(data, {
        createEstimator: this.createEstimator,
        ...(options.trainOptions === undefined ? {} : { trainOptions: options.trainOptions }),
        ...(options.globalModel === undefined ? {} : { globalModel: options.globalModel }),
        ...(touched === undefined
          ? {}
          : { keepModel: (group) => keepsModel(previousGroups.get(group.entry), group.tasks, touched) }),
        onModel: (entry, done, total) => {
          this.log.info({ entry, done, total }, 'task model trained');
        },
      });
      const put = async (name: string, local: string): Promise<string> => {
        const output = joinUrl(this.outputUrl, name);
        await this.fileOps.upload(local, output);
        return this.kb === undefined ? output : this.kb.uploadFile(local, name);
      };
      const store = async (entry: string, estimator: Estimator): Promise<string> => {
        const name = `${safeName(entry)}.model`;
        return put(name, await estimator.save(path.join(scratch, name)));
      };
      const storeSamples = async (entry: string, samples: TaskTable): Promise<string> => {
        const name = taskSamplesFileName(entry);
        const local = path.join(scratch, name);
        await writeFileAtomic(local, serializeTaskSamples(entry, samples));
        return put(name, local);
      };
      const record = (
        index: number,
        entry: string,
        url: string,
        result: Metrics | null,
        meta: unknown[],
      ): KBModelRecord => ({
        index,
        entry,
        model: url,
        format: 'json',
        result: result as KBModelRecord['result'],
        meta_attr: meta as KBModelRecord['meta_attr'],
      });
      const globalModel =
        outcome.global === undefined
          ? null
          : record(0, 'global', await store('global', outcome.global.estimator), outcome.global.metrics, []);
      const groups = [];
      for (const g of outcome.groups) {
        const meta = g.tasks.map((t) => t.metaAttr);
        const before = previousGroups.get(g.entry);
        if (g.kept && before !== undefined) {
          groups.push({ ...before, model: { ...before.model, index: g.index } });
          continue;
        }
        const model =
          g.estimator === undefined
            ? record(g.index, 'global', (globalModel as KBModelRecord).model, outcome.global?.metrics ?? null, meta)
            : record(g.index, g.entry, await store(g.entry, g.estimator), g.metrics, meta);
        const tasks = [];
        for (const t of g.tasks) {
          tasks.push({
            entry: t.entry,
            meta_attr: t.metaAttr,
            samples: {
              data_type: 'train',
              data_url: await storeSamples(t.entry, t.samples),
              sample_num: t.rows.length,
            },
          });
        }
        groups.push({ entry: g.entry, tasks, sample_num: g.sampleCount, model, deploy: true });
      }
      const index: KBIndex = {
        format: KB_INDEX_FORMAT,
        version: 1,
        create_time: (Date.now() / 1000).toFixed(3),
        seen_task: { extractor: outcome.extractor, task_groups: groups, global_model: globalModel },
        unseen_task: { extractor: null, task_groups: [] },
      };
      const kbIndexUrl = this.kb === undefined ? undefined : await this.kb.updateDb(index);
      // The KB publishes an update with every group deployed; groups kept as they were keep their flag.
      const undeployed = groups.filter((g) => !g.deploy).map((g) => g.entry);
      if (undeployed.length > 0 && this.kb !== undefined) await this.kb.updateTaskStatus(undeployed, 0);
      const indexUrl = await this.writeIndex(index, scratch);
      const results: ReportResult[] = [
        { format: 'pkl', url: removePathPrefix(indexUrl, this.config.dataPathPrefix), metrics: null },
      ];
      const report = await this.report('train', 'completed', results);
      const taskMetrics: Record<string, Metrics | null> = Object.fromEntries(
        outcome.groups.filter((g) => !g.kept).map((g) => [g.entry, g.metrics]),
      );
      if (outcome.global !== undefined) taskMetrics.global = outcome.global.metrics;
      const retrained = outcome.groups.filter((g) => !g.kept && !g.rare).map((g) => g.entry);
      const kept = outcome.groups.filter((g) => g.kept).map((g) => g.entry);
      return { index, indexUrl, kbIndexUrl, results, report, taskMetrics, action, retrained, kept };
    } catch (err) {
      await this.report('train', 'failed');
      throw err;
    } finally {
      for (const g of outcome?.groups ?? []) await g.estimator?.close().catch(() => undefined);
      await outcome?.global?.estimator.close().catch(() => undefined);
      await removeQuietly(scratch);
    }
  }

  /** The index an update builds on, with the stored samples of its tasks. */
  private async previousKnowledge(): Promise<{ index: KBIndex; samples: Map<string, TaskTable> }> {
    const configured = this.config.cloudKbIndex;
    // The controller names a host path; the pod sees it under DATA_PATH_PREFIX (spec §5.4).
    const location =
      configured === undefined || configured === ''
        ? joinUrl(this.outputUrl, KB_INDEX_NAME)
        : schemeOf(configured) === 'file' && !configured.startsWith(`${this.config.dataPathPrefix}/`)
          ? path.join(this.config.dataPathPrefix, configured)
          : configured;
    const { index } = await readIndex(location, this.fileOps);
    return { index, samples: await readStoredSamples(index, this.fileOps) };
  }

  /** The tasks the new data holds samples of (by the definition the index was built with). */
  private async touchedTasks(data: TaskTable, index: KBIndex): Promise<ReadonlySet<string>> {
    const method = index.seen_task.extractor?.method;
    // A clustering definition redraws every task from all samples: nothing is kept.
    if (method !== 'TaskDefinitionByDataAttr')
      return new Set<string>(index.seen_task.task_groups.flatMap((g) => g.tasks.map((t) => t.entry)));
    const defined = await this.engine.definition.define(data);
    return new Set(defined.tasks.map((t) => t.entry));
  }

  /**
   * Scores each task group's model on `data`, drops the groups the CRD's rule selects (in the KB
   * and in `<OUTPUT_URL>/index.pkl`) and reports `kind: eval` with the overall metrics.
   */
  async evaluate(data: LLDataInput, options: LLEvaluateOptions = {}): Promise<LLEvaluateResult> {
    this.assertOpen();
    const scratch = await makeTempDir('sedna-ll-eval-');
    let deployment: Deployment | undefined;
    try {
      const { bytes, index } = await readIndex(this.indexUrl, this.fileOps);
      deployment = await loadDeployment({
        bytes,
        index,
        engine: this.engine,
        createEstimator: this.createEstimator,
        fileOps: this.fileOps,
        dir: scratch,
      });
      const metrics = metricFunctions(
        options.metrics ?? this.config.metrics,
        options.metricsParam ?? this.config.metricParam,
      );
      const scored = await evaluateTasks(this.engine, toTaskTable(await resolveData(data)), deployment.models, metrics);
      const operator = options.operator ?? this.config.operator;
      const threshold = options.modelThreshold ?? this.config.modelThreshold;
      const ownGroups = new Set(
        index.seen_task.task_groups.filter((g) => g.model.entry === g.entry).map((g) => g.entry),
      );
      const dropped = [
        ...new Set(
          scored.tasks
            .filter((t) => ownGroups.has(t.entry) && shouldDrop(t.scores, operator, threshold))
            .map((t) => t.entry),
        ),
      ];
      for (const d of dropped)
        this.log.warn(
          { group: d, operator, threshold },
          `task group ${d} is not deployed: a score ${operator} ${threshold}`,
        );
      if (dropped.length > 0 && this.kb !== undefined) await this.kb.updateTaskStatus(dropped, 0);
      for (const g of index.seen_task.task_groups) if (dropped.includes(g.entry)) g.deploy = false;
      const indexUrl = await this.writeIndex(index, scratch);
      const report = await this.report('eval', 'completed', [
        { format: 'pkl', url: removePathPrefix(indexUrl, this.config.dataPathPrefix), metrics: scored.metrics },
      ]);
      return {
        metrics: scored.metrics,
        tasks: scored.tasks.map((t) => ({ entry: t.entry, scores: t.scores, sampleCount: t.sampleCount })),
        dropped,
        indexUrl,
        report,
      };
    } catch (err) {
      await this.report('eval', 'failed');
      throw err;
    } finally {
      await deployment?.close();
      await removeQuietly(scratch);
    }
  }

  /**
   * Answers each sample with its task's model. Returns Sedna's triple as an object:
   * `{ result, isUnseenTask, tasks }` (plus per-sample `unseen` flags).
   */
  async inference<P = unknown>(data: TaskTableInput): Promise<LLInferenceResult<P>> {
    this.assertOpen();
    if (this.slot === undefined) await this.ensureLoaded();
    const slot = this.slot as ModelSlot<Deployment>;
    const table = toTaskTable(data);
    const { outcome, version, probabilities } = await slot.run(async (deployment) => {
      const out = await this.engine.predict<P>(table, deployment.models as never);
      const probs =
        this.detector?.name === 'ModelProbeFilter'
          ? await this.probabilities(out.allocation.samples.rows, out.tasks, deployment)
          : [];
      return { outcome: out, version: deployment.version, probabilities: probs };
    });
    const unseen =
      this.detector?.detect({
        tasks: outcome.allocation.tasks,
        metaAttr: outcome.allocation.metaAttr,
        predictions: outcome.result,
        probabilities,
      }) ?? outcome.result.map(() => false);
    const isUnseenTask = unseen.some(Boolean);
    let unseenSavedTo: string | undefined;
    if (isUnseenTask && this.unseenDir !== undefined) {
      unseenSavedTo = await this.saveUnseen(table, unseen, outcome.result);
    }
    return {
      result: outcome.result,
      isUnseenTask,
      unseen,
      tasks: outcome.tasks,
      version,
      ...(unseenSavedTo === undefined ? {} : { unseenSavedTo }),
    };
  }

  /** Polls the index now (tests, or an operator's "check now"). */
  pollIndex(): Promise<PollOutcome<IndexFileConfig>> {
    if (this.poller === undefined)
      return Promise.reject(invalidConfig('hotUpdate', false, 'inference started with hot update on'));
    return this.poller.pollNow();
  }

  /** The index version serving (after the first inference). */
  get version(): string | undefined {
    return this.currentVersion;
  }

  private currentVersion: string | undefined;

  protected override async beforeClose(): Promise<void> {
    await this.poller?.close();
    await this.slot?.close();
  }

  // -------------------------------------------------------------------------------------------

  private async writeIndex(index: KBIndex, scratch: string): Promise<string> {
    const target = joinUrl(this.outputUrl, KB_INDEX_NAME);
    const bytes = serializeKBIndex(index);
    if (schemeOf(target) === 'file') {
      await writeFileAtomic(toLocalPath(target), bytes);
      return toLocalPath(target);
    }
    const local = path.join(scratch, KB_INDEX_NAME);
    await writeFileAtomic(local, bytes);
    await this.fileOps.upload(local, target);
    return target;
  }

  private ensureLoaded(): Promise<void> {
    this.loading ??= (async () => {
      const { bytes, index } = await readIndex(this.indexUrl, this.fileOps);
      const deployment = await this.load(bytes, index);
      this.slot = new ModelSlot<Deployment>(deployment, true, 'LifelongLearning');
      this.currentVersion = deployment.version;
      if (this.hotUpdate) {
        this.poller = new HotUpdatePoller<IndexFileConfig>({
          configPath: this.indexUrl,
          periodMs: this.pollPeriodMs,
          version: deployment.version,
          settleMs: 0,
          read: async (location) => {
            try {
              return await this.fileOps.readFile(location);
            } catch (err) {
              if (isSednaError(err, 'SEDNA_ERR_FILE_NOT_FOUND')) return undefined;
              throw err;
            }
          },
          parse: (raw, location) => ({ modelPath: location, modelUpdateTime: indexVersion(raw), bytes: raw }),
          fingerprint: () => Promise.resolve('index'),
          apply: (config) => this.applyIndex(config),
          onOutcome: (outcome) => {
            this.onIndexOutcome(outcome);
          },
        });
        this.poller.start();
      }
    })().catch((err: unknown) => {
      this.loading = undefined;
      throw err;
    });
    return this.loading;
  }

  private async load(bytes: Uint8Array, index: KBIndex): Promise<Deployment> {
    return loadDeployment({
      bytes,
      index,
      engine: this.engine,
      createEstimator: this.createEstimator,
      fileOps: this.fileOps,
      dir: this.edgeDir,
    });
  }

  private async applyIndex(config: IndexFileConfig): Promise<void> {
    let deployment: Deployment;
    try {
      const { bytes, index } = readIndexBytes(config.bytes, config.modelPath);
      deployment = await this.load(bytes, index);
    } catch (err) {
      throw hotUpdateError(
        'model-invalid',
        `the new index ${config.modelPath} cannot be deployed: ${messageOf(err)}`,
        { indexUrl: config.modelPath },
        err,
      );
    }
    (this.slot as ModelSlot<Deployment>).swap(deployment, { version: deployment.version, url: config.modelPath });
    this.currentVersion = deployment.version;
  }

  private onIndexOutcome(outcome: PollOutcome<IndexFileConfig>): void {
    if (outcome.kind === 'updated') {
      const update = { version: outcome.config.modelUpdateTime, indexUrl: outcome.config.modelPath };
      this.log.info(update, 'hot update: the new index serves');
      this.notify(() => this.emit('indexUpdate', update), 'an index update listener');
    } else if (outcome.kind === 'failed') {
      this.log.warn({ err: outcome.error }, 'index update failed; the previous models keep serving');
      this.notify(() => this.emit('indexUpdateFailed', outcome.error), 'an index update listener');
    }
  }

  /** Class probabilities per row, from the answering models' `predictProba` (when they have one). */
  private async probabilities(
    features: readonly ArrayLike<unknown>[],
    tasks: readonly TaskPrediction[],
    deployment: Deployment,
  ): Promise<(number[] | undefined)[]> {
    const out = new Array<number[] | undefined>(features.length).fill(undefined);
    for (const t of tasks) {
      const estimator =
        t.group >= 0 ? deployment.models.groups[t.group]?.estimator : deployment.models.fallback?.estimator;
      const model = estimator as { predictProba?: (x: unknown) => Promise<number[][]> } | undefined;
      if (typeof model?.predictProba !== 'function') continue;
      const proba = await model.predictProba(t.rows.map((r) => features[r]));
      t.rows.forEach((r, i) => (out[r] = proba[i]));
    }
    return out;
  }

  private async saveUnseen(
    table: ReturnType<typeof toTaskTable>,
    unseen: readonly boolean[],
    result: readonly unknown[],
  ): Promise<string> {
    const rows = table.rows.flatMap((row, i) =>
      unseen[i] === true ? [{ sample: Array.from(row), prediction: result[i] ?? null }] : [],
    );
    const name = `unseen-${Date.now()}-${process.pid}-${this.unseenSeq++}.json`;
    const dir = this.unseenDir as string;
    const body = Buffer.from(JSON.stringify({ columns: table.columns, samples: rows }));
    if (schemeOf(dir) === 'file') {
      const file = path.join(toLocalPath(dir), name);
      await writeFileAtomic(file, body);
      return file;
    }
    const target = `${dir.replace(/\/+$/, '')}/${name}`;
    await this.fileOps.writeFile(target, body);
    return target;
  }
}

function readIndexBytes(bytes: Uint8Array, location: string): { bytes: Uint8Array; index: KBIndex } {
  if (indexFormatOf(bytes) === 'pickle') throw kbIndexError(`${location} is a Python Sedna index (a pickle)`);
  return { bytes, index: parseKBIndex(bytes, location) };
}

function createDetector(choice: UnseenTaskDetector | AlgorithmSpec | null): UnseenTaskDetector | undefined {
  if (choice === null) return undefined;
  if (typeof (choice as UnseenTaskDetector).detect === 'function') return choice as UnseenTaskDetector;
  const spec = choice as AlgorithmSpec;
  const cls = ClassFactory.getCls<new (params: unknown) => UnseenTaskDetector>(ClassType.UTD, spec.method);
  const detector = new cls(spec.param);
  if (typeof (detector as Partial<UnseenTaskDetector>).detect !== 'function')
    throw invalidArgument('unseenTaskDetect', spec.method, 'a registered class whose instances have detect()');
  return detector;
}
