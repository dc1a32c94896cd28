/**
 * The Estimator contract: what every job needs from a model, whatever runs it (onnxruntime-node,
 * TensorFlow.js, or the user's own object: Sedna's "Customize" estimator). Backends implement it;
 * jobs only ever talk to this interface.
 */
import type { Dataset } from '../datasources/dataset.js';
import type { WeightRecord } from './weights.js';

export type { Dataset };
/** Metrics as the LC expects them: numbers, or lists of numbers (IL eval reports lists). */
export type Metrics = Readonly<Record<string, number | readonly number[]>>;

export interface EpochProgress {
  /** 1-based epoch number. */
  readonly epoch: number;
  readonly epochs: number;
  /** Metrics of this epoch, e.g. `{ loss, acc, val_loss }`. */
  readonly metrics: Readonly<Record<string, number>>;
}

export interface TrainOptions {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Called after every epoch (the CLI renders it as a progress bar). */
  onEpoch?: (progress: EpochProgress) => void;
  /** Stops training between batches. */
  signal?: AbortSignal;
  /** Backend-specific extras. */
  [extra: string]: unknown;
}

export interface PredictOptions {
  batchSize?: number;
  [extra: string]: unknown;
}

/** A user metric: labels and predictions in, a number (or a list, e.g. per class) out. */
export type MetricFunction<Y = unknown, P = unknown> = (
  yTrue: readonly Y[],
  yPred: readonly P[],
) => number | readonly number[];

export interface EvaluateOptions<Y = unknown, P = unknown> {
  /** Named metrics; the result has one entry per name. */
  metrics?: Readonly<Record<string, MetricFunction<Y, P>>>;
  batchSize?: number;
  [extra: string]: unknown;
}

/** One entry of a report's `results`: exactly what the LocalController reads (spec §5.0, §5.2). */
export interface ModelResultEntry {
  readonly format: string;
  readonly url: string;
  readonly metrics: Metrics | null;
}

export interface ModelInfoOptions {
  /** Removed from the front of the reported URL (DATA_PATH_PREFIX, `/home/data`). */
  dataPathPrefix?: string;
  metrics?: Metrics | null;
}

/**
 * A model that jobs can train, run, evaluate, save, load and exchange weights with.
 * `X` is one input sample (or a batch, as the backend documents), `P` the prediction.
 */
export interface Estimator<X = unknown, Y = unknown, P = unknown> {
  /** Which backend runs it: `onnx`, `tfjs`, or a name of the user's choosing. */
  readonly backend: string;
  train(trainData: Dataset<X, Y>, validData?: Dataset<X, Y>, options?: TrainOptions): Promise<Metrics>;
  predict(x: X, options?: PredictOptions): Promise<P>;
  // Metric predictions are per sample, not the batch output type P, so the contract leaves them open.
  evaluate(data: Dataset<X, Y>, options?: EvaluateOptions<Y>): Promise<Metrics>;
  /** Writes the model to `url` (local path or remote URL) atomically; returns where it went. */
  save(url: string): Promise<string>;
  /** Loads the model from `url` (local path or remote URL). */
  load(url: string): Promise<void>;
  getWeights(): Promise<WeightRecord[]>;
  setWeights(weights: readonly WeightRecord[]): Promise<void>;
  /** The `results` entries for an LC report about the model saved at `url`. */
  modelInfo(url: string, options?: ModelInfoOptions): ModelResultEntry[];
  /** Releases native resources (sessions, tensors). */
  close(): Promise<void>;
}
