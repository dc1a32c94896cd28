/**
 * Aggregation algorithms (ClassFactory kind `aggregation`). Importing this module registers the
 * built-ins under Sedna's names: `FedAvg`, `FedAvgV2`, `MistNet`.
 */
import { ClassFactory, ClassType } from '../../common/class-factory.js';
import { FedAvg, type FedAvgParams } from './fedavg.js';
import { FedAvgV2 } from './fedavg-v2.js';
import { MistNet, type MistNetParams } from './mistnet.js';

export {
  RoundLayout,
  UpdateQueue,
  checkNumSamples,
  type AggregationAlgorithm,
  type AggregateResult,
  type ClientUpdate,
  type RoundConfig,
  type UpdateEncoding,
  type UpdateStream,
} from './base.js';
export { FedAvg, FedAvgAccumulator, type FedAvgParams } from './fedavg.js';
export { FedAvgV2 } from './fedavg-v2.js';
export { MistNet, type MistNetParams, type MistNetParameters } from './mistnet.js';
export { availableKernels, createSumKernel, type KernelName, type SumKernel } from './sum-kernel.js';

/**
 * Parameters of each aggregation algorithm by name. Augment it for your own:
 * `declare module 'sedna-sdk' { interface AggregationParamsMap { FedProx: { mu?: string | number } } }`.
 */
export interface AggregationParamsMap {
  FedAvg: FedAvgParams;
  FedAvgV2: Record<string, never>;
  MistNet: MistNetParams;
}

declare module '../../common/class-factory.js' {
  interface AlgorithmParamsMap {
    aggregation: AggregationParamsMap;
  }
}

export const BUILTIN_AGGREGATIONS = [FedAvg, FedAvgV2, MistNet] as const;

for (const algorithm of BUILTIN_AGGREGATIONS) {
  ClassFactory.registerBuiltin(algorithm, ClassType.FL_AGG, algorithm.algorithmName);
}
