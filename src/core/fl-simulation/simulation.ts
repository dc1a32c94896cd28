/**
 * Federated learning simulated in one process: many virtual clients, each holding its part of a
 * data set, and the server's aggregation strategy, with an in-memory transport in between. The
 * same algorithms run as in a cluster (strategies, client choice, MistNet), and every model and
 * update is encoded into the binary weights frame and decoded again, so the bytes a round moves
 * are the bytes it would put on the wire.
 *
 * The clients share one estimator, trained in turn (set the global weights, train on the
 * client's samples, read the weights back), so a client costs its samples' indexes and nothing
 * else; updates go into the strategy as they are made, one at a time (each push awaited), as the
 * server feeds them.
 */
import { SednaError, isSednaError } from '../../common/errors.js';
import { ClassFactory, ClassType, type RawAlgorithmParams } from '../../common/class-factory.js';
import type { Dataset, Estimator, Metrics, TrainOptions } from '../../backend/estimator.js';
import { decodeWeightsFrame, encodeWeightsFrame, type WeightRecord } from '../../backend/weights.js';
import '../../algorithms/aggregation/index.js';
import '../../algorithms/client-choose/index.js';
import { UpdateQueue, type AggregationAlgorithm, type ClientUpdate } from '../../algorithms/aggregation/base.js';
import { MistNet } from '../../algorithms/aggregation/mistnet.js';
import type { ClientChooser } from '../../algorithms/client-choose/base.js';
import { encodeFeatureBatch } from '../../algorithms/split-learning/features.js';
import { MistNetCloud, type MistNetEdge } from '../../algorithms/split-learning/tfjs-split.js';
import { seededRandom, type RandomSource } from '../../algorithms/random.js';
import { partitionLabels } from './partition.js';

/** Samples as rows of numbers with class-index labels (what the digits MLP and TfjsEstimator take). */
export interface LabelledRows {
  readonly x: readonly (readonly number[])[];
  readonly y: readonly number[];
}

/** How poisoned clients corrupt their updates. */
export type AttackKind = 'noise' | 'sign-flip';

export interface SimulationAttack {
  /** How many clients are poisoned (the first ones of a seeded shuffle). */
  readonly clients: number;
  /**
   * `noise`: weights replaced by Gaussian noise of standard deviation `scale`; `sign-flip`: the
   * honest change from the global model, multiplied by −`scale`.
   */
  readonly kind?: AttackKind;
  /** Default 10. */
  readonly scale?: number;
}

export interface FlSimulationOptions {
  /** Builds the estimator the clients train in turn (called once; twice for MistNet: edges and cloud). */
  readonly estimator: () => Promise<Estimator>;
  readonly train: LabelledRows;
  /** Held-out samples the global model is evaluated on after every round. */
  readonly test: LabelledRows;
  /** Virtual clients (default 10). */
  readonly clients?: number;
  /** Rounds (default 5). */
  readonly rounds?: number;
  /** A registered aggregation name (default `FedAvg`) or an instance. */
  readonly strategy?: string | AggregationAlgorithm;
  /** The strategy's parameters, as CRD strings or numbers. */
  readonly strategyParams?: RawAlgorithmParams;
  /** `iid`, `dirichlet:<alpha>` or `shards:<k>` (default `iid`). */
  readonly partition?: string;
  /** Clients per round (default: all); chosen by `clientChoose`. */
  readonly perRound?: number;
  /** A registered client-choose name (default `SimpleClientChoose`) or an instance. */
  readonly clientChoose?: string | ClientChooser;
  /** Local training of each client: epochs (default 5; MistNet: the cloud's epochs), batch size (default 32), learning rate (default 0.01). */
  readonly epochs?: number;
  readonly batchSize?: number;
  readonly learningRate?: number;
  /**
   * Share of the training samples the server holds as public data (default 0): it pretrains the
   * initial global model on them for `pretrainEpochs` (default 10), and the clients share the rest.
   */
  readonly publicFraction?: number;
  readonly pretrainEpochs?: number;
  /** Poisoned clients (for robust aggregation). */
  readonly attack?: SimulationAttack;
  /** Seed of the partition, the client choice and the attack (default 1). */
  readonly seed?: number;
  /** Called after each round. */
  readonly onRound?: (round: SimulationRound) => void;
  /** Called after each client's turn: (client turns done, client turns in all rounds). */
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

export interface SimulationRound {
  readonly round: number;
  /** Clients asked to train. */
  readonly chosen: number;
  /** Updates the strategy used. */
  readonly aggregated: number;
  /** Updates it refused (bad values or layout). */
  readonly rejected: number;
  readonly accuracy: number;
  /** Global model frames sent to the chosen clients. */
  readonly bytesDown: number;
  /** Update frames the clients sent. */
  readonly bytesUp: number;
  readonly ms: number;
}

export interface SimulationResult {
  readonly strategy: string;
  readonly clients: number;
  readonly perRound: number;
  readonly partition: string;
  /** Samples per client: smallest, median, largest. */
  readonly clientSamples: { readonly min: number; readonly median: number; readonly max: number };
  readonly poisonedClients: readonly string[];
  /** Accuracy of the initial global model (after pretraining, if any). */
  readonly initialAccuracy: number;
  readonly rounds: readonly SimulationRound[];
  readonly finalAccuracy: number;
  readonly bytesMoved: number;
  readonly seconds: number;
  /** Peak resident memory of the process, sampled after each client's turn. */
  readonly peakRssBytes: number;
}

interface VirtualClient {
  readonly id: string;
  readonly samples: readonly number[];
  readonly poisoned: boolean;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) {
    throw new SednaError('SEDNA_ERR_INVALID_ARGUMENT', `${name}=${String(value)} is invalid: expected an integer ≥ 1`, {
      details: { argument: name, value },
    });
  }
  return v;
}

