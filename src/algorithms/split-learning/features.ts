/**
 * What a MistNet edge uploads instead of weights: the features its first layers computed (noisy
 * and quantized), with the samples' labels. They travel as weight records, through the same
 * codec and transport as a model update:
 *
 * | record | dtype, shape | holds |
 * |---|---|---|
 * | `mistnet/features` | uint8 `[n, ...featureShape]` (float32 when not quantized) | the codes (or values) |
 * | `mistnet/labels` | int32 `[n]` (class indices) or float32 `[n, k]` (targets) | the labels |
 * | `mistnet/quantization` | float64 `[3]` | `[min, max, bits]` (bits 0: float32 values) |
 *
 * A receiver checks everything (counts agree, codes and labels in range, values finite) before
 * anything is trained on them: a peer's records are untrusted input.
 */
import { SednaError } from '../../common/errors.js';
import { checkWeightRecord, type WeightRecord } from '../../backend/weights.js';
import type { Metrics } from '../../backend/estimator.js';
import { MAX_QUANTIZATION_BITS, dequantize, type FeatureRange } from './privacy.js';

export const FEATURES_RECORD = 'mistnet/features';
export const LABELS_RECORD = 'mistnet/labels';
export const QUANTIZATION_RECORD = 'mistnet/quantization';

/** How the features are encoded: `bits` 0 means float32 values, 1-8 means codes over the range. */
export interface FeatureQuantization extends FeatureRange {
  readonly bits: number;
}

/** One edge's features and labels (one client's upload in a round). */
export interface FeatureBatch {
  /** Samples. */
  readonly count: number;
  /** One sample's feature shape (the cut layer's output without the batch dim). */
  readonly featureShape: readonly number[];
  /** Codes (`quantization.bits` > 0) or float32 values, `count × featureShape` of them. */
  readonly features: Uint8Array | Float32Array;
  readonly quantization: FeatureQuantization;
  /** Class indices (`labelWidth` 0) or `count × labelWidth` target values. */
  readonly labels: Int32Array | Float32Array;
  readonly labelWidth: number;
}

/** The cloud half of a split model, as MistNet's aggregation drives it. */
export interface MistNetCloudTrainer {
  /** The feature shape its first layer takes. */
  readonly featureShape: readonly number[];
  /** Trains the cloud layers on the round's features; returns the last epoch's metrics. */
  train(batches: readonly FeatureBatch[]): Promise<Metrics>;
  /** The whole model's weights (edge layers unchanged, cloud layers trained). */
  weights(): Promise<WeightRecord[]>;
}

/** The features as float32 values (dequantized when they are codes). */
export function featureValues(batch: FeatureBatch): Float32Array {
  const { features, quantization } = batch;
  return features instanceof Uint8Array ? dequantize(features, quantization, quantization.bits) : features;
}

/** The records that carry a batch (views on the batch's arrays, no copy). */
export function encodeFeatureBatch(batch: FeatureBatch): WeightRecord[] {
  const { count, featureShape, quantization: q } = batch;
  const labels: WeightRecord =
    batch.labels instanceof Int32Array
      ? { name: LABELS_RECORD, dtype: 'int32', shape: [count], data: batch.labels }
      : { name: LABELS_RECORD, dtype: 'float32', shape: [count, batch.labelWidth], data: batch.labels };
  const features: WeightRecord =
    batch.features instanceof Uint8Array
      ? { name: FEATURES_RECORD, dtype: 'uint8', shape: [count, ...featureShape], data: batch.features }
      : { name: FEATURES_RECORD, dtype: 'float32', shape: [count, ...featureShape], data: batch.features };
  return [
    features,
    labels,
    { name: QUANTIZATION_RECORD, dtype: 'float64', shape: [3], data: Float64Array.of(q.min, q.max, q.bits) },
  ];
}

function invalid(where: string, problem: string, code: 'SEDNA_ERR_INVALID_UPDATE' | 'SEDNA_ERR_WEIGHTS_MISMATCH') {
  return new SednaError(code, `${where}: ${problem}`, { details: { where } });
}

function record(records: readonly WeightRecord[], name: string, where: string): WeightRecord {
  const found = records.find((r) => r.name === name);
  if (found === undefined) {
    throw invalid(
      where,
      `no "${name}" record; MistNet updates carry ${FEATURES_RECORD}, ${LABELS_RECORD} and ${QUANTIZATION_RECORD}`,
      'SEDNA_ERR_WEIGHTS_MISMATCH',
    );
  }
  checkWeightRecord(found, where);
  return found;
}

