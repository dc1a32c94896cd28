/**
 * Sedna's federated-learning v2 API (spec §3.2–§3.4, §5.3 v2, §6.4 `AggregationServerV2`) with
 * Sedna's constructor shapes: `FederatedLearningV2(data, estimator, aggregation, transmitter)` for
 * a trainer and `AggregationServerV2(data, estimator, aggregation, transmitter, chooser)` for the
 * aggregator. Sedna's classes only handed their parameters to Plato; these do the work on the v1
 * transport (binary WebSocket frames, round timeout, reconnect): the trainer is a
 * `FederatedLearning` job, the aggregator an `AggregationServer` with client selection and an
 * exit on the target accuracy, which it measures on its own test data after each round.
 *
 * The hyperparameters Sedna read from `estimator.hyperparameters` (`rounds`, `target_accuracy`,
 * `epochs`, `batch_size`, `learning_rate`) are read from there too, or given as `hyperparameters`.
 */
import type { Dataset, Estimator, TrainOptions } from '../../backend/estimator.js';
import { castWeightsLike, layoutOf, type WeightLayout } from '../../backend/weights.js';
import type { AggregationAlgorithm } from '../../algorithms/aggregation/base.js';
import type { SednaConfig } from '../../common/config.js';
import { invalidArgument, messageOf } from '../../common/errors.js';
import { getLogger } from '../../common/logger.js';
import { S3Transmitter, WSTransmitter, type Transmitter } from '../../service/transmitter.js';
import type { LCClient } from '../../service/client/lc-client.js';
import type { AggregationClientOptions } from '../../service/client/aggregation-client.js';
import {
  AggregationServer,
  type AggregationServerOptions,
  type AggregationSummary,
  type ClientChooseOption,
} from '../../service/server/aggregation-server.js';
import { K8sResourceKind } from '../../common/constants.js';
import { JobBase, OwnedResources } from '../job-base.js';
import { FederatedLearning, type FederatedTrainOptions, type FederatedTrainResult } from './federated-learning.js';

export {
  S3Transmitter,
  WSTransmitter,
  type S3TransmitterOptions,
  type S3WeightsRef,
  type Transmitter,
} from '../../service/transmitter.js';

/**
 * The transmitter TRANSMITTER names (Sedna's `get_transmitter_from_config`): `ws`, or `s3` with
 * S3_ENDPOINT_URL, ACCESS_KEY_ID, SECRET_ACCESS_KEY and AGG_DATA_PATH (an s3://bucket/prefix).
 */
export function transmitterFromConfig(config: SednaConfig): Transmitter {
  if (config.transmitter === 's3') {
    return new S3Transmitter(config.s3EndpointUrl, config.accessKeyId, config.secretAccessKey, config.aggDataPath);
  }
  return new WSTransmitter();
}

/**
 * The layout of the estimator's weights, or undefined (logged) when it has none to give before
 * training (a model built on first fit): round 1 then takes its layout from its first update.
 */
async function modelLayout(estimator: Estimator): Promise<WeightLayout | undefined> {
  try {
    return layoutOf(await estimator.getWeights());
  } catch (err) {
    getLogger('fl.v2').info(
      { err: messageOf(err) },
      "the global model has no weights yet; round 1's first update sets the round's tensor layout",
    );
    return undefined;
  }
}

/** Whether the job closes the transmitter: an S3 one holds sockets. */
const closeable = (t: Transmitter): t is S3Transmitter => t.kind === 's3';

/** What Sedna's examples set in `estimator.hyperparameters` (CRD strings accepted). */
export interface FederatedHyperparameters {
  /** Rounds before the job ends (Sedna: `rounds = exit_round`). Default: exit_round. */
  readonly rounds?: number | string;
  /** The aggregator ends the job once its test accuracy reaches this (0–1). Default: none. */
  readonly target_accuracy?: number | string;
  readonly epochs?: number | string;
  readonly batch_size?: number | string;
  readonly learning_rate?: number | string;
  readonly [other: string]: unknown;
}

