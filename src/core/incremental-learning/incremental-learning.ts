/**
 * Incremental learning (Sedna's `IncrementalLearning`, spec §5.2): one job class for the three
 * workers of an IncrementalLearningJob. The inference worker serves the deployed model, keeps the
 * samples its hard-example-mining filter flags, and swaps in newly deployed models without a
 * restart (hot update, spec §5.0). Once enough hard examples are labelled the LocalController starts
 * a train worker (`train()`: from BASE_MODEL_URL to MODEL_URL), then an eval worker (`evaluate()`:
 * MODEL_URLS = new;deployed) whose metrics decide the deploy. The LC drives those stages from what
 * the workers report, so the reports follow Sedna's exactly:
 *
 *   train  {…, "kind": "train", "status": "completed", "results": [{format, url, metrics}, …]}
 *   eval   {…, "kind": "eval",  "status": "completed", "results": [new, deployed]}   metrics as lists
 *   deploy {…, "kind": "deploy", "status": "completed" | "failed"}
 *
 * and every failure Sedna would report is reported with `status: "failed"` before the error is
 * rethrown. Differences from Sedna are listed in docs/incremental-learning.md.
 *
 * The serving model's lifecycle (first load, hot update, swaps) is in serving-model.ts.
 */
import type { HardExampleFilter } from '../../algorithms/hard-example-mining/base.js';
import type {
  Dataset,
  Estimator,
  EvaluateOptions,
  Metrics,
  ModelResultEntry,
  PredictOptions,
  TrainOptions,
} from '../../backend/estimator.js';
import { FileOps } from '../../datasources/file-ops.js';
import type { LCClient, ReportResult } from '../../service/client/lc-client.js';
import { resolvePostProcess, type PostProcess } from '../callbacks.js';
import type { SednaConfig } from '../../common/config.js';
import { K8sResourceKind } from '../../common/constants.js';
import { SednaError, invalidArgument, invalidConfig, messageOf } from '../../common/errors.js';
import { createHemFilter, type HemChoice } from '../hem.js';
import { JobBase, OwnedResources, type ReportOutcome } from '../job-base.js';
import { checkComparable, metricDeltas, toMetricLists, type MetricLists } from '../metric-lists.js';
import { HardExampleStore, type HardExampleRecord } from './hard-example-store.js';
import type { PollOutcome } from '../hot-update.js';
import { defaultModelName, inferenceModelLocation, saveModel, trainOutputLocation } from './model-files.js';
import type { ModelVersion } from '../model-slot.js';
import { ServingModel } from './serving-model.js';
import { exposeInferenceCounts } from '../job-metrics.js';
import { withEpochProgress } from '../progress.js';

/** A dataset, or a function that loads one (so loading failures are reported as the stage's failure). */
export type DataInput<X = unknown, Y = unknown> = Dataset<X, Y> | (() => Promise<Dataset<X, Y>>);

export interface IncrementalLearningOptions<X = unknown, Y = unknown, P = unknown> {
  /**
   * The model. The job owns it (closes it) unless `ownsEstimator: false`. The prediction type `P`
   * is inferred from it; give `X`/`Y` explicitly to type inputs and labels (a backend's wider
   * method signatures would otherwise be inferred for them).
   */
  estimator: Estimator<NoInfer<X>, NoInfer<Y>, P>;
  /** Settings; default `loadConfig()` (the variables the Sedna controller injects). */
  config?: SednaConfig;
  /** The HEM filter, a `{method, param}` spec, or `null` for none; default HEM_NAME/HEM_PARAMETERS. */
  hardExampleMining?: HemChoice;
  /**
   * Builds a fresh estimator of the same kind, without a model. With it, a hot update loads the new
   * model into a second instance and swaps instances, so requests in flight finish on the model they
   * started with whatever the estimator does; `evaluate()` uses fresh instances too. Without it, the
   * estimator's own `load()` replaces its model in place (TfjsEstimator and OnnxEstimator keep the
   * old model serving until the new one is ready).
   */
  estimatorFactory?: () => Promise<Estimator<NoInfer<X>, NoInfer<Y>, NoInfer<P>>>;
  /** Runs on a newly loaded model before it serves (a warm-up or a sanity check; throwing rejects the update). */
  warmup?: (estimator: Estimator<NoInfer<X>, NoInfer<Y>, NoInfer<P>>) => Promise<void>;
  /**
   * The model the inference worker serves. Default: `model_path`, else MODEL_URL (its `<model name>`
   * entry when MODEL_URL is an output folder), loaded in `create()` when hot update is on, else at
   * the first `inference()`, as Sedna does. `false`: never load (the estimator already has a model).
   */
  modelUrl?: string | false;
  /** The model file or folder name under MODEL_URL; default MODEL_NAME, else `model` (TF.js) / `model.onnx` (ONNX). */
  modelName?: string;
  /** Where hard examples go; default HE_SAVED_URL; `false` or unset: not saved. */
  hardExampleDir?: string | false;
  /** Most hard examples kept in the folder (default 100,000). */
  maxHardExamples?: number;
  /** Poll the hot-update file; default MODEL_HOT_UPDATE. */
  hotUpdate?: boolean;
  /** The hot-update file; default MODEL_HOT_UPDATE_CONFIG. */
  hotUpdateConfig?: string;
  /** Poll period; default MODEL_POLL_PERIOD_SECONDS × 1000. */
  pollPeriodMs?: number;
  /** How long to wait before re-reading a hot-update file that does not parse (default 200 ms). */
  hotUpdateSettleMs?: number;
  /** The LC client; default one from LC_SERVER; `false`: no reports. */
  lcClient?: LCClient | false;
  /** FileOps for remote models; default one from the S3 settings in `config`. */
  fileOps?: FileOps;
  /** Close the estimator in `close()` (default true). */
  ownsEstimator?: boolean;
}