function rowsOf(data: LabelledRows, indexes: readonly number[]): Dataset<readonly number[], number> {
  return { x: indexes.map((i) => data.x[i] as readonly number[]), y: indexes.map((i) => data.y[i] as number) };
}

function accuracyOf(metrics: Metrics): number {
  const value = metrics.accuracy;
  return typeof value === 'number' ? value : Array.isArray(value) ? (value[0] as number) : NaN;
}

/**
 * The in-memory "wire": weights encoded into a frame, the bytes copied (as a socket would), and
 * decoded on the other side into arrays that share nothing with the sender's.
 */
function throughWire(weights: readonly WeightRecord[], meta = {}): { weights: WeightRecord[]; bytes: number } {
  const frame = encodeWeightsFrame(weights, meta).slice();
  return { weights: decodeWeightsFrame(frame).weights, bytes: frame.length };
}

function poison(
  update: readonly WeightRecord[],
  global: readonly WeightRecord[],
  attack: SimulationAttack,
  random: RandomSource,
): WeightRecord[] {
  const scale = attack.scale ?? 10;
  return update.map((w, t) => {
    if (!(w.data instanceof Float32Array)) return w;
    const base = (global[t] as WeightRecord).data as Float32Array;
    const data =
      attack.kind === 'sign-flip'
        ? w.data.map((v, i) => (base[i] as number) - scale * (v - (base[i] as number)))
        : w.data.map(() => scale * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));
    return { ...w, data };
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * Runs the simulation. Each round: the strategy configures it, the chooser picks the clients,
 * each chosen client trains from the global model (MistNet: extracts private features) and its
 * update goes through the in-memory transport into the strategy, and the aggregate, evaluated on
 * the test samples, is the next global model.
 */
export async function simulateFederatedLearning(options: FlSimulationOptions): Promise<SimulationResult> {
  const started = performance.now();
  const clientCount = positiveInt('clients', options.clients, 10);
  const rounds = positiveInt('rounds', options.rounds, 5);
  const perRound = Math.min(clientCount, positiveInt('perRound', options.perRound, clientCount));
  const epochs = positiveInt('epochs', options.epochs, 5);
  const batchSize = positiveInt('batchSize', options.batchSize, 32);
  const learningRate = options.learningRate ?? 0.01;
  const partition = options.partition ?? 'iid';
  const seed = options.seed ?? 1;
  const publicFraction = options.publicFraction ?? 0;
  if (!(publicFraction >= 0 && publicFraction < 1)) {
    throw new SednaError('SEDNA_ERR_INVALID_ARGUMENT', `publicFraction=${publicFraction} is invalid: expected [0, 1)`);
  }
  if (options.train.x.length !== options.train.y.length || options.test.x.length !== options.test.y.length) {
    throw new SednaError('SEDNA_ERR_INVALID_ARGUMENT', 'train and test need one label per sample');
  }
  const strategy =
    typeof options.strategy === 'object'
      ? options.strategy
      : ClassFactory.create<string, string, AggregationAlgorithm>(
          ClassType.FL_AGG,
          options.strategy ?? 'FedAvg',
          options.strategyParams ?? {},
        );
  const chooser =
    typeof options.clientChoose === 'object'
      ? options.clientChoose
      : ClassFactory.create<string, string, ClientChooser>(
          ClassType.CLIENT_CHOOSE,
          options.clientChoose ?? 'SimpleClientChoose',
          { per_round: perRound, seed },
        );

  // The data: a public slice for the server (if any), the rest split among the clients.
  const random = seededRandom(seed);
  const order = options.train.y.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  const publicCount = Math.floor(publicFraction * order.length);
  const publicIndexes = order.slice(0, publicCount);
  const pool = order.slice(publicCount);
  const parts = partitionLabels(
    pool.map((i) => options.train.y[i] as number),
    clientCount,
    partition,
    { seed },
  );
  const poisonedCount = Math.min(clientCount, options.attack?.clients ?? 0);
  const poisonedIds = new Set(
    Array.from({ length: clientCount }, (_, k) => ({ k, key: random() }))
      .sort((a, b) => a.key - b.key)
      .slice(0, poisonedCount)
      .map(({ k }) => `client-${k}`),
  );
  const clients: VirtualClient[] = parts.map((part, k) => ({
    id: `client-${k}`,
    samples: part.map((i) => pool[i] as number),
    poisoned: poisonedIds.has(`client-${k}`),
  }));
  const byId = new Map(clients.map((c) => [c.id, c]));

  const trainer = await options.estimator();
  const owned: Estimator[] = [trainer];
  let peakRss = process.memoryUsage().rss;
  const sampleRss = (): void => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  try {
    if (publicCount > 0) {
      await trainer.train(rowsOf(options.train, publicIndexes), undefined, {
        epochs: options.pretrainEpochs ?? 10,
        batchSize,
        learningRate,
      });
    }
    let global = throughWire(await trainer.getWeights()).weights;
    const initialAccuracy = accuracyOf(await trainer.evaluate(options.test));

    let edge: MistNetEdge | undefined;
    if (strategy instanceof MistNet) {
      const cloudEstimator = await options.estimator();
      owned.push(cloudEstimator);
      await cloudEstimator.setWeights(global);
      strategy.useCloud(
        new MistNetCloud({ estimator: cloudEstimator, cutLayer: strategy.cutLayer, epochs, batchSize, learningRate }),
      );
      edge = strategy.edge(trainer);
    }

    const attackRandom = seededRandom(seed ^ 0x5eed);
    const reports: SimulationRound[] = [];
    const totalTurns = rounds * perRound;
    let turns = 0;
    for (let round = 1; round <= rounds; round++) {
      options.signal?.throwIfAborted();
      const roundStarted = performance.now();
      const config = strategy.configure(round, global);
      const chosen = chooser.choose(
        round,
        clients.map((c) => ({ id: c.id, numSamples: c.samples.length })),
      );
      let rejected = 0;
      const queue = new UpdateQueue(() => {
        rejected++;
      });
      const aggregated = strategy.aggregate(round, queue);
      // Observed below; an early failure must not be an unhandled rejection meanwhile.
      aggregated.catch(() => undefined);
      let bytesUp = 0;
      let bytesDown = 0;
      for (const id of chosen) {
        options.signal?.throwIfAborted();
        const client = byId.get(id) as VirtualClient;
        const received = throughWire(global, { round });
        bytesDown += received.bytes;
        const start = received.weights;
        await trainer.setWeights(start);
        const data = rowsOf(options.train, client.samples);
        let weights: readonly WeightRecord[];
        if (edge !== undefined) {
          weights = encodeFeatureBatch(await edge.extract(data.x, data.y as readonly number[]));
        } else {
          const mu = (config as { mu?: unknown } | undefined)?.mu;
          // A fresh optimizer per turn: each virtual client is its own worker.
          const trainOptions: TrainOptions & {
            proximal?: { mu: number; reference: readonly WeightRecord[] };
            resetOptimizer: boolean;
          } = {
            epochs,
            batchSize,
            learningRate,
            resetOptimizer: true,
            ...(typeof mu === 'number' && mu > 0 ? { proximal: { mu, reference: start } } : {}),
          };
          await trainer.train(data, undefined, trainOptions);
          weights = await trainer.getWeights();
          if (client.poisoned && options.attack !== undefined)
            weights = poison(weights, start, options.attack, attackRandom);
        }
        const sent = throughWire(weights);
        bytesUp += sent.bytes;
        const update: ClientUpdate = {
          client: id,
          numSamples: client.samples.length,
          weights: sent.weights,
          encoding: 'binary',
        };
        try {
          await queue.push(update);
        } catch (err) {
          // The strategy stopped taking updates: its result (or error) says why.
          if (!isSednaError(err, 'SEDNA_ERR_CLOSED')) throw err;
        }
        turns++;
        sampleRss();
        options.onProgress?.(turns, totalTurns);
      }
      queue.end();
      const result = await aggregated;
      global = throughWire(result.weights).weights; // the broadcast: the next round's model
      (strategy as AggregationAlgorithm).recycle?.(result.weights);
      await trainer.setWeights(global);
      const accuracy = accuracyOf(await trainer.evaluate(options.test));
      const report: SimulationRound = {
        round,
        chosen: chosen.length,
        aggregated: result.clients.length,
        rejected,
        accuracy,
        bytesDown,
        bytesUp,
        ms: performance.now() - roundStarted,
      };
      reports.push(report);
      sampleRss();
      options.onRound?.(report);
    }
    const sizes = clients.map((c) => c.samples.length);
    return {
      strategy: strategy.name,
      clients: clientCount,
      perRound,
      partition,
      clientSamples: { min: Math.min(...sizes), median: median(sizes), max: Math.max(...sizes) },
      poisonedClients: clients.filter((c) => c.poisoned).map((c) => c.id),
      initialAccuracy,
      rounds: reports,
      finalAccuracy: reports.at(-1)?.accuracy ?? initialAccuracy,
      bytesMoved: reports.reduce((n, r) => n + r.bytesDown + r.bytesUp, 0),
      seconds: (performance.now() - started) / 1000,
      peakRssBytes: peakRss,
    };
  } finally {
    await Promise.all(owned.map((e) => e.close()));
  }
}
