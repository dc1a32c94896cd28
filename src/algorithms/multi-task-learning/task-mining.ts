/**
 * Task mining (LL v1 names) / task allocation (v2 names): which known task a sample belongs to,
 * given the extractor stored in the index (`task_extractor`).
 *
 * - `TaskMiningByDataAttr` (alias `TaskAllocationByDataAttr`): the sample's attribute values form
 *   the entry; an entry the index does not know is `undefined` (an unseen task). Sedna silently
 *   gave it task 0; the job still answers such a sample with a model (the global model, else the
 *   first group's, as Sedna) but flags it.
 * - `TaskMiningBySVC` (alias `TaskAllocationBySVC`): the stored SVC predicts the task from the
 *   numeric feature columns the definition used. Sedna returned a bare list instead of a
 *   (tasks, samples) pair when there were no float columns; here the shape is always the same and
 *   missing feature columns are SEDNA_ERR_TASK_DATA.
 */
import { invalidAlgorithmParam } from '../../common/errors.js';
import type { JsonValue, KBExtractorRecord } from '../../datasources/kb-index.js';
import type { ParamInput } from '../params.js';
import type { AllocationResult, TaskAllocation } from './artifact.js';
import { loadLibSvm, type LibSvm } from './svc.js';
import { attributeEntry, attributeParam } from './task-definition.js';
import { columnIndices, withoutColumns, type Cell, type TaskTable } from './task-table.js';

export interface TaskMiningParams {
  /** The extractor of the index. */
  task_extractor?: KBExtractorRecord | null;
  /** Attribute columns (data-attribute mining); default: the extractor's. */
  attribute?: ParamInput | readonly string[];
}

function extractorOf(algorithm: string, params: TaskMiningParams, method: string): KBExtractorRecord {
  const extractor = params.task_extractor;
  if (typeof extractor !== 'object' || extractor === null || extractor.method !== method) {
    throw invalidAlgorithmParam(
      algorithm,
      'task_extractor',
      extractor?.method ?? extractor,
      `the extractor of ${method}`,
    );
  }
  return extractor;
}

export class TaskMiningByDataAttr implements TaskAllocation {
  static readonly algorithmName: string = 'TaskMiningByDataAttr';
  static readonly paramNames = ['task_extractor', 'attribute'] as const;
  readonly attribute: readonly string[];
  private readonly entries: ReadonlyMap<string, true>;

  constructor(params: TaskMiningParams = {}) {
    const name = (this.constructor as typeof TaskMiningByDataAttr).algorithmName;
    const extractor = extractorOf(name, params, 'TaskDefinitionByDataAttr');
    this.attribute = attributeParam(name, params.attribute ?? (extractor.attribute as string[] | undefined));
    const entries = extractor.entries;
    if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) {
      throw invalidAlgorithmParam(name, 'task_extractor.entries', entries, 'an object of task entries');
    }
    this.entries = new Map(Object.keys(entries).map((e) => [e, true]));
  }

  allocate<Y>(data: TaskTable<Y>): AllocationResult<Y> {
    const attrs = columnIndices(data.columns, this.attribute, 'TaskMiningByDataAttr');
    const n = data.rows.length;
    const tasks = new Array<string | undefined>(n);
    const metaAttr = new Array<JsonValue>(n);
    const values = new Array<Cell>(attrs.length);
    for (let i = 0; i < n; i++) {
      const row = data.rows[i] as ArrayLike<Cell>;
      for (let a = 0; a < attrs.length; a++) values[a] = row[attrs[a] as number] as Cell;
      const entry = attributeEntry(values);
      tasks[i] = this.entries.has(entry) ? entry : undefined;
      metaAttr[i] = values.slice();
    }
    return { tasks, metaAttr, samples: withoutColumns(data, attrs) };
  }
}

export class TaskAllocationByDataAttr extends TaskMiningByDataAttr {
  static override readonly algorithmName: string = 'TaskAllocationByDataAttr';
}

export class TaskMiningBySVC implements TaskAllocation {
  static readonly algorithmName: string = 'TaskMiningBySVC';
  static readonly paramNames = ['task_extractor'] as const;
  private readonly features: readonly string[];
  private readonly labels: readonly string[];
  private readonly model: string;
  private svm: Promise<LibSvm> | undefined;

  constructor(params: TaskMiningParams = {}) {
    const name = (this.constructor as typeof TaskMiningBySVC).algorithmName;
    const extractor = extractorOf(name, params, 'TaskDefinitionBySVC');
    const { features, labels, model } = extractor;
    if (!Array.isArray(features) || !features.every((f) => typeof f === 'string'))
      throw invalidAlgorithmParam(name, 'task_extractor.features', features, 'a list of column names');
    if (!Array.isArray(labels) || !labels.every((f) => typeof f === 'string'))
      throw invalidAlgorithmParam(name, 'task_extractor.labels', labels, 'a list of task entries');
    if (typeof model !== 'string' || model === '')
      throw invalidAlgorithmParam(name, 'task_extractor.model', model, 'a serialised libsvm model');
    this.features = features;
    this.labels = labels;
    this.model = model;
  }

  async allocate<Y>(data: TaskTable<Y>): Promise<AllocationResult<Y>> {
    const columns = columnIndices(data.columns, this.features, 'TaskMiningBySVC');
    this.svm ??= loadLibSvm().then((SVM) => SVM.load(this.model));
    const svm = await this.svm;
    const rows = data.rows.map((row) => columns.map((c) => Number(row[c])));
    const tasks = rows.map((row) => this.labels[svm.predictOne(row)]);
    return {
      tasks,
      metaAttr: rows.map(() => null),
      samples: { columns: [...this.features], rows, y: data.y },
    };
  }

  /** Frees the SVC model (it lives in WebAssembly memory). */
  async close(): Promise<void> {
    const svm = this.svm;
    this.svm = undefined;
    if (svm !== undefined) (await svm).free();
  }
}

export class TaskAllocationBySVC extends TaskMiningBySVC {
  static override readonly algorithmName: string = 'TaskAllocationBySVC';
}
