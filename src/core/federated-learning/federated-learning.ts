/**
 * Federated learning, the training worker (Sedna's v1 `FederatedLearning`, spec §5.3): train on
 * local data, send the weights to the aggregator, take the aggregate back, repeat until the
 * aggregator answers `exit_flag: "ok"`. Only weights leave the node.
 *
 * Configuration comes from the variables the controller injects: AGG_PROTOCOL/AGG_IP/AGG_PORT
 * (`{protocol}://{ip}:{port}/{aggregation}`), CONNECT_TIMEOUT, WORKER_NAME (the client id),
 * JOB_NAME, MODEL_URL (where each round's model is saved), DATA_PATH_PREFIX and LC_SERVER.
 *
 * Reports to the LocalController follow Sedna's training worker (`kind: train`, `running` each
 * round, `completed` at the end, `failed` on error, `results` with list metrics and ownerInfo
 * `{currentRound, sampleCount, startTime, updateTime}`), with two deliberate differences: the
 * report's `ownerKind` is `federatedlearningjob` (Sedna's Python job sends `default`, which the
 * real LC drops), and `currentRound` is the aggregator's round number (Sedna sends the worker's
 * local count, which drifts from the server's after a missed round).
 */
import { randomUUID } from 'node:crypto';
import type { Dataset, Estimator, Metrics, TrainOptions } from '../../backend/estimator.js';
import { layoutOf, type WeightRecord } from '../../backend/weights.js';
import '../../algorithms/aggregation/index.js';
import {
  AggregationClient,
  type AggregateMessage,
  type AggregationClientOptions,
  type RoundConfigFrame,
} from '../../service/client/aggregation-client.js';
import { formatLocalTime, type LCClient, type ReportResult } from '../../service/client/lc-client.js';
import { resolvePostProcess, type PostProcess } from '../callbacks.js';
import { withEpochProgress } from '../progress.js';
import { logProgress } from '../../common/progress.js';
import { ClassFactory, ClassType } from '../../common/class-factory.js';
import type { SednaConfig } from '../../common/config.js';
import { K8sResourceKind, type ReportStatus } from '../../common/constants.js';
import { SednaError, isSednaError, messageOf } from '../../common/errors.js';
import { tokenOption } from '../../common/shared-token.js';
import { JobBase, OwnedResources } from '../job-base.js';
import { toMetricLists } from '../metric-lists.js';

export interface FederatedLearningOptions<X = unknown, Y = unknown, P = unknown> {
  /** The local model. The job owns it (closes it) unless `ownsEstimator: false`. */
  estimator: Estimator<X, Y, P>;
  /** The aggregation algorithm's name (the WebSocket path); default `aggregation_algorithm` (FedAvg). */
  aggregation?: string;
  config?: SednaConfig;
  /** Overrides for the WebSocket client (encoding, timeouts, ...). */
  client?: Partial<Omit<AggregationClientOptions, 'url' | 'clientId'>>;
  /** The LC client; default one from LC_SERVER; `false`: no reports. */
  lcClient?: LCClient | false;
  /** Connect in `create()` (Sedna registers in its constructor). Default true. */
  register?: boolean;
  ownsEstimator?: boolean;
}

export type FederatedTrainOptions<R = unknown> = TrainOptions & {
  /** Applied to the estimator after the last round (Sedna's `post_process`); its result is `postProcessed`. */
  postProcess?: PostProcess<Estimator, R>;
  /** Called after each round, once the aggregate is set and saved. */
  onRound?: (round: FederatedRound) => void;
  /**
   * Deadline for one round's aggregate after sending the update; past it the job fails with
   * SEDNA_ERR_ROUND_STALLED (logged with what it waited for, reported as `failed`). Default: the
   * aggregator's round deadline (from its subscribe reply; 1 h for an aggregator that does not
   * say) plus CONNECT_TIMEOUT.
   */
  roundTimeoutMs?: number;
};

/** One federated round as this worker saw it. */
export interface FederatedRound {
  /** The aggregator's round number (`round_number` of recv_weight). */
  readonly round: number;
  /** This worker's count of local trainings (Sedna reports this one). */
  readonly localRound: number;
  readonly exitFlag: 'ok' | 'continue';
  /** Σ num_samples of the round (`total_sample`). */
  readonly totalSamples: number;
  /** Whether this worker trained in the round (false: client selection did not choose it). */
  readonly selected: boolean;
  /** Local training metrics of the round (empty when it did not train). */
  readonly metrics: Metrics;
  /** Where the aggregated model was saved (undefined without MODEL_URL). */
  readonly modelUrl: string | undefined;
  readonly trainMs: number;
  readonly roundMs: number;
}

