export {
  IncrementalLearning,
  type IncrementalLearningOptions,
  type IncrementalLearningEvents,
  type IncrementalLearningStats,
  type IncrementalTrainOptions,
  type IncrementalEvaluateOptions,
  type InferenceCallOptions,
  type InferenceResult,
  type TrainResult,
  type EvaluateResult,
  type ReportOutcome,
  type ModelUpdate,
  type DataInput,
} from './incremental-learning.js';
export {
  HardExampleStore,
  listHardExamples,
  readHardExample,
  HARD_EXAMPLE_FORMAT,
  type HardExampleRecord,
  type HardExampleInfo,
  type HardExampleStoreOptions,
  type HardExampleStoreStats,
} from './hard-example-store.js';
export {
  HotUpdatePoller,
  parseHotUpdateConfig,
  isUpdateTime,
  type HotUpdateConfig,
  type HotUpdateFailure,
  type HotUpdatePollerOptions,
  type PollOutcome,
} from '../hot-update.js';
export type { ModelVersion } from '../model-slot.js';
