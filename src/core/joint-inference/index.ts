export {
  JointInference,
  jointInferenceOwner,
  type JointInferenceOptions,
  type JointInferenceCallOptions,
  type JointInferenceResult,
  type JointInferenceStats,
} from './joint-inference.js';
export { BigModelService, type BigModelServiceOptions } from './big-model-service.js';
export { MicroBatcher, type MicroBatchOptions } from './micro-batcher.js';
