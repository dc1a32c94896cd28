export {
  FederatedLearning,
  type FederatedLearningOptions,
  type FederatedTrainOptions,
  type FederatedRound,
  type FederatedTrainResult,
} from './federated-learning.js';
