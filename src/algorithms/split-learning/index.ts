/**
 * Split learning (MistNet): the edge's private features and the cloud's training on them. The
 * `MistNet` aggregation algorithm (src/algorithms/aggregation/mistnet.ts) drives these.
 */
export {
  MAX_QUANTIZATION_BITS,
  addLaplaceNoise,
  clipValues,
  dequantize,
  laplaceScale,
  quantizationStep,
  quantize,
  sampleLaplace,
  type FeatureRange,
} from './privacy.js';
export {
  FEATURES_RECORD,
  LABELS_RECORD,
  QUANTIZATION_RECORD,
  decodeFeatureBatch,
  encodeFeatureBatch,
  featureValues,
  type FeatureBatch,
  type FeatureQuantization,
  type MistNetCloudTrainer,
} from './features.js';
export {
  MistNetCloud,
  MistNetEdge,
  splitModel,
  type MistNetCloudOptions,
  type MistNetEdgeOptions,
  type ModelSplit,
  type SplitInput,
  type SplitLabels,
} from './tfjs-split.js';
