/**
 * `MistNet(cut_layer, epsilon = 100)`: split learning with local differential privacy (Sedna's
 * MistNet, which held these parameters for Plato). The edges run the model's first `cut_layer`
 * layers on their data and upload noisy, quantized features with the labels (see
 * `MistNetEdge`); this algorithm's "aggregation" trains the layers after the cut on every
 * edge's features of the round (through a `MistNetCloud`) and returns the whole model.
 *
 * CRD values arrive as strings: `cut_layer` "4" is the index 4 (else a layer name), `epsilon`
 * "100", "0.5" or "inf" (no noise). Sedna replaced a numeric-string epsilon with
 * `int(cut_layer)` (spec §11.1 #10); here it is cast as itself, and ε ≤ 0 is an error.
 */
import { SednaError, invalidAlgorithmParam } from '../../common/errors.js';
import type { Estimator } from '../../backend/estimator.js';
import type { WeightRecord } from '../../backend/weights.js';
import { boundedParam, intParam } from '../params.js';
import { decodeFeatureBatch, type FeatureBatch, type MistNetCloudTrainer } from '../split-learning/features.js';
import { MAX_QUANTIZATION_BITS, type FeatureRange } from '../split-learning/privacy.js';
import { MistNetEdge, type MistNetEdgeOptions } from '../split-learning/tfjs-split.js';
import {
  checkNumSamples,
  type AggregateResult,
  type AggregationAlgorithm,
  type RoundConfig,
  type UpdateStream,
} from './base.js';
import { asRefusal } from './output.js';

export interface MistNetParams {
  /** Layers the edge runs: an index (number or integer string) or the name of the last one. */
  cut_layer: number | string;
  /** Privacy budget per released feature value, > 0 (default 100); "inf" for no noise. */
  epsilon?: number | string;
  /** The range features are clipped to (default 0 and 1). */
  feature_min?: number | string;
  feature_max?: number | string;
  /** Bits per released value, 1-8 (default 8), or 0 for float32 values. */
  quantization_bits?: number | string;
}

/** Sedna's `parameters` (what Plato read). */
export interface MistNetParameters {
  readonly type: 'mistnet';
  readonly cut_layer: number | string;
  readonly epsilon: number;
}

const INTEGER = /^[+-]?\d+$/;
const INFINITY = /^\+?(inf|infinity)$/i;

function castCutLayer(value: unknown): number | string {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && value.trim() !== '')
    return INTEGER.test(value.trim()) ? Number(value.trim()) : value.trim();
  throw invalidAlgorithmParam('MistNet', 'cut_layer', value, 'a layer index (integer) or layer name');
}

function castEpsilon(value: number | string | undefined): number {
  if (typeof value === 'string' && INFINITY.test(value.trim())) return Infinity;
  if (value === Infinity) return Infinity;
  return boundedParam('MistNet', 'epsilon', value, 100, { min: 0, minExclusive: true });
}

export class MistNet implements AggregationAlgorithm {
  static readonly algorithmName: string = 'MistNet';
  readonly name: string = MistNet.algorithmName;
  readonly parameters: MistNetParameters;
  /** Each edge's features have its own sample count: aggregate() checks every update itself. */
  readonly variableLayout = true;
  readonly range: FeatureRange;
  readonly bits: number;
  private cloud: MistNetCloudTrainer | undefined;

  constructor(params: MistNetParams) {
    const p = params as Partial<MistNetParams> | undefined;
    this.parameters = Object.freeze({
      type: 'mistnet',
      cut_layer: castCutLayer(p?.cut_layer),
      epsilon: castEpsilon(p?.epsilon),
    });
    const min = boundedParam('MistNet', 'feature_min', p?.feature_min, 0, {});
    const max = boundedParam('MistNet', 'feature_max', p?.feature_max, 1, { min, minExclusive: true });
    this.range = Object.freeze({ min, max });
    this.bits = intParam('MistNet', 'quantization_bits', p?.quantization_bits, 8, 0, MAX_QUANTIZATION_BITS);
  }

  get cutLayer(): number | string {
    return this.parameters.cut_layer;
  }

  get epsilon(): number {
    return this.parameters.epsilon;
  }

  /** The edge half for these parameters, on a TfjsEstimator holding the global model. */
  edge(estimator: Estimator, options: Pick<MistNetEdgeOptions, 'random' | 'batchSize'> = {}): MistNetEdge {
    return new MistNetEdge({
      ...options,
      estimator,
      cutLayer: this.cutLayer,
      epsilon: this.epsilon,
      range: this.range,
      bits: this.bits,
    });
  }

  /** The cloud half `aggregate()` trains (the aggregator's `MistNetCloud`). */
  useCloud(cloud: MistNetCloudTrainer): this {
    this.cloud = cloud;
    return this;
  }

  /** The edges know the split and the budget from their own configuration: nothing to send. */
  configure(_round: number, _globalWeights: readonly WeightRecord[] | undefined): RoundConfig | undefined {
    return undefined;
  }

  /**
   * Trains the cloud layers on the round's features and returns the whole model. An update that
   * is not a well-formed feature batch for these cloud layers (or whose num_samples differs from
   * its sample count) is refused; the round goes on with the others.
   */
  async aggregate(_round: number, updates: UpdateStream): Promise<AggregateResult> {
    const cloud = this.cloud;
    if (cloud === undefined) {
      throw new SednaError(
        'SEDNA_ERR_MODEL_NOT_LOADED',
        'MistNet needs the cloud half of the model to train: call useCloud(new MistNetCloud({ estimator, cutLayer }))',
      );
    }
    const batches: FeatureBatch[] = [];
    const clients: string[] = [];
    for await (const update of updates) {
      try {
        const where = `update from "${update.client}"`;
        const n = checkNumSamples(update.numSamples, `num_samples of "${update.client}"`);
        const batch = decodeFeatureBatch(update.weights, where, cloud.featureShape);
        if (batch.count !== n) {
          throw new SednaError(
            'SEDNA_ERR_INVALID_UPDATE',
            `${where}: num_samples ${n}, but ${batch.count} samples of features`,
          );
        }
        batches.push(batch);
        clients.push(update.client);
      } catch (err) {
        updates.reject(update, asRefusal(err));
      }
    }
    if (batches.length === 0)
      throw new SednaError('SEDNA_ERR_ROUND_FAILED', 'MistNet: the round has no usable features');
    await cloud.train(batches);
    return {
      weights: await cloud.weights(),
      totalSamples: batches.reduce((n, b) => n + b.count, 0),
      clients,
    };
  }
}
