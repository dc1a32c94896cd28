export {
  LifelongLearning,
  shouldDrop,
  type LifelongLearningOptions,
  type LifelongLearningEvents,
  type LLDataInput,
  type LLTrainOptions,
  type LLTrainResult,
  type LLEvaluateOptions,
  type LLEvaluateResult,
  type LLInferenceResult,
  type IndexUpdate,
  type IndexFileConfig,
} from './lifelong-learning.js';
export { indexVersion, loadDeployment, readIndex, type Deployment } from './deployment.js';