export type { ReportOutcome } from '../job-base.js';

export type IncrementalTrainOptions<R = unknown> = TrainOptions & {
  /** Applied to the estimator after training (Sedna's `post_process`); its result is `postProcessed`. */
  postProcess?: PostProcess<Estimator, R>;
  /** Start weights; default BASE_MODEL_URL; `false`: train the estimator's current model. */
  baseModelUrl?: string | false;
};

export interface TrainResult<R = unknown> {
  readonly metrics: Metrics;
  /** Where the model was saved (MODEL_URL/<model name>, or the model_path rule). */
  readonly modelUrl: string;
  /** The report's `results`. */
  readonly results: readonly ReportResult[];
  readonly report: ReportOutcome;
  readonly postProcessed: R | undefined;
}

export type IncrementalEvaluateOptions<Y = unknown> = EvaluateOptions<Y> & {
  /** Applied to each model's metrics before they are checked and reported (Sedna's `post_process`). */
  postProcess?: PostProcess<Metrics>;
  /** The models; default MODEL_URLS (new;deployed). Exactly two. */
  modelUrls?: readonly string[];
};

export interface EvaluateResult {
  /** Each model's metrics as lists, in MODEL_URLS order (new, deployed). */
  readonly models: readonly { readonly url: string; readonly metrics: MetricLists }[];
  readonly results: readonly ReportResult[];
  /** What the LC computes for the deploy trigger: the new model's metrics and `<metric>_delta`. */
  readonly deltas: Readonly<Record<string, readonly number[]>>;
  readonly report: ReportOutcome;
}

export interface InferenceCallOptions<P = unknown, R = unknown> {
  /** Applied to (a copy of) the prediction before mining (a function or a registered CALLBACK name). */
  postProcess?: PostProcess<P, R>;
  predictOptions?: PredictOptions;
  /** Attached to the hard example's metadata record (a source index, a camera id...). */
  meta?: Readonly<Record<string, unknown>>;
  /** Keep the sample if it is hard (default true). */
  saveHardExample?: boolean;
}

export interface InferenceResult<P = unknown, R = unknown> {
  /** The model's raw prediction. */
  readonly result: P;
  /** The post-processed prediction (the raw one without `postProcess`). */
  readonly postProcessed: R;
  readonly isHardExample: boolean;
  /** The model that answered. */
  readonly model: ModelVersion;
  /** The saved sample's metadata record. */
  readonly hardExample?: HardExampleRecord;
  /** Why a hard example could not be saved (the inference itself succeeded). */
  readonly hardExampleError?: SednaError;
}

/** A hot update that was applied. */
export interface ModelUpdate {
  readonly version: string;
  readonly modelPath: string;
}

export interface IncrementalLearningEvents {
  modelUpdate: [update: ModelUpdate];
  modelUpdateFailed: [error: SednaError];
}

export interface IncrementalLearningStats {
  readonly inferences: number;
  readonly hardExamples: number;
  readonly hardExamplesSaved: number;
  readonly hardExampleSaveFailures: number;
  /** Hard examples not kept because the folder was full. */
  readonly hardExamplesDropped: number;
  readonly model: ModelVersion;
  readonly modelUpdates: number;
  readonly modelUpdateFailures: number;
  readonly lastModelUpdateError: SednaError | undefined;
  readonly reportFailures: number;
  readonly lastReportError: SednaError | undefined;
}