export interface FederatedTrainResult<R = unknown> {
  readonly rounds: readonly FederatedRound[];
  /** The last report's `results`. */
  readonly results: readonly ReportResult[];
  readonly modelUrl: string | undefined;
  readonly postProcessed: R | undefined;
}

function asSednaError(err: unknown, what: string): SednaError {
  return isSednaError(err)
    ? err
    : new SednaError('SEDNA_ERR_ROUND_FAILED', `${what}: ${messageOf(err)}`, { cause: err });
}

export class FederatedLearning<X = unknown, Y = unknown, P = unknown> extends JobBase {
  readonly aggregation: string;
  /** `{AGG_PROTOCOL}://{AGG_IP}:{AGG_PORT}/{aggregation}`. */
  readonly url: string;
  readonly clientId: string;
  private readonly estimator: Estimator<X, Y, P>;
  private readonly options: FederatedLearningOptions<X, Y, P>;
  private client: AggregationClient | undefined;
  private registering: Promise<AggregationClient> | undefined;
  private readonly history: FederatedRound[] = [];

  private constructor(options: FederatedLearningOptions<X, Y, P>, config: SednaConfig, aggregation: string) {
    // Released last acquired first: the aggregator connection, the LC client, then the model.
    const resources = new OwnedResources();
    if (options.ownsEstimator ?? true) resources.own(options.estimator);
    const lc = JobBase.lcClientFor(options.lcClient, config, resources);
    super({
      name: 'FederatedLearning',
      component: 'fl.job',
      config,
      ownerKind: K8sResourceKind.FEDERATED_LEARNING_JOB,
      lc,
      resources,
    });
    this.options = options;
    this.estimator = options.estimator;
    this.aggregation = aggregation;
    this.url = `${config.aggProtocol}://${config.aggIp.includes(':') ? `[${config.aggIp}]` : config.aggIp}:${config.aggPort}/${aggregation}`;
    // Sedna uses WORKER_NAME; without one, a unique id keeps two trainers from clashing.
    this.clientId = config.workerName !== '' ? config.workerName : `${config.jobName}-${randomUUID().slice(0, 8)}`;
    this.own({
      close: async () => {
        const client = this.client ?? (await this.registering?.catch(() => undefined));
        await client?.close();
      },
    });
  }

  /** Builds the job and (by default) connects to the aggregator, waiting for it with backoff up to CONNECT_TIMEOUT. */
  static async create<X, Y, P>(options: FederatedLearningOptions<X, Y, P>): Promise<FederatedLearning<X, Y, P>> {
    const config = JobBase.resolveConfig(options.config);
    const aggregation = options.aggregation ?? config.aggregationAlgorithm;
    // As Sedna, the algorithm must be known here too (it names the route).
    ClassFactory.getCls(ClassType.FL_AGG, aggregation);
    const job = new FederatedLearning(options, config, aggregation);
    if (options.register ?? true) {
      try {
        await job.register();
      } catch (err) {
        await job.close();
        throw err;
      }
    }
    return job;
  }

  /** Connects and subscribes (idempotent): retries with backoff for up to CONNECT_TIMEOUT seconds. */
  register(): Promise<AggregationClient> {
    if (this.closed) return Promise.reject(this.closedError());
    this.registering ??= AggregationClient.create({
      connectTimeoutMs: this.config.connectTimeout * 1000,
      livenessTimeoutMs: this.config.connectTimeout * 1000,
      sendTimeoutMs: this.config.connectTimeout * 1000,
      jobName: this.config.jobName,
      ...tokenOption(this.config),
      ...this.options.client,
      url: this.url,
      clientId: this.clientId,
    }).then(
      (client) => {
        this.client = client;
        return client;
      },
      (err: unknown) => {
        this.registering = undefined;
        throw err;
      },
    );
    return this.registering;
  }

  /** The rounds trained so far. */
  get rounds(): readonly FederatedRound[] {
    return this.history;
  }

