export {
  FederatedLearning,
  type FederatedLearningOptions,
  type FederatedTrainOptions,
  type FederatedRound,
  type FederatedTrainResult,
} from './federated-learning.js';
export {
  FederatedLearningV2,
  AggregationServerV2,
  WSTransmitter,
  S3Transmitter,
  type S3TransmitterOptions,
  type S3WeightsRef,
  transmitterFromConfig,
  type Transmitter,
  type FederatedHyperparameters,
  type FederatedData,
  type EstimatorWithHyperparameters,
  type FederatedLearningV2Options,
  type AggregationServerV2Options,
  type AggregationRoundV2,
  type AggregationSummaryV2,
} from './v2.js';