function asSednaError(err: unknown, fallback: string): SednaError {
  return err instanceof SednaError
    ? err
    : new SednaError('SEDNA_ERR_INTERNAL', `${fallback}: ${messageOf(err)}`, { cause: err });
}

async function resolveData<X, Y>(input: DataInput<X, Y>): Promise<Dataset<X, Y>> {
  return typeof input === 'function' ? input() : input;
}

/** Entries in the LC's key order (`format`, `url`, `metrics`), whatever order an estimator built them in. */
function resultEntry(e: ModelResultEntry): ReportResult {
  return { format: e.format, url: e.url, metrics: e.metrics };
}

/** A copy for the post-process callback, so it cannot change the raw result (Sedna deep-copies too). */
function copyForCallback<T>(value: T): T {
  try {
    return structuredClone(value);
  } catch {
    return value;
  }
}

interface Parts {
  config: SednaConfig;
  hem: HardExampleFilter | undefined;
  store: HardExampleStore | undefined;
  lc: LCClient | undefined;
  fileOps: FileOps;
  resources: OwnedResources;
}

export class IncrementalLearning<X = unknown, Y = unknown, P = unknown> extends JobBase<IncrementalLearningEvents> {
  readonly hem: HardExampleFilter | undefined;
  /** Where hard examples are kept (undefined: not kept). */
  readonly hardExamples: HardExampleStore | undefined;
  /** The serving model: first load, loads for train/eval, hot update. */
  private readonly serving: ServingModel<X, Y, P>;
  private readonly fileOps: FileOps;
  private readonly modelNameOption: string | undefined;
  private counts = {
    inferences: 0,
    hardExamples: 0,
    hardExamplesSaved: 0,
    hardExampleSaveFailures: 0,
    modelUpdates: 0,
    modelUpdateFailures: 0,
  };
  private lastModelUpdateError: SednaError | undefined;

  private constructor(options: IncrementalLearningOptions<X, Y, P>, parts: Parts) {
    super({
      name: 'IncrementalLearning',
      component: 'incremental-learning',
      config: parts.config,
      ownerKind: K8sResourceKind.INCREMENTAL_LEARNING_JOB,
      lc: parts.lc,
      resources: parts.resources,
    });
    this.hem = parts.hem;
    this.hardExamples = parts.store;
    this.fileOps = parts.fileOps;
    this.modelNameOption = options.modelName ?? parts.config.modelName;
    const modelUrl = options.modelUrl;
    this.serving = new ServingModel<X, Y, P>({
      estimator: options.estimator,
      ownsEstimator: options.ownsEstimator ?? true,
      fileOps: parts.fileOps,
      factory: options.estimatorFactory,
      warmup: options.warmup,
      // `model_path`, else MODEL_URL (its <model name> entry when it is an output folder).
      location: async (estimator) =>
        modelUrl === false
          ? undefined
          : (modelUrl ??
            (await inferenceModelLocation(this.config.modelUrl, this.config.modelPath, this.modelName(estimator)))),
      onHotUpdate: (outcome) => this.onHotUpdate(outcome),
    });
  }