/** Sedna's `Dataset(trainset=..., testset=..., customized=True)`. */
export interface FederatedData<X = unknown, Y = unknown> {
  readonly trainset?: Dataset<X, Y>;
  readonly testset?: Dataset<X, Y>;
}

/** An estimator that may carry Sedna's `hyperparameters`. */
export type EstimatorWithHyperparameters<X, Y, P> = Estimator<X, Y, P> & {
  readonly hyperparameters?: FederatedHyperparameters;
};

function hyperparametersOf(
  estimator: { readonly hyperparameters?: FederatedHyperparameters } | undefined,
  given: FederatedHyperparameters | undefined,
): FederatedHyperparameters {
  return { ...(estimator?.hyperparameters ?? {}), ...(given ?? {}) };
}

function numberOf(name: string, value: unknown, check: (n: number) => boolean, expected: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'string' ? Number(value.trim()) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || !check(n)) throw invalidArgument(name, value, expected);
  return n;
}

const positiveInteger = (n: number): boolean => Number.isSafeInteger(n) && n >= 1;

/** The local training options the hyperparameters give (epochs, batch_size, learning_rate). */
function trainOptionsOf(h: FederatedHyperparameters): TrainOptions {
  const epochs = numberOf('hyperparameters.epochs', h.epochs, positiveInteger, 'an integer ≥ 1');
  const batchSize = numberOf('hyperparameters.batch_size', h.batch_size, positiveInteger, 'an integer ≥ 1');
  const learningRate = numberOf('hyperparameters.learning_rate', h.learning_rate, (n) => n > 0, 'a number > 0');
  return {
    ...(epochs === undefined ? {} : { epochs }),
    ...(batchSize === undefined ? {} : { batchSize }),
    ...(learningRate === undefined ? {} : { learningRate }),
  };
}

function aggregationName(aggregation: string | AggregationAlgorithm | undefined): string {
  return typeof aggregation === 'object' ? aggregation.name : (aggregation ?? 'FedAvgV2');
}

export interface FederatedLearningV2Options<X = unknown, Y = unknown, P = unknown> {
  /** The local training data (`trainset`) and validation data (`testset`). */
  data: FederatedData<X, Y>;
  estimator: EstimatorWithHyperparameters<X, Y, P>;
  /** The algorithm (its name is the aggregator's path). Default `FedAvgV2`. */
  aggregation?: string | AggregationAlgorithm;
  /** Default: the one TRANSMITTER names. */
  transmitter?: Transmitter;
  /** Overrides `estimator.hyperparameters`. */
  hyperparameters?: FederatedHyperparameters;
  config?: SednaConfig;
  client?: Partial<Omit<AggregationClientOptions, 'url' | 'clientId'>>;
  lcClient?: LCClient | false;
  ownsEstimator?: boolean;
}

/** A v2 trainer: a FederatedLearning job (reports, reconnects, client selection, round configuration). */
export class FederatedLearningV2<X = unknown, Y = unknown, P = unknown> extends JobBase {
  readonly aggregation: string;
  readonly transmitter: Transmitter;
  readonly hyperparameters: FederatedHyperparameters;
  private readonly job: FederatedLearning<X, Y, P>;
  private readonly data: FederatedData<X, Y>;

  private constructor(
    config: SednaConfig,
    resources: OwnedResources,
    job: FederatedLearning<X, Y, P>,
    options: FederatedLearningV2Options<X, Y, P>,
    transmitter: Transmitter,
  ) {
    super({
      name: 'FederatedLearningV2',
      component: 'fl.job',
      config,
      resources,
      ownerKind: K8sResourceKind.FEDERATED_LEARNING_JOB,
    });
    this.job = job;
    this.data = options.data;
    this.aggregation = job.aggregation;
    this.transmitter = transmitter;
    this.hyperparameters = hyperparametersOf(options.estimator, options.hyperparameters);
  }

