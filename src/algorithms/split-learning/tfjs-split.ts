/**
 * MistNet split learning on TF.js layers models: the edge runs the first `cut_layer` layers and
 * releases noisy, quantized features with the labels (never the raw samples); the cloud trains
 * the remaining layers on them, and the whole model (edge layers unchanged, cloud layers trained)
 * goes back to the edges.
 *
 * Both halves work on a `TfjsEstimator` (sedna-sdk/backend/tfjs) whose model is a chain of layers
 * (a `tf.sequential`, or a functional model without branches). The cloud half shares the layer
 * objects with the estimator's model, so training it trains that model in place. TF.js itself is
 * never imported here: it comes with the estimator.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { SednaError, invalidAlgorithmParam, invalidArgument } from '../../common/errors.js';
import { elementCount, type WeightRecord } from '../../backend/weights.js';
import type { Estimator, Metrics } from '../../backend/estimator.js';
import type { LayersModel, Tf } from '../../backend/tfjs.js';
import { secureRandom, type RandomSource } from '../random.js';
import { featureValues, type FeatureBatch, type FeatureQuantization, type MistNetCloudTrainer } from './features.js';
import {
  MAX_QUANTIZATION_BITS,
  addLaplaceNoise,
  clipValues,
  laplaceScale,
  quantize,
  type FeatureRange,
} from './privacy.js';

type Layer = tfjs.layers.Layer;

/** Samples for the edge: rows (each the model input's values, flattened) or flat float32 data with its dims. */
export type SplitInput =
  readonly (readonly number[])[] | { readonly data: Float32Array; readonly dims: readonly number[] };

/** Labels: class indices, or one row of targets per sample. */
export type SplitLabels = readonly number[] | readonly (readonly number[])[];

interface TfjsParts {
  readonly tf: Tf;
  readonly model: LayersModel;
}

/** The TF.js namespace and model behind an estimator, or SEDNA_ERR_NOT_SUPPORTED. */
function tfjsParts(estimator: Estimator, who: string): TfjsParts {
  const candidate = estimator as Partial<TfjsParts> & { readonly backend?: unknown };
  if (candidate.backend !== 'tfjs' || typeof candidate.tf !== 'object') {
    throw new SednaError(
      'SEDNA_ERR_NOT_SUPPORTED',
      `${who} splits TF.js layers models: pass a TfjsEstimator (sedna-sdk/backend/tfjs); this estimator's backend is ${String(candidate.backend)}`,
    );
  }
  return { tf: candidate.tf, model: candidate.model as LayersModel };
}

/** A model cut in two: the layers the edge runs and those the cloud trains (by name). */
export interface ModelSplit {
  readonly edge: readonly string[];
  readonly cloud: readonly string[];
  /** Layers in the chain (input layer not counted). */
  readonly depth: number;
  /** How many layers the edge runs. */
  readonly cut: number;
  /** One sample's shape at the cut. */
  readonly featureShape: readonly number[];
}

/** A split with the layer objects themselves. */
interface LayerSplit extends Omit<ModelSplit, 'edge' | 'cloud'> {
  readonly edge: readonly Layer[];
  readonly cloud: readonly Layer[];
}

/**
 * Where a TfjsEstimator's model is cut after `cutLayer` layers (an index from 1 to depth − 1, or
 * a layer's name: the edge runs up to and including it). SEDNA_ERR_INVALID_ALGORITHM_PARAM when
 * the cut is outside the model (the cloud would have nothing to train, or the edge would release
 * the raw input); SEDNA_ERR_NOT_SUPPORTED for a model that is not one chain of layers.
 */
export function splitModel(estimator: Estimator, cutLayer: number | string): ModelSplit {
  const split = splitLayers(tfjsParts(estimator, 'splitModel').model, cutLayer);
  return { ...split, edge: split.edge.map((l) => l.name), cloud: split.cloud.map((l) => l.name) };
}