  /**
   * Builds the job: resolves the HEM filter (unknown names and bad parameters throw here), opens the
   * hard-example folder, and with hot update on loads the serving model and starts polling.
   */
  static async create<X, Y, P>(options: IncrementalLearningOptions<X, Y, P>): Promise<IncrementalLearning<X, Y, P>> {
    if (typeof (options.estimator as unknown) !== 'object' || (options.estimator as unknown) === null)
      throw invalidArgument('estimator', options.estimator, 'an Estimator');
    const config = JobBase.resolveConfig(options.config);
    const hem = createHemFilter(options.hardExampleMining === undefined ? config.hem : options.hardExampleMining);
    const hotUpdate = options.hotUpdate ?? config.modelHotUpdate;
    const hotUpdateConfig = options.hotUpdateConfig ?? config.modelHotUpdateConfig;
    if (hotUpdate && (hotUpdateConfig === undefined || hotUpdateConfig === '')) {
      throw invalidConfig(
        'MODEL_HOT_UPDATE_CONFIG',
        hotUpdateConfig,
        'the hot-update file (/model-hot-update/model_config.json) when MODEL_HOT_UPDATE is true',
      );
    }
    const periodMs = options.pollPeriodMs ?? config.modelPollPeriodSeconds * 1000;
    if (!Number.isFinite(periodMs) || periodMs <= 0)
      throw invalidConfig('pollPeriodMs', periodMs, 'a positive number of milliseconds');

    // What the job makes; a failed create() releases it (the caller's estimator stays open).
    const resources = new OwnedResources();
    const fileOps = options.fileOps ?? resources.own(FileOps.fromConfig(config));
    const lc = JobBase.lcClientFor(options.lcClient, config, resources);
    try {
      const dir = options.hardExampleDir === undefined ? config.heSavedUrl : options.hardExampleDir;
      const store =
        dir === false || dir === undefined || dir === ''
          ? undefined
          : await HardExampleStore.create({
              dir,
              ...(options.maxHardExamples === undefined ? {} : { maxSamples: options.maxHardExamples }),
            });
      const job = new IncrementalLearning(options, { config, hem, store, lc, fileOps, resources });
      resources.own(
        exposeInferenceCounts(
          { kind: 'incrementallearningjob', job: config.jobName, stats: () => job.counts },
          config.serverMetrics,
        ),
      );
      if (hotUpdate) await job.serving.startHotUpdate(hotUpdateConfig as string, periodMs, options.hotUpdateSettleMs);
      else if (typeof options.modelUrl === 'string') await job.serving.ensureLoaded();
      return job;
    } catch (err) {
      await resources.closeAll();
      throw err;
    }
  }

  /** The estimator serving now (it changes with hot updates when an `estimatorFactory` is given). */
  get estimator(): Estimator<X, Y, P> {
    return this.serving.estimator;
  }

  /** The serving model's version and location. */
  get model(): ModelVersion {
    return this.serving.current;
  }

  get stats(): IncrementalLearningStats {
    return {
      ...this.counts,
      hardExamplesDropped: this.hardExamples?.stats.dropped ?? 0,
      model: this.serving.current,
      lastModelUpdateError: this.lastModelUpdateError,
      ...this.reportHealth,
    };
  }

  /**
   * Trains (from BASE_MODEL_URL when given), saves the model at MODEL_URL/<model name> (atomically;
   * `s3://` after a complete local write) and reports `kind: train` with one result per format the
   * estimator offers. A failure is reported (`status: failed`) and rethrown.
   */
  async train<R = unknown>(
    trainData: DataInput<X, Y>,
    validData?: DataInput<X, Y>,
    options: IncrementalTrainOptions<R> = {},
  ): Promise<TrainResult<R>> {
    this.assertOpen();
    const { postProcess, baseModelUrl, ...trainOptions } = options;
    try {
      const post = resolvePostProcess(postProcess);
      const done = await this.serving.run(async (estimator) => {
        // The output location first: a missing MODEL_URL must not cost a whole training run.
        const target = await trainOutputLocation(
          this.config.modelUrl,
          this.config.modelPath,
          this.modelName(estimator),
        );
        const base = baseModelUrl === undefined ? this.config.baseModelUrl : baseModelUrl || undefined;
        if (base !== undefined) await this.serving.loadInto(estimator, base);
        const train = await resolveData(trainData);
        const valid = validData === undefined ? undefined : await resolveData(validData);
        const metrics = await estimator.train(train, valid, withEpochProgress(trainOptions, this.log));
        const saved = await saveModel(estimator, target, this.fileOps);
        const results = estimator
          .modelInfo(saved, { dataPathPrefix: this.config.dataPathPrefix, metrics })
          .map(resultEntry);
        const postProcessed = post === undefined ? undefined : await post(estimator);
        return { metrics, saved, results, postProcessed };
      });
      this.serving.adopt({ version: undefined, url: done.saved });
      const report = await this.report('train', 'completed', done.results);
      return {
        metrics: done.metrics,
        modelUrl: done.saved,
        results: done.results,
        report,
        postProcessed: done.postProcessed,
      };
    } catch (err) {
      await this.report('train', 'failed');
      throw err;
    }
  }

