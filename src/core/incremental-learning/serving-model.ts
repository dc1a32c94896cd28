/**
 * The incremental-learning inference worker's serving model, from start to close: the first load
 * (once, shared by concurrent first calls, retried after a failure), loading other models into it
 * or into fresh instances (`estimatorFactory`), and the hot update, which polls the hot-update
 * file and swaps in each newly deployed model without failing a request (ModelSlot). What the
 * job reports about it (deploy completed/failed, events, counters) stays in the job: it hands
 * `onHotUpdate` in.
 */
import fsp from 'node:fs/promises';
import type { Dataset, Estimator, EvaluateOptions, Metrics } from '../../backend/estimator.js';
import { FileOps, schemeOf, toLocalPath } from '../../datasources/file-ops.js';
import { SednaError, invalidConfig, isSednaError, messageOf } from '../../common/errors.js';
import { getLogger } from '../../common/logger.js';
import {
  HotUpdatePoller,
  hotUpdateError,
  parseHotUpdateConfig,
  type HotUpdateConfig,
  type PollOutcome,
} from '../hot-update.js';
import { localModel, modelFingerprint } from './model-files.js';
import { ModelSlot, type ModelVersion } from '../model-slot.js';

export interface ServingModelOptions<X, Y, P> {
  readonly estimator: Estimator<X, Y, P>;
  /** Close the estimator (and each one it is swapped for) when retired. */
  readonly ownsEstimator: boolean;
  readonly fileOps: FileOps;
  /** Builds a fresh estimator without a model: hot updates and evaluations then use new instances. */
  readonly factory?: (() => Promise<Estimator<X, Y, P>>) | undefined;
  /** Runs on a newly loaded model before it serves; throwing rejects the update. */
  readonly warmup?: ((estimator: Estimator<X, Y, P>) => Promise<void>) | undefined;
  /** Where the first model to serve is (undefined: the estimator already has one). */
  readonly location: (estimator: Estimator<X, Y, P>) => Promise<string | undefined>;
  /** What each hot-update poll found (the job reports and counts it). */
  readonly onHotUpdate: (outcome: PollOutcome) => Promise<void>;
}

