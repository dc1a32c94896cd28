/**
 * Unseen task detection, registered in ClassFactory under Sedna's names (kind
 * `unseen_task_detect`) when this module is imported.
 */
import { ClassFactory, ClassType } from '../../common/class-factory.js';
import { ModelProbeFilter, type ModelProbeFilterParams } from './model-probe-filter.js';
import { TaskAttrFilter } from './task-attr-filter.js';

export * from './base.js';
export { TaskAttrFilter } from './task-attr-filter.js';
export { ModelProbeFilter, type ModelProbeFilterParams } from './model-probe-filter.js';

/** Parameters of each unseen-task detector by name. */
export interface UtdParamsMap {
  TaskAttrFilter: Record<string, never>;
  ModelProbeFilter: ModelProbeFilterParams;
}

declare module '../../common/class-factory.js' {
  interface AlgorithmParamsMap {
    unseen_task_detect: UtdParamsMap;
  }
}

export const BUILTIN_UTD_ALGORITHMS = [TaskAttrFilter, ModelProbeFilter] as const;

for (const detector of BUILTIN_UTD_ALGORITHMS)
  ClassFactory.registerBuiltin(detector, ClassType.UTD, detector.algorithmName);