  /**
   * Trains round after round until the aggregator says `exit_flag: "ok"`: local epochs, send
   * the weights with the sample count, set the aggregate, save it to MODEL_URL, report. A
   * malformed aggregate or a lost aggregator fails the job with SEDNA_ERR_ROUND_FAILED (reported
   * as `failed`).
   */
  async train<R = unknown>(
    trainData: Dataset<X, Y>,
    validData?: Dataset<X, Y>,
    options: FederatedTrainOptions<R> = {},
  ): Promise<FederatedTrainResult<R>> {
    this.assertOpen();
    const { postProcess, onRound, roundTimeoutMs, ...trainOptions } = options;
    const post = resolvePostProcess<Estimator, R>(postProcess);
    const numSamples = trainData.x.length;
    const log = this.log;
    let localRound = 0;
    let started = new Date();
    let lastRound: FederatedRound | undefined;
    let results: readonly ReportResult[] = [];
    try {
      const client = await this.register();
      for (;;) {
        localRound++;
        started = new Date();
        const roundStart = Date.now();
        // The round this training is for: an update that arrives after that round closed is
        // ignored by the server, and the aggregate of that round is taken instead.
        let forRound = client.round;
        // A sedna-sdk server opens each round with its configuration (FedProx's mu) and, with
        // client selection, whether this client trains in it; one that is not chosen waits.
        let config: RoundConfigFrame = { round: forRound ?? 0, data: {}, selected: true };
        if (forRound !== undefined && client.server?.round_config === true) {
          config = await client.roundConfig(forRound, {
            ...(trainOptions.signal === undefined ? {} : { signal: trainOptions.signal }),
          });
          forRound = config.round;
        }
        let metrics: Metrics = {};
        let weights: readonly WeightRecord[];
        if (config.selected) {
          metrics = await this.estimator.train(
            trainData,
            validData,
            withEpochProgress(await this.roundTrainOptions(trainOptions, config), log, `round ${localRound} training`),
          );
          weights = await this.estimator.getWeights();
          await client.sendUpdate(weights, numSamples, forRound === undefined ? {} : { round: forRound });
        } else {
          log.info({ round: forRound }, 'not chosen to train in this round; waiting for its aggregate');
          weights = await this.estimator.getWeights();
        }
        const trainMs = Date.now() - roundStart;
        const aggregate = await client.nextAggregate({
          ...(forRound === undefined ? {} : { minRound: forRound }),
          ...(roundTimeoutMs === undefined ? {} : { timeoutMs: roundTimeoutMs }),
          ...(trainOptions.signal === undefined ? {} : { signal: trainOptions.signal }),
        });
        const modelUrl = await this.adopt(aggregate, weights);
        const entries =
          modelUrl === undefined
            ? []
            : this.estimator.modelInfo(modelUrl, {
                dataPathPrefix: this.config.dataPathPrefix,
                metrics: toMetricLists(metrics, { strict: false, extra: { num_samples: numSamples } }),
              });
        results = entries;
        lastRound = {
          round: aggregate.round,
          localRound,
          exitFlag: aggregate.exitFlag,
          totalSamples: aggregate.totalSamples,
          selected: config.selected,
          metrics,
          modelUrl,
          trainMs,
          roundMs: Date.now() - roundStart,
        };
        this.history.push(lastRound);
        log.info(
          { round: aggregate.round, totalSamples: aggregate.totalSamples, exitFlag: aggregate.exitFlag, metrics },
          'federated round done',
        );
        logProgress(log, { task: 'federated rounds', done: aggregate.round, unit: 'rounds' });
        const status: ReportStatus = aggregate.exitFlag === 'ok' ? 'completed' : 'running';
        await this.report('train', status, results, this.ownerInfo(lastRound, started));
        onRound?.(lastRound);
        if (aggregate.exitFlag === 'ok') {
          // Nothing more to exchange: leaving now lets the aggregator shut down at once.
          await client.close();
          break;
        }
      }
    } catch (err) {
      const error = asSednaError(err, 'federated training failed');
      log.error({ err: error, localRound }, 'federated training failed');
      await this.report('train', 'failed', results, this.ownerInfo(lastRound, started));
      throw error;
    }
    const postProcessed = post === undefined ? undefined : await post(this.estimator);
    const modelUrl = this.history.at(-1)?.modelUrl;
    return { rounds: [...this.history], results, modelUrl, postProcessed };
  }

  /**
   * The round's training options: FedProx's `mu` from the round configuration becomes the
   * `proximal` option (TfjsEstimator), anchored at the weights the round starts from.
   */
  private async roundTrainOptions(options: TrainOptions, config: RoundConfigFrame): Promise<TrainOptions> {
    const mu = config.data.mu;
    if (typeof mu !== 'number' || !(mu > 0) || options.proximal !== undefined) return options;
    return { ...options, proximal: { mu, reference: await this.estimator.getWeights() } };
  }

  /** Sets the aggregate on the estimator (cast to its layout) and saves it to MODEL_URL. */
  private async adopt(aggregate: AggregateMessage, local: readonly WeightRecord[]): Promise<string | undefined> {
    const weights = AggregationClient.fitToLayout(aggregate, layoutOf(local));
    await this.estimator.setWeights(weights);
    const modelUrl = this.config.modelUrl;
    if (modelUrl === undefined || modelUrl === '') return undefined;
    return this.estimator.save(modelUrl);
  }

  private ownerInfo(round: FederatedRound | undefined, started: Date): Record<string, unknown> {
    return {
      currentRound: round?.round ?? 0,
      sampleCount: round?.totalSamples ?? 0,
      startTime: formatLocalTime(started),
      updateTime: formatLocalTime(),
    };
  }
}