function splitLayers(model: LayersModel, cutLayer: number | string): LayerSplit {
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  layers.forEach((layer, i) => {
    const node = layer.inboundNodes[0];
    const previous = i === 0 ? undefined : layers[i - 1];
    const chained =
      model.inputs.length === 1 &&
      model.outputs.length === 1 &&
      node !== undefined &&
      node.inboundLayers.length === 1 &&
      (previous === undefined
        ? node.inboundLayers[0]?.getClassName() === 'InputLayer'
        : node.inboundLayers[0] === previous);
    if (!chained) {
      throw new SednaError(
        'SEDNA_ERR_NOT_SUPPORTED',
        `MistNet splits models whose layers form one chain; layer "${layer.name}" (#${i + 1}) does not take the previous layer's output alone`,
        { details: { layer: layer.name } },
      );
    }
  });
  const depth = layers.length;
  let cut: number;
  if (typeof cutLayer === 'string') {
    const at = layers.findIndex((l) => l.name === cutLayer);
    if (at < 0) {
      throw invalidAlgorithmParam(
        'MistNet',
        'cut_layer',
        cutLayer,
        `a layer index or one of: ${layers.map((l) => l.name).join(', ')}`,
      );
    }
    cut = at + 1;
  } else {
    cut = cutLayer;
  }
  if (!Number.isInteger(cut) || cut < 1 || cut >= depth) {
    throw invalidAlgorithmParam(
      'MistNet',
      'cut_layer',
      cutLayer,
      `1 to ${depth - 1}: the model has ${depth} layers; the edge runs the first cut_layer and the cloud trains the rest`,
    );
  }
  const edge = layers.slice(0, cut);
  const shape = (edge[cut - 1] as Layer).outputShape as (number | null)[];
  const featureShape = shape.slice(1);
  if (featureShape.some((d) => d === null || d < 1)) {
    throw new SednaError(
      'SEDNA_ERR_NOT_SUPPORTED',
      `MistNet needs a fixed feature shape at the cut, got [${shape.join(', ')}]`,
    );
  }
  return { edge, cloud: layers.slice(cut), depth, cut, featureShape: featureShape as number[] };
}

function inputDims(model: LayersModel): number[] {
  const dims = (model.inputs[0]?.shape ?? []).slice(1);
  if (dims.some((d) => d === null)) {
    throw new SednaError('SEDNA_ERR_NOT_SUPPORTED', 'MistNet needs a model input of fixed sample shape');
  }
  return dims as number[];
}

/** Samples as one flat float32 array with their count. */
function flatInput(x: SplitInput, dims: readonly number[]): { data: Float32Array; count: number } {
  const size = elementCount(dims);
  if (Array.isArray(x)) {
    const rows = x as readonly (readonly number[])[];
    const data = new Float32Array(rows.length * size);
    rows.forEach((row, i) => {
      if (row.length !== size) throw invalidArgument(`x[${i}]`, `${row.length} values`, `${size} values per sample`);
      data.set(row, i * size);
    });
    return { data, count: rows.length };
  }
  const { data, dims: given } = x as { data: Float32Array; dims: readonly number[] };
  const ok =
    given.length === dims.length + 1 && dims.every((d, i) => given[i + 1] === d) && elementCount(given) === data.length;
  if (!ok) throw invalidArgument('x.dims', given, `[n, ${dims.join(', ')}] matching data.length`);
  return { data, count: given[0] as number };
}

/** Labels as class indices (Int32Array) or target rows (Float32Array). */
function flatLabels(y: SplitLabels, count: number): { labels: Int32Array | Float32Array; labelWidth: number } {
  if (y.length !== count) throw invalidArgument('labels', `${y.length} labels`, `one per sample (${count})`);
  if (count > 0 && Array.isArray(y[0])) {
    const rows = y as readonly (readonly number[])[];
    const width = rows[0]?.length ?? 0;
    const labels = new Float32Array(count * width);
    rows.forEach((row, i) => {
      if (row.length !== width || row.some((v) => !Number.isFinite(v)))
        throw invalidArgument(`labels[${i}]`, row, `${width} finite values`);
      labels.set(row, i * width);
    });
    return { labels, labelWidth: width };
  }
  const indices = y as readonly number[];
  const bad = indices.findIndex((v) => !Number.isInteger(v) || v < 0);
  if (bad >= 0) throw invalidArgument(`labels[${bad}]`, indices[bad], 'a class index (integer ≥ 0)');
  return { labels: Int32Array.from(indices), labelWidth: 0 };
}

export interface MistNetEdgeOptions {
  /** A TfjsEstimator holding the model (its first layers are the edge's; its weights are the global model's). */
  readonly estimator: Estimator;
  /** Layers the edge runs: an index from 1 to depth − 1, or the name of the last one. */
  readonly cutLayer: number | string;
  /** Privacy budget per released value, > 0; Infinity releases the clipped features without noise. */
  readonly epsilon: number;
  /** The fixed range features are clipped to (default [0, 1]); pick it from the model, not the data. */
  readonly range?: FeatureRange;
  /** Quantization width, 1-8 bits (default 8), or 0 to send float32 values. */
  readonly bits?: number;
  /** Uniform [0, 1) source of the noise (default: cryptographically secure). */
  readonly random?: RandomSource;
  /** Samples per forward pass (default 256). */
  readonly batchSize?: number;
}