  /** Builds the trainer and connects to the aggregator (waiting for it up to CONNECT_TIMEOUT). */
  static async create<X, Y, P>(options: FederatedLearningV2Options<X, Y, P>): Promise<FederatedLearningV2<X, Y, P>> {
    const config = JobBase.resolveConfig(options.config);
    const transmitter = options.transmitter ?? transmitterFromConfig(config);
    if (options.data.trainset === undefined) throw invalidArgument('data.trainset', undefined, 'a dataset');
    trainOptionsOf(hyperparametersOf(options.estimator, options.hyperparameters));
    const resources = new OwnedResources();
    if (closeable(transmitter)) resources.own(transmitter);
    const job = resources.own(
      await FederatedLearning.create<X, Y, P>({
        estimator: options.estimator,
        aggregation: aggregationName(options.aggregation),
        config,
        client: { ...(options.client ?? {}), transmitter },
        ...(options.lcClient === undefined ? {} : { lcClient: options.lcClient }),
        ...(options.ownsEstimator === undefined ? {} : { ownsEstimator: options.ownsEstimator }),
      }),
    );
    return new FederatedLearningV2(config, resources, job, options, transmitter);
  }

  /** Sedna's `get_transmitter_from_config()`. */
  static getTransmitterFromConfig(config?: SednaConfig): Transmitter {
    return transmitterFromConfig(JobBase.resolveConfig(config));
  }

  /** Trains until the aggregator ends the job (its rounds, or its target accuracy reached). */
  train<R = unknown>(
    options: Omit<FederatedTrainOptions<R>, 'epochs' | 'batchSize' | 'learningRate'> = {},
  ): Promise<FederatedTrainResult<R>> {
    this.assertOpen();
    const trainset = this.data.trainset as Dataset<X, Y>;
    return this.job.train(trainset, this.data.testset, { ...trainOptionsOf(this.hyperparameters), ...options });
  }
}

export interface AggregationServerV2Options<X = unknown, Y = unknown, P = unknown> {
  /** `testset`: what the aggregator measures the global model's accuracy on (for `target_accuracy`). */
  data?: FederatedData<X, Y>;
  /** The global model: it takes each round's aggregate, is evaluated and saved to MODEL_URL. */
  estimator?: EstimatorWithHyperparameters<X, Y, P>;
  /** Default `FedAvgV2`. */
  aggregation?: string | AggregationAlgorithm;
  transmitter?: Transmitter;
  /** Client selection (Sedna's `SimpleClientChoose(per_round)`). Default: every client each round. */
  chooser?: ClientChooseOption;
  hyperparameters?: FederatedHyperparameters;
  config?: SednaConfig;
  /** Overrides for the aggregation server (timeouts, host, port, ...). */
  server?: Omit<AggregationServerOptions, 'aggregation' | 'clientChoose' | 'exitWhen' | 'transmitter'>;
  ownsEstimator?: boolean;
}

/** One round as the v2 aggregator saw it. */
export interface AggregationRoundV2 {
  readonly round: number;
  /** The global model's accuracy on `data.testset` (undefined without an estimator and test data). */
  readonly accuracy: number | undefined;
  /** Where the global model was saved (undefined without MODEL_URL). */
  readonly modelUrl: string | undefined;
}

export interface AggregationSummaryV2 extends AggregationSummary {
  readonly history: readonly AggregationRoundV2[];
  /** Whether the job ended because the target accuracy was reached. */
  readonly reachedTarget: boolean;
}

/** A v2 aggregator: AggregationServer with `rounds`, client selection and the target-accuracy exit. */
export class AggregationServerV2<X = unknown, Y = unknown, P = unknown> extends JobBase {
  readonly server: AggregationServer;
  readonly transmitter: Transmitter;
  readonly hyperparameters: FederatedHyperparameters;
  readonly targetAccuracy: number | undefined;
  private readonly history: AggregationRoundV2[] = [];
  private reachedTarget = false;

  private constructor(
    config: SednaConfig,
    resources: OwnedResources,
    server: AggregationServer,
    transmitter: Transmitter,
    hyperparameters: FederatedHyperparameters,
    targetAccuracy: number | undefined,
  ) {
    super({
      name: 'AggregationServerV2',
      component: 'fl.server',
      config,
      resources,
      ownerKind: K8sResourceKind.FEDERATED_LEARNING_JOB,
    });
    this.server = server;
    this.transmitter = transmitter;
    this.hyperparameters = hyperparameters;
    this.targetAccuracy = targetAccuracy;
  }

