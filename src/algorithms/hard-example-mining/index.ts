/**
 * The built-in hard-example-mining filters, registered in ClassFactory under Sedna's names
 * (kind `hard_example_mining`) when this module is imported.
 */
import { ClassFactory, ClassType } from '../../common/class-factory.js';
import { CloudOnlyFilter, EdgeOnlyFilter } from './cloud-edge-only.js';
import { CrossEntropyFilter, type CrossEntropyParams } from './cross-entropy.js';
import { IBTFilter, type IBTParams } from './ibt.js';
import { RandomFilter, type RandomParams } from './random.js';
import { ThresholdFilter, type ThresholdParams } from './threshold.js';

export * from './base.js';
export { ThresholdFilter, type ThresholdParams } from './threshold.js';
export { CrossEntropyFilter, entropyConfidence, type CrossEntropyParams } from './cross-entropy.js';
export { IBTFilter, type IBTParams } from './ibt.js';
export { RandomFilter, type RandomParams } from './random.js';
export { CloudOnlyFilter, EdgeOnlyFilter } from './cloud-edge-only.js';

/**
 * Parameters of each hard-example-mining filter by name. Augment it for your own filters:
 * `declare module 'sedna-sdk' { interface HemParamsMap { MyFilter: { margin?: string | number } } }`.
 */
export interface HemParamsMap {
  Threshold: ThresholdParams;
  CrossEntropy: CrossEntropyParams;
  IBT: IBTParams;
  Random: RandomParams;
  CloudOnly: Record<string, never>;
  EdgeOnly: Record<string, never>;
}

declare module '../../common/class-factory.js' {
  interface AlgorithmParamsMap {
    hard_example_mining: HemParamsMap;
  }
}

export const BUILTIN_HEM_FILTERS = [
  ThresholdFilter,
  CrossEntropyFilter,
  IBTFilter,
  RandomFilter,
  CloudOnlyFilter,
  EdgeOnlyFilter,
] as const;

for (const filter of BUILTIN_HEM_FILTERS) ClassFactory.registerBuiltin(filter, ClassType.HEM, filter.algorithmName);
