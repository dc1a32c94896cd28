/**
 * Aggregation algorithms (ClassFactory kind `aggregation`). Importing this module registers the
 * built-ins: Sedna's `FedAvg`, `FedAvgV2`, `MistNet`, and the strategies `FedProx`, `FedAdam`,
 * `FedYogi`, `TrimmedMean`, `Krum`.
 */
import { ClassFactory, ClassType } from '../../common/class-factory.js';
import { FedAvg, type FedAvgParams } from './fedavg.js';
import { FedAvgV2 } from './fedavg-v2.js';
import { MistNet, type MistNetParams } from './mistnet.js';
import { FedProx, type FedProxParams } from './fedprox.js';
import { FedAdam, FedYogi, type FedOptParams } from './fedopt.js';
import { TrimmedMean, type TrimmedMeanParams } from './trimmed-mean.js';
import { Krum, type KrumParams } from './krum.js';

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
export { FedAvg, FedAvgAccumulator, type BatchErrors, type FedAvgParams } from './fedavg.js';
export { FedAvgV2 } from './fedavg-v2.js';
export { MistNet, type MistNetParams, type MistNetParameters } from './mistnet.js';
export { availableKernels, createSumKernel, MAX_BATCH, type KernelName, type SumKernel } from './sum-kernel.js';
export { FedProx, type FedProxParams, type FedProxRoundConfig } from './fedprox.js';
export { FedAdam, FedYogi, FedOpt, type FedOptParams } from './fedopt.js';
export { TrimmedMean, type TrimmedMeanParams } from './trimmed-mean.js';
export { Krum, type KrumParams, type KrumScore } from './krum.js';
export { collectUpdates, type CollectedRound } from './output.js';

/**
 * Parameters of each aggregation algorithm by name. Augment it for your own:
 * `declare module 'sedna-sdk' { interface AggregationParamsMap { MyStrategy: { alpha?: string | number } } }`.
 */
export interface AggregationParamsMap {
  FedAvg: FedAvgParams;
  FedAvgV2: FedAvgParams;
  MistNet: MistNetParams;
  FedProx: FedProxParams;
  FedAdam: FedOptParams;
  FedYogi: FedOptParams;
  TrimmedMean: TrimmedMeanParams;
  Krum: KrumParams;
}

declare module '../../common/class-factory.js' {
  interface AlgorithmParamsMap {
    aggregation: AggregationParamsMap;
  }
}

export const BUILTIN_AGGREGATIONS = [FedAvg, FedAvgV2, MistNet, FedProx, FedAdam, FedYogi, TrimmedMean, Krum] as const;

for (const algorithm of BUILTIN_AGGREGATIONS) {
  ClassFactory.registerBuiltin(algorithm, ClassType.FL_AGG, algorithm.algorithmName);
}