/** The edge half: features of local samples, made private, ready to upload. */
export class MistNetEdge {
  readonly split: ModelSplit;
  private readonly layers: LayerSplit;
  readonly epsilon: number;
  readonly range: FeatureRange;
  readonly bits: number;
  /** The Laplace scale b = (max − min) / ε (0 for ε = ∞). */
  readonly noiseScale: number;
  private readonly parts: TfjsParts;
  private readonly random: RandomSource;
  private readonly batchSize: number;

  constructor(options: MistNetEdgeOptions) {
    this.parts = tfjsParts(options.estimator, 'MistNetEdge');
    this.layers = splitLayers(this.parts.model, options.cutLayer);
    this.split = splitModel(options.estimator, options.cutLayer);
    if (!(options.epsilon > 0)) {
      throw invalidAlgorithmParam('MistNet', 'epsilon', options.epsilon, 'a number > 0 (Infinity: no noise)');
    }
    this.epsilon = options.epsilon;
    const range = options.range ?? { min: 0, max: 1 };
    if (!Number.isFinite(range.min) || !Number.isFinite(range.max) || !(range.min < range.max)) {
      throw invalidArgument('range', range, 'finite bounds with min < max');
    }
    this.range = { min: range.min, max: range.max };
    const bits = options.bits ?? 8;
    if (!Number.isInteger(bits) || bits < 0 || bits > MAX_QUANTIZATION_BITS) {
      throw invalidArgument('bits', bits, `an integer from 0 to ${MAX_QUANTIZATION_BITS}`);
    }
    this.bits = bits;
    this.noiseScale = laplaceScale(this.epsilon, this.range);
    this.random = options.random ?? secureRandom();
    this.batchSize = options.batchSize ?? 256;
  }

  /** The cut layer's output for the samples, as float32 values (no clipping, no noise). */
  async forward(x: SplitInput): Promise<{ values: Float32Array; count: number }> {
    const { tf, model } = this.parts;
    const dims = inputDims(model);
    const { data, count } = flatInput(x, dims);
    const sampleSize = elementCount(dims);
    const featureSize = elementCount(this.split.featureShape);
    const values = new Float32Array(count * featureSize);
    for (let from = 0; from < count; from += this.batchSize) {
      const n = Math.min(this.batchSize, count - from);
      const out = tf.tidy(() => {
        let t: tfjs.Tensor = tf.tensor(
          data.subarray(from * sampleSize, (from + n) * sampleSize),
          [n, ...dims],
          'float32',
        );
        for (const layer of this.layers.edge) t = layer.apply(t) as tfjs.Tensor;
        return t;
      });
      try {
        values.set(await out.data<'float32'>(), from * featureSize);
      } finally {
        out.dispose();
      }
    }
    return { values, count };
  }

  /**
   * Runs the edge layers on the samples and makes the features private: clipped to the range,
   * Laplace noise of scale (max − min) / ε per value, quantized. The labels go along unchanged.
   */
  async extract(x: SplitInput, labels: SplitLabels): Promise<FeatureBatch> {
    const { values, count } = await this.forward(x);
    const { labels: flat, labelWidth } = flatLabels(labels, count);
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      // A diverged or broken edge model: clipping would hide it (NaN stays NaN, ±∞ becomes a bound).
      throw new SednaError(
        'SEDNA_ERR_INFERENCE',
        `MistNetEdge: the edge layers produced a NaN or infinite feature (sample ${Math.floor(bad / (values.length / count))})`,
        { details: { index: bad } },
      );
    }
    clipValues(values, this.range);
    addLaplaceNoise(values, this.noiseScale, this.random);
    const quantization: FeatureQuantization = { ...this.range, bits: this.bits };
    return {
      count,
      featureShape: this.split.featureShape,
      features: this.bits === 0 ? values : quantize(values, this.range, this.bits),
      quantization,
      labels: flat,
      labelWidth,
    };
  }
}

export interface MistNetCloudOptions {
  /** A TfjsEstimator holding the whole model; the cloud trains its layers after the cut, in place. */
  readonly estimator: Estimator;
  readonly cutLayer: number | string;
  /** Epochs over the round's features (default 5). */
  readonly epochs?: number;
  /** Default 32. */
  readonly batchSize?: number;
  /** Adam's learning rate (default 0.001). */
  readonly learningRate?: number;
  /** Loss (default: sparse categorical cross-entropy for class indices, mean squared error for targets). */
  readonly loss?: string;
  /** Called after each epoch. */
  readonly onEpoch?: (epoch: number, metrics: Metrics) => void;
}