  /**
   * Evaluates the two models of MODEL_URLS (new;deployed) on `data` and reports `kind: eval` with
   * two results in that order, every metric a list of numbers. Bad input (not two models, a metric
   * that is not a number, a missing model) is reported as `status: failed` and rethrown.
   */
  async evaluate(data: DataInput<X, Y>, options: IncrementalEvaluateOptions<Y> = {}): Promise<EvaluateResult> {
    this.assertOpen();
    const { postProcess, modelUrls, ...evaluateOptions } = options;
    try {
      const urls = modelUrls ?? this.config.modelUrls;
      if (urls?.length !== 2) {
        throw invalidConfig(
          'MODEL_URLS',
          urls === undefined ? undefined : urls.join(';'),
          `two models separated by ";" (the newly trained one, then the deployed one)${urls === undefined ? '' : `, got ${urls.length}`}`,
        );
      }
      const post = resolvePostProcess(postProcess);
      const dataset = await resolveData(data);
      const models: { url: string; metrics: MetricLists }[] = [];
      for (const url of urls) {
        const raw = await this.serving.evaluate(url, dataset, evaluateOptions);
        models.push({ url, metrics: toMetricLists(post === undefined ? raw : await post(raw), url) });
      }
      const [newer, deployed] = models as [(typeof models)[0], (typeof models)[0]];
      checkComparable(newer.metrics, deployed.metrics);
      const results = models.map((m) => {
        const first = this.serving.estimator.modelInfo(m.url, {
          dataPathPrefix: this.config.dataPathPrefix,
          metrics: m.metrics,
        })[0];
        if (first === undefined)
          throw new SednaError('SEDNA_ERR_INTERNAL', `the estimator gave no model info for ${m.url}`);
        return resultEntry(first);
      });
      const report = await this.report('eval', 'completed', results);
      return { models, results, deltas: metricDeltas(newer.metrics, deployed.metrics), report };
    } catch (err) {
      await this.report('eval', 'failed');
      throw err;
    }
  }

  /**
   * Runs the serving model on `data`; a hard example is saved (data, then metadata) before this
   * resolves. Returns Sedna's triple `(result, post-processed, is hard)` as an object.
   */
  async inference<R = P>(data: X, options: InferenceCallOptions<P, R> = {}): Promise<InferenceResult<P, R>> {
    this.assertOpen();
    const post = resolvePostProcess(options.postProcess);
    if (!this.serving.loaded) await this.serving.ensureLoaded();
    const { result, model } = await this.serving.run(async (estimator, version) => ({
      result: await estimator.predict(data, options.predictOptions),
      model: version,
    }));
    const processed = post === undefined ? (result as unknown as R) : await post(copyForCallback(result));
    const isHard = this.hem?.isHard(processed) ?? false;
    this.counts.inferences++;
    if (!isHard || this.hardExamples === undefined || options.saveHardExample === false) {
      if (isHard) this.counts.hardExamples++;
      return { result, postProcessed: processed, isHardExample: isHard, model };
    }
    this.counts.hardExamples++;
    try {
      const record = await this.hardExamples.save(data, {
        prediction: processed,
        modelVersion: model.version,
        modelUrl: model.url,
        ...(options.meta === undefined ? {} : { meta: options.meta }),
      });
      if (record === undefined) return { result, postProcessed: processed, isHardExample: true, model };
      this.counts.hardExamplesSaved++;
      return { result, postProcessed: processed, isHardExample: true, model, hardExample: record };
    } catch (err) {
      this.counts.hardExampleSaveFailures++;
      const error = asSednaError(err, 'saving a hard example failed');
      this.log.error({ err: error }, 'could not save a hard example');
      return { result, postProcessed: processed, isHardExample: true, model, hardExampleError: error };
    }
  }

  /** Polls the hot-update file now (tests, or an operator's "check now"); resolves with what it found. */
  pollHotUpdate(): Promise<PollOutcome> {
    return this.serving.pollNow();
  }

  /** Stops polling and closes the model once its running requests finish; then JobBase releases the rest. */
  protected override async beforeClose(): Promise<void> {
    await this.serving.close();
  }

  // -------------------------------------------------------------------------------------------

  private modelName(estimator: Estimator<X, Y, P>): string {
    return this.modelNameOption ?? defaultModelName(estimator);
  }

  private async onHotUpdate(outcome: PollOutcome): Promise<void> {
    const log = this.log;
    if (outcome.kind === 'updated') {
      this.counts.modelUpdates++;
      const update: ModelUpdate = { version: outcome.config.modelUpdateTime, modelPath: outcome.config.modelPath };
      log.info(update, 'hot update: the new model serves');
      this.notify(() => this.emit('modelUpdate', update), 'a hot-update event listener');
      await this.report('deploy', 'completed');
    } else if (outcome.kind === 'failed') {
      this.counts.modelUpdateFailures++;
      this.lastModelUpdateError = outcome.error;
      log.warn({ err: outcome.error }, 'hot update failed; the previous model keeps serving');
      this.notify(() => this.emit('modelUpdateFailed', outcome.error), 'a hot-update event listener');
      await this.report('deploy', 'failed');
    }
  }
}
