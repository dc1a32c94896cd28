export {
  simulateFederatedLearning,
  type AttackKind,
  type FlSimulationOptions,
  type LabelledRows,
  type SimulationAttack,
  type SimulationResult,
  type SimulationRound,
} from './simulation.js';
export {
  parsePartition,
  partitionLabels,
  sampleDirichlet,
  sampleGamma,
  type ParsedPartition,
  type PartitionOptions,
  type PartitionSpec,
} from './partition.js';
