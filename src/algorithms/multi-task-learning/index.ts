/**
 * Multi-task learning (lifelong learning's engine), registered in ClassFactory under Sedna's names
 * and kind (`multi_task_learening`, Sedna's spelling) when this module is imported. The v2
 * allocation names are registered too, as the same algorithms.
 */
import { ClassFactory, ClassType, type Registrable } from '../../common/class-factory.js';
import { DefaultInferenceIntegrate } from './inference-integrate.js';
import {
  TaskDefinitionByDataAttr,
  TaskDefinitionBySVC,
  type TaskDefinitionByDataAttrParams,
  type TaskDefinitionBySVCParams,
} from './task-definition.js';
import {
  TaskAllocationByDataAttr,
  TaskAllocationBySVC,
  TaskMiningByDataAttr,
  TaskMiningBySVC,
  type TaskMiningParams,
} from './task-mining.js';
import { DefaultTaskRelationDiscover } from './task-relation.js';
import { DefaultTaskRemodeling } from './task-remodeling.js';

export * from './artifact.js';
export * from './task-table.js';
export * from './engine.js';
export {
  TaskDefinitionByDataAttr,
  TaskDefinitionBySVC,
  attributeEntry,
  type TaskDefinitionByDataAttrParams,
  type TaskDefinitionBySVCParams,
} from './task-definition.js';
export {
  MAX_REMEMBERED_COMBINATIONS,
  TaskMiningByDataAttr,
  TaskMiningBySVC,
  TaskAllocationByDataAttr,
  TaskAllocationBySVC,
  type TaskMiningParams,
} from './task-mining.js';
export { DefaultTaskRelationDiscover } from './task-relation.js';
export { DefaultTaskRemodeling } from './task-remodeling.js';
export { DefaultInferenceIntegrate } from './inference-integrate.js';

/** Parameters of each multi-task learning step by name. */
export interface MtlParamsMap {
  TaskDefinitionByDataAttr: TaskDefinitionByDataAttrParams;
  TaskDefinitionBySVC: TaskDefinitionBySVCParams;
  TaskMiningByDataAttr: TaskMiningParams;
  TaskMiningBySVC: TaskMiningParams;
  TaskAllocationByDataAttr: TaskMiningParams;
  TaskAllocationBySVC: TaskMiningParams;
  DefaultTaskRelationDiscover: Record<string, never>;
  DefaultTaskRemodeling: Record<string, never>;
  DefaultInferenceIntegrate: Record<string, never>;
}

declare module '../../common/class-factory.js' {
  interface AlgorithmParamsMap {
    multi_task_learening: MtlParamsMap;
  }
}

export const BUILTIN_MTL_ALGORITHMS: readonly (Registrable & { readonly algorithmName: string })[] = [
  TaskDefinitionByDataAttr,
  TaskDefinitionBySVC,
  DefaultTaskRelationDiscover,
  TaskMiningByDataAttr,
  TaskMiningBySVC,
  TaskAllocationByDataAttr,
  TaskAllocationBySVC,
  DefaultTaskRemodeling,
  DefaultInferenceIntegrate,
];

for (const algorithm of BUILTIN_MTL_ALGORITHMS)
  ClassFactory.registerBuiltin(algorithm, ClassType.MTL, algorithm.algorithmName);
