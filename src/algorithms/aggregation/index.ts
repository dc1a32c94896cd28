/**
 * Aggregation algorithms (ClassFactory kind `aggregation`). Importing this module registers the
 * built-ins under Sedna's names: `FedAvg`. Only algorithms that really aggregate are registered:
 * Sedna's `FedAvgV2` and `MistNet` (parameter holders for the v2 engine, in fedavg-v2.ts and
 * mistnet.ts) come back with federated learning v2.
 */
import { ClassFactory, ClassType } from '../../common/class-factory.js';
import { FedAvg, type FedAvgParams } from './fedavg.js';

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
export { availableKernels, createSumKernel, type KernelName, type SumKernel } from './sum-kernel.js';

/**
 * Parameters of each aggregation algorithm by name. Augment it for your own:
 * `declare module 'sedna-sdk' { interface AggregationParamsMap { FedProx: { mu?: string | number } } }`.
 */
export interface AggregationParamsMap {
  FedAvg: FedAvgParams;
}

declare module '../../common/class-factory.js' {
  interface AlgorithmParamsMap {
    aggregation: AggregationParamsMap;
  }
}

export const BUILTIN_AGGREGATIONS = [FedAvg] as const;

for (const algorithm of BUILTIN_AGGREGATIONS) {
  ClassFactory.registerBuiltin(algorithm, ClassType.FL_AGG, algorithm.algorithmName);
}