/** The cloud half: trains the layers after the cut on the edges' features. */
export class MistNetCloud implements MistNetCloudTrainer {
  readonly split: ModelSplit;
  private readonly layers: LayerSplit;
  private readonly parts: TfjsParts;
  private readonly estimator: Estimator;
  private cloudModel: LayersModel | undefined;
  private compiledLoss: string | undefined;

  constructor(private readonly options: MistNetCloudOptions) {
    this.estimator = options.estimator;
    this.parts = tfjsParts(options.estimator, 'MistNetCloud');
    this.layers = splitLayers(this.parts.model, options.cutLayer);
    this.split = splitModel(options.estimator, options.cutLayer);
    for (const [name, value] of [
      ['epochs', options.epochs],
      ['batchSize', options.batchSize],
    ] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1))
        throw invalidArgument(name, value, 'an integer ≥ 1');
    }
    if (options.learningRate !== undefined && !(options.learningRate > 0))
      throw invalidArgument('learningRate', options.learningRate, 'a number > 0');
  }

  get featureShape(): readonly number[] {
    return this.split.featureShape;
  }

  /** The layers after the cut as a model of their own (sharing the layer objects, so their weights). */
  private model(loss: string): LayersModel {
    const { tf } = this.parts;
    if (this.cloudModel === undefined) {
      const input = tf.input({ shape: [...this.split.featureShape] });
      let t: tfjs.SymbolicTensor = input;
      for (const layer of this.layers.cloud) t = layer.apply(t) as tfjs.SymbolicTensor;
      this.cloudModel = tf.model({ inputs: input, outputs: t });
    }
    if (this.compiledLoss !== loss) {
      this.cloudModel.compile({
        optimizer: tf.train.adam(this.options.learningRate ?? 0.001),
        loss,
        metrics: ['accuracy'],
      });
      this.compiledLoss = loss;
    }
    return this.cloudModel;
  }

  async train(batches: readonly FeatureBatch[]): Promise<Metrics> {
    if (batches.length === 0) throw new SednaError('SEDNA_ERR_ROUND_FAILED', 'MistNet: no features to train on');
    const { tf } = this.parts;
    const featureSize = elementCount(this.split.featureShape);
    const labelWidth = (batches[0] as FeatureBatch).labelWidth;
    if (batches.some((b) => b.labelWidth !== labelWidth)) {
      throw new SednaError(
        'SEDNA_ERR_WEIGHTS_MISMATCH',
        'MistNet: the edges sent labels of different kinds (class indices and targets)',
      );
    }
    const count = batches.reduce((n, b) => n + b.count, 0);
    const x = new Float32Array(count * featureSize);
    const y = labelWidth === 0 ? new Int32Array(count) : new Float32Array(count * labelWidth);
    let at = 0;
    for (const batch of batches) {
      if (elementCount(batch.featureShape) !== featureSize) {
        throw new SednaError(
          'SEDNA_ERR_WEIGHTS_MISMATCH',
          `MistNet: features of [${batch.featureShape.join(', ')}], the cloud layers take [${this.split.featureShape.join(', ')}]`,
        );
      }
      x.set(featureValues(batch), at * featureSize);
      y.set(batch.labels, at * Math.max(1, labelWidth));
      at += batch.count;
    }
    const loss = this.options.loss ?? (labelWidth === 0 ? 'sparseCategoricalCrossentropy' : 'meanSquaredError');
    const model = this.model(loss);
    const xs = tf.tensor(x, [count, ...this.split.featureShape], 'float32');
    const ys =
      labelWidth === 0 ? tf.tensor1d(Float32Array.from(y), 'float32') : tf.tensor2d(y, [count, labelWidth], 'float32');
    let last: Metrics = {};
    try {
      const epochs = this.options.epochs ?? 5;
      await model.fit(xs, ys, {
        epochs,
        batchSize: this.options.batchSize ?? 32,
        shuffle: true,
        // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- SILENT (0) is not exported by @tensorflow/tfjs
        verbose: 0,
        callbacks: {
          onEpochEnd: (epoch, logs) => {
            last = Object.freeze({ ...(logs ?? {}) });
            this.options.onEpoch?.(epoch + 1, last);
          },
        },
      });
    } finally {
      xs.dispose();
      ys.dispose();
    }
    return last;
  }

  weights(): Promise<WeightRecord[]> {
    return this.estimator.getWeights();
  }
}