/** Lets queued I/O (requests) run before the next chunk of work. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function readLocalOrRemote(location: string, fileOps: FileOps): Promise<Uint8Array | undefined> {
  if (schemeOf(location) === 'file') {
    try {
      return await fsp.readFile(toLocalPath(location));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
  try {
    return await fileOps.readFile(location);
  } catch (err) {
    if (isSednaError(err, 'SEDNA_ERR_FILE_NOT_FOUND')) return undefined;
    throw err;
  }
}

export class ServingModel<X, Y, P> {
  private readonly slot: ModelSlot<Estimator<X, Y, P>>;
  private readonly fileOps: FileOps;
  private readonly factory: (() => Promise<Estimator<X, Y, P>>) | undefined;
  private readonly warmup: ((estimator: Estimator<X, Y, P>) => Promise<void>) | undefined;
  private readonly location: (estimator: Estimator<X, Y, P>) => Promise<string | undefined>;
  private readonly onHotUpdate: (outcome: PollOutcome) => Promise<void>;
  private poller: HotUpdatePoller | undefined;
  private loading: Promise<void> | undefined;
  private isLoaded = false;

  constructor(options: ServingModelOptions<X, Y, P>) {
    this.slot = new ModelSlot(options.estimator, options.ownsEstimator);
    this.fileOps = options.fileOps;
    this.factory = options.factory;
    this.warmup = options.warmup;
    this.location = options.location;
    this.onHotUpdate = options.onHotUpdate;
  }

  /** The estimator serving now (it changes with hot updates when there is a factory). */
  get estimator(): Estimator<X, Y, P> {
    return this.slot.estimator;
  }

  /** The serving model's version and location. */
  get current(): ModelVersion {
    return this.slot.current;
  }

  /** True once a model serves (loaded, trained or named by the hot-update file). */
  get loaded(): boolean {
    return this.isLoaded;
  }

  /** Runs `fn` on the serving model, which stays open until `fn` settles even if a swap happens. */
  run<T>(fn: (estimator: Estimator<X, Y, P>, model: ModelVersion) => Promise<T>): Promise<T> {
    return this.slot.run(fn);
  }

  /** Records a model the job put into the serving estimator itself (after training). */
  adopt(model: ModelVersion): void {
    this.slot.setCurrent(model);
    this.isLoaded = true;
  }

  /** Loads the serving model once (shared by concurrent first calls; retried after a failure). */
  ensureLoaded(): Promise<void> {
    this.loading ??= (async () => {
      const location = await this.location(this.slot.estimator);
      if (location !== undefined) {
        await this.slot.run((estimator) => this.loadInto(estimator, location));
        this.slot.setCurrent({ version: undefined, url: location });
      }
      this.isLoaded = true;
    })().catch((err: unknown) => {
      this.loading = undefined;
      throw err;
    });
    return this.loading;
  }

  async loadInto(estimator: Estimator<X, Y, P>, location: string): Promise<void> {
    const local = await localModel(location, this.fileOps);
    try {
      await estimator.load(local.path);
    } finally {
      await local.release();
    }
  }

  /** Evaluates the model at `url`: in a fresh estimator when there is a factory, else in the serving one. */
  async evaluate(url: string, data: Dataset<X, Y>, options: EvaluateOptions<Y>): Promise<Metrics> {
    if (this.factory === undefined) {
      return this.slot.run(async (estimator) => {
        await this.loadInto(estimator, url);
        this.slot.setCurrent({ version: undefined, url });
        return estimator.evaluate(data, options);
      });
    }
    const estimator = await this.factory();
    try {
      await this.loadInto(estimator, url);
      return await estimator.evaluate(data, options);
    } finally {
      await estimator.close();
    }
  }

  /**
   * Hot update start: the version in the file at start is the current one (no Sedna "latest" reload);
   * its model serves when it loads (it is the one the LC deployed last), else MODEL_URL does and the
   * first poll reports the problem.
   */
  async startHotUpdate(configPath: string, periodMs: number, settleMs: number | undefined): Promise<void> {
    const log = getLogger('incremental-learning');
    let version: string | undefined;
    const bytes = await readLocalOrRemote(configPath, this.fileOps).catch(() => undefined);
    if (bytes !== undefined) {
      try {
        const config = parseHotUpdateConfig(Buffer.from(bytes).toString('utf8'), configPath);
        await this.slot.run((estimator) => this.loadInto(estimator, config.modelPath));
        this.slot.setCurrent({ version: config.modelUpdateTime, url: config.modelPath });
        this.isLoaded = true;
        version = config.modelUpdateTime;
        log.info({ version, modelPath: config.modelPath }, 'serving the model the hot-update file names');
      } catch (err) {
        log.warn({ err }, 'the hot-update file at start is unusable; serving MODEL_URL, the next poll reports it');
      }
    }
    if (!this.isLoaded) await this.ensureLoaded();
    this.poller = new HotUpdatePoller({
      configPath,
      periodMs,
      version,
      ...(settleMs === undefined ? {} : { settleMs }),
      read: (location) => readLocalOrRemote(location, this.fileOps),
      fingerprint: modelFingerprint,
      apply: (config) => this.applyUpdate(config),
      onOutcome: this.onHotUpdate,
    });
    this.poller.start();
  }

  /** Loads the new model beside the old one and swaps; any failure leaves the old one serving. */
  private async applyUpdate(config: HotUpdateConfig): Promise<void> {
    const { modelPath, modelUpdateTime: version } = config;
    if ((await modelFingerprint(modelPath)) === undefined) {
      throw hotUpdateError('model-missing', `the model ${modelPath} does not exist`, { modelPath, version });
    }
    const wrap = (err: unknown): SednaError =>
      isSednaError(err, 'SEDNA_ERR_HOT_UPDATE')
        ? err
        : hotUpdateError(
            isSednaError(err, 'SEDNA_ERR_MODEL_NOT_FOUND') || isSednaError(err, 'SEDNA_ERR_FILE_NOT_FOUND')
              ? 'model-missing'
              : 'model-invalid',
            `cannot load ${modelPath}: ${messageOf(err)}`,
            { modelPath, version },
            err,
          );
    let local: { path: string; release: () => Promise<void> };
    try {
      local = await localModel(modelPath, this.fileOps);
    } catch (err) {
      throw wrap(err);
    }
    try {
      if (this.factory !== undefined) {
        const next = await this.factory();
        try {
          // Each step is a synchronous chunk of work (building the model, its first predict):
          // letting requests run between them keeps every event-loop stall short.
          await yieldToEventLoop();
          await next.load(local.path);
          await yieldToEventLoop();
          await this.warmup?.(next);
          await yieldToEventLoop();
        } catch (err) {
          await next.close().catch(() => undefined);
          throw err;
        }
        this.slot.swap(next, { version, url: modelPath });
      } else {
        await this.slot.run(async (estimator) => {
          await yieldToEventLoop();
          await estimator.load(local.path);
          await yieldToEventLoop();
          await this.warmup?.(estimator);
        });
        this.slot.setCurrent({ version, url: modelPath });
      }
    } catch (err) {
      throw wrap(err);
    } finally {
      await local.release();
    }
  }

  /** Polls the hot-update file now; rejects when hot update is off. */
  pollNow(): Promise<PollOutcome> {
    if (this.poller === undefined) {
      return Promise.reject(invalidConfig('MODEL_HOT_UPDATE', false, 'true to poll for hot updates'));
    }
    return this.poller.pollNow();
  }

  /** Stops polling and closes the model once its running requests finish. */
  async close(): Promise<void> {
    await this.poller?.close();
    await this.slot.close();
  }
}
