/**
 * Sedna's multi-task learning artifacts (spec §3.5): a `Task` (an entry, its samples, the
 * attribute values that define it), a `TaskGroup` (tasks sharing one model) and a `Model` (the
 * trained model of a group). The contracts of the pipeline's steps, each a registered algorithm,
 * are here too.
 */
import type { JsonValue, KBExtractorRecord } from '../../datasources/kb-index.js';
import type { TaskTable } from './task-table.js';

export interface Task<Y = unknown> {
  readonly entry: string;
  /** The task's samples, attribute columns removed. */
  readonly samples: TaskTable<Y>;
  /** The attribute values that define the task (data-attribute definitions), else null. */
  readonly metaAttr: JsonValue;
  /** Row numbers of the samples in the data given to `define`. */
  readonly rows: readonly number[];
}

export interface TaskGroup<Y = unknown> {
  readonly entry: string;
  readonly tasks: readonly Task<Y>[];
  /** The samples of all its tasks. */
  readonly samples: TaskTable<Y>;
}

/** A trained group model as the index records it (`Model(index, entry, model, result)`). */
export interface ModelInfo {
  readonly index: number;
  readonly entry: string;
  /** Where the model is stored (set by the job once it saved it). */
  readonly model: string;
  readonly result: Readonly<Record<string, number | readonly number[]>> | null;
  readonly metaAttr: readonly JsonValue[];
}

/** Step 1, task definition: splits training data into tasks and says how to recognise them. */
export interface TaskDefinition {
  define<Y>(data: TaskTable<Y>): Promise<TaskDefinitionResult<Y>> | TaskDefinitionResult<Y>;
}

export interface TaskDefinitionResult<Y = unknown> {
  readonly tasks: readonly Task<Y>[];
  /** How the allocation step recognises a sample's task (stored in the index). */
  readonly extractor: KBExtractorRecord;
  /** The whole data as the task models see it (attribute columns removed). */
  readonly samples: TaskTable<Y>;
}

/** Step 2, relation discovery: groups tasks that share a model. */
export interface TaskRelationDiscover {
  discover<Y>(tasks: readonly Task<Y>[]): readonly TaskGroup<Y>[];
}

/**
 * Step 3, task mining / allocation: which known task each sample belongs to. Built with the
 * extractor of the index (`new Cls({ ...params, task_extractor })`).
 */
export interface TaskAllocation {
  allocate<Y>(data: TaskTable<Y>): Promise<AllocationResult<Y>> | AllocationResult<Y>;
}

export interface AllocationResult<Y = unknown> {
  /** The task entry of each row; `undefined` for a sample of no known task (an unseen task). */
  readonly tasks: readonly (string | undefined)[];
  /**
   * The rows as the task models see them. `TaskMiningByDataAttr` builds them only when they are
   * first read (a classical task model reads its features from the input rows instead), so the
   * input rows must not change until they are.
   */
  readonly samples: TaskTable<Y>;
  /** Each row's attribute values (null when the extractor does not use attributes). */
  readonly metaAttr: readonly JsonValue[];
  /**
   * The rows of each task, when the step grouped them while allocating (the built-in steps do):
   * remodeling then works per task instead of per row. Every row appears in exactly one list.
   */
  readonly rowsByTask?: ReadonlyMap<string | undefined, readonly number[]>;
}

/** One part of the data after remodeling: the rows one model answers. */
export interface TaskSubset<Y = unknown> {
  /** Index of the group whose model answers, or -1 for the fallback (global) model. */
  readonly group: number;
  /** Row numbers in the data given to `predict`. */
  readonly rows: readonly number[];
  readonly samples: TaskTable<Y>;
}

/** Step 4, remodeling: the data split by the model that answers each row. */
export interface TaskRemodeling {
  remodel<Y>(allocation: AllocationResult<Y>, groupOfTask: ReadonlyMap<string, number>): readonly TaskSubset<Y>[];
}

/** Step 5, integration: the subsets' predictions back in row order. */
export interface InferenceIntegrate {
  integrate<P>(
    rowCount: number,
    parts: readonly { readonly rows: readonly number[]; readonly predictions: readonly P[] }[],
  ): P[];
}