  /** Builds the aggregator from Sedna's variables (AGG_BIND_IP/PORT, PARTICIPANTS_COUNT, exit_round, ...). */
  static async create<X, Y, P>(
    options: AggregationServerV2Options<X, Y, P> = {},
  ): Promise<AggregationServerV2<X, Y, P>> {
    const config = JobBase.resolveConfig(options.config);
    const transmitter = options.transmitter ?? transmitterFromConfig(config);
    const hyperparameters = hyperparametersOf(options.estimator, options.hyperparameters);
    const rounds = numberOf('hyperparameters.rounds', hyperparameters.rounds, positiveInteger, 'an integer ≥ 1');
    const target = numberOf(
      'hyperparameters.target_accuracy',
      hyperparameters.target_accuracy,
      (n) => n > 0 && n <= 1,
      'a number in (0, 1]',
    );
    const { estimator, data } = options;
    const resources = new OwnedResources();
    if (estimator !== undefined && (options.ownsEstimator ?? true)) resources.own(estimator);
    if (closeable(transmitter)) resources.own(transmitter);
    // Filled in below: the exit check needs the job, the job needs the server.
    let job: AggregationServerV2<X, Y, P> | undefined;
    try {
      // Round 1 is held to the global model's layout, so the first update to arrive (a stranger's,
      // say) cannot set the shapes the honest trainers are then refused for.
      const layout = options.server?.layout ?? (estimator === undefined ? undefined : await modelLayout(estimator));
      const server = await AggregationServer.create({
        ...AggregationServer.optionsFromConfig(config),
        aggregation: options.aggregation ?? 'FedAvgV2',
        ...(rounds === undefined ? {} : { exitRound: rounds }),
        ...(options.chooser === undefined ? {} : { clientChoose: options.chooser }),
        ...(layout === undefined ? {} : { layout }),
        ...(options.server ?? {}),
        transmitter,
        exitWhen: async ({ round, weights }) => {
          if (estimator === undefined) return false;
          const local = await estimator.getWeights();
          await estimator.setWeights(castWeightsLike(weights, layoutOf(local), `aggregate of round ${round}`));
          return (await job?.adopted(estimator, round, data?.testset)) === true;
        },
      });
      resources.own(server);
      job = new AggregationServerV2(config, resources, server, transmitter, hyperparameters, target);
      return job;
    } catch (err) {
      await resources.closeAll();
      throw err;
    }
  }

  /** Rounds so far, with the global model's accuracy. */
  get rounds(): readonly AggregationRoundV2[] {
    return this.history;
  }

  /** Listens (idempotent); resolves with the base URL. `start()` listens too. */
  listen(): Promise<string> {
    this.assertOpen();
    return this.server.start();
  }

  /** Listens and runs the job (Sedna's `start()`): resolves when it is over. */
  async start(): Promise<AggregationSummaryV2> {
    await this.listen();
    const summary = await this.server.done;
    return { ...summary, history: [...this.history], reachedTarget: this.reachedTarget };
  }

  /** The global model took round `round`'s aggregate: save it, measure it; true ends the job. */
  private async adopted(
    estimator: Estimator<X, Y, P>,
    round: number,
    testset: Dataset<X, Y> | undefined,
  ): Promise<boolean> {
    const modelUrl =
      this.config.modelUrl === undefined || this.config.modelUrl === ''
        ? undefined
        : await estimator.save(this.config.modelUrl);
    let accuracy: number | undefined;
    if (testset !== undefined) {
      const value = (await estimator.evaluate(testset)).accuracy;
      accuracy = typeof value === 'number' ? value : undefined;
    }
    this.history.push({ round, accuracy, modelUrl });
    this.log.info(
      { round, accuracy, modelUrl },
      `round ${round}: global model${accuracy === undefined ? '' : ` accuracy ${accuracy}`}`,
    );
    if (this.targetAccuracy === undefined || accuracy === undefined || accuracy < this.targetAccuracy) return false;
    this.reachedTarget = true;
    this.log.info({ round, accuracy, target: this.targetAccuracy }, 'target accuracy reached; this is the last round');
    return true;
  }
}