/**
 * Reads and checks a batch from its records. SEDNA_ERR_WEIGHTS_MISMATCH when records are
 * missing or shaped wrong (or the feature shape is not `expectedShape`), SEDNA_ERR_INVALID_UPDATE
 * when their values are not usable (bad range, NaN, a negative class index).
 */
export function decodeFeatureBatch(
  records: readonly WeightRecord[],
  where = 'MistNet update',
  expectedShape?: readonly number[],
): FeatureBatch {
  if (records.length !== 3) {
    throw invalid(where, `${records.length} records, a MistNet update has 3`, 'SEDNA_ERR_WEIGHTS_MISMATCH');
  }
  const features = record(records, FEATURES_RECORD, where);
  const labels = record(records, LABELS_RECORD, where);
  const q = record(records, QUANTIZATION_RECORD, where);
  if (q.dtype !== 'float64' || q.data.length !== 3) {
    throw invalid(where, `${QUANTIZATION_RECORD} must be float64 [3]`, 'SEDNA_ERR_WEIGHTS_MISMATCH');
  }
  const [min, max, bits] = Array.from(q.data as Float64Array);
  if (
    !Number.isFinite(min) ||
    !Number.isFinite(max) ||
    !((min as number) < (max as number)) ||
    !Number.isInteger(bits) ||
    (bits as number) < 0 ||
    (bits as number) > MAX_QUANTIZATION_BITS
  ) {
    throw invalid(
      where,
      `quantization [${String(min)}, ${String(max)}, ${String(bits)}] is not usable`,
      'SEDNA_ERR_INVALID_UPDATE',
    );
  }
  // `+ 0` turns a -0 read from the wire into 0, so the decoded bits compare equal to what was meant.
  const quantization: FeatureQuantization = { min: min as number, max: max as number, bits: (bits as number) + 0 };
  const wantDtype = quantization.bits === 0 ? 'float32' : 'uint8';
  if (features.dtype !== wantDtype || features.shape.length < 2) {
    throw invalid(where, `${FEATURES_RECORD} must be ${wantDtype} [n, ...features]`, 'SEDNA_ERR_WEIGHTS_MISMATCH');
  }
  const count = features.shape[0] as number;
  const featureShape = features.shape.slice(1);
  if (
    expectedShape !== undefined &&
    (featureShape.length !== expectedShape.length || featureShape.some((d, i) => d !== expectedShape[i]))
  ) {
    throw invalid(
      where,
      `features are [${featureShape.join(', ')}] per sample, the cloud layers take [${expectedShape.join(', ')}]`,
      'SEDNA_ERR_WEIGHTS_MISMATCH',
    );
  }
  if (count === 0) throw invalid(where, 'no samples', 'SEDNA_ERR_INVALID_UPDATE');
  const classIndices = labels.dtype === 'int32' && labels.shape.length === 1;
  const targets = labels.dtype === 'float32' && labels.shape.length === 2;
  if ((!classIndices && !targets) || labels.shape[0] !== count) {
    throw invalid(
      where,
      `${LABELS_RECORD} must be int32 [${count}] or float32 [${count}, k], one per sample`,
      'SEDNA_ERR_WEIGHTS_MISMATCH',
    );
  }
  const levels = 2 ** quantization.bits - 1;
  if (features.data instanceof Uint8Array) {
    const bad = features.data.findIndex((c) => c > levels);
    if (bad >= 0)
      throw invalid(
        where,
        `feature code ${features.data[bad]} at ${bad} exceeds ${levels}`,
        'SEDNA_ERR_INVALID_UPDATE',
      );
  } else {
    const bad = (features.data as Float32Array).findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw invalid(where, `feature value at ${bad} is not finite`, 'SEDNA_ERR_INVALID_UPDATE');
  }
  const labelData = labels.data as Int32Array | Float32Array;
  const badLabel = labelData.findIndex((v) => (classIndices ? v < 0 : !Number.isFinite(v)));
  if (badLabel >= 0) throw invalid(where, `label at ${badLabel} is not usable`, 'SEDNA_ERR_INVALID_UPDATE');
  return {
    count,
    featureShape,
    features: features.data as Uint8Array | Float32Array,
    quantization,
    labels: labelData,
    labelWidth: classIndices ? 0 : (labels.shape[1] as number),
  };
}
