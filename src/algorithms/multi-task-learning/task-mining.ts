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
import {
  columnIndices,
  columnsWithout,
  mergeSorted,
  selectedTable,
  type Cell,
  type ColumnSelection,
  type Row,
  type TaskTable,
} from './task-table.js';

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

/** One attribute combination met while allocating: its task (undefined: none the index knows) and values. */
interface AttributeKey {
  readonly entry: string | undefined;
  readonly values: readonly Cell[];
  /** The rows of the current `allocate` call (allocation is synchronous: calls never interleave). */
  rows: number[] | undefined;
}

/** Distinct attribute combinations remembered per mining step; a stream of ever-new values stays bounded. */
export const MAX_REMEMBERED_COMBINATIONS = 4096;

export class TaskMiningByDataAttr implements TaskAllocation {
  static readonly algorithmName: string = 'TaskMiningByDataAttr';
  static readonly paramNames = ['task_extractor', 'attribute'] as const;
  readonly attribute: readonly string[];
  private readonly entries: ReadonlySet<string>;
  /**
   * Raw attribute cells → combination, one Map level per attribute: a row finds its task by a
   * few Map lookups instead of building Sedna's entry string (which is computed once per
   * combination).
   */
  private readonly lookup = new Map<Cell, unknown>();
  private remembered = 0;
  /** The column layout of the last table: tables of one stream share their columns, found once. */
  private layout:
    | { readonly of: readonly string[]; readonly attrs: readonly number[]; readonly features: ColumnSelection }
    | undefined;

  constructor(params: TaskMiningParams = {}) {
    const name = (this.constructor as typeof TaskMiningByDataAttr).algorithmName;
    const extractor = extractorOf(name, params, 'TaskDefinitionByDataAttr');
    this.attribute = attributeParam(name, params.attribute ?? (extractor.attribute as string[] | undefined));
    const entries = extractor.entries;
    if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) {
      throw invalidAlgorithmParam(name, 'task_extractor.entries', entries, 'an object of task entries');
    }
    this.entries = new Set(Object.keys(entries));
  }

  allocate<Y>(data: TaskTable<Y>): AllocationResult<Y> {
    const { attrs, features } = this.layoutOf(data.columns);
    const source = data.rows;
    const n = source.length;
    const tasks = new Array<string | undefined>(n);
    const metaAttr = new Array<JsonValue>(n);
    const met: AttributeKey[] = [];
    const rowsByTask = new Map<string | undefined, number[]>();
    try {
      let previous: Row | undefined;
      let key: AttributeKey | undefined;
      for (let i = 0; i < n; i++) {
        const row = source[i] as Row;
        // Samples of one task often come in runs: a row with its predecessor's cells has its key.
        if (key === undefined || !sameCells(row, previous as Row, attrs)) key = this.keyOf(row, attrs);
        previous = row;
        tasks[i] = key.entry;
        metaAttr[i] = key.values as Cell[];
        if (key.rows === undefined) {
          key.rows = [i];
          met.push(key);
        } else key.rows.push(i);
      }
      for (const key of met) {
        const rows = key.rows as number[];
        const before = rowsByTask.get(key.entry);
        // Two spellings of one task (1 and "1") meet here; rows stay in ascending order.
        rowsByTask.set(key.entry, before === undefined ? rows : mergeSorted(before, rows));
      }
    } finally {
      for (const key of met) key.rows = undefined;
    }
    // The task models' rows are built only if someone reads them: a model that reads the
    // selection (the classical backend) takes its features from the source rows directly.
    const samples = selectedTable(features.columns, {
      source,
      labels: data.y,
      indices: undefined,
      keep: features.keep,
    });
    return { tasks, metaAttr, samples, rowsByTask };
  }

  private layoutOf(columns: readonly string[]): { attrs: readonly number[]; features: ColumnSelection } {
    let layout = this.layout;
    if (layout === undefined || !sameColumns(layout.of, columns)) {
      const attrs = columnIndices(columns, this.attribute, 'TaskMiningByDataAttr');
      layout = { of: [...columns], attrs, features: columnsWithout(columns, attrs) };
      this.layout = layout;
    }
    return layout;
  }

  /** The combination of a row's attribute cells, remembered up to MAX_REMEMBERED_COMBINATIONS. */
  private keyOf(row: Row, attrs: readonly number[]): AttributeKey {
    let level = this.lookup;
    const last = attrs.length - 1;
    for (let a = 0; a < last; a++) {
      const cell = lookupCell(row[attrs[a] as number] as Cell);
      let next = level.get(cell) as Map<Cell, unknown> | undefined;
      if (next === undefined) {
        if (this.remembered >= MAX_REMEMBERED_COMBINATIONS) return this.combination(row, attrs);
        next = new Map<Cell, unknown>();
        level.set(cell, next);
      }
      level = next;
    }
    const cell = lookupCell(row[attrs[last] as number] as Cell);
    let key = level.get(cell) as AttributeKey | undefined;
    if (key === undefined) {
      key = this.combination(row, attrs);
      if (this.remembered < MAX_REMEMBERED_COMBINATIONS) {
        level.set(cell, key);
        this.remembered++;
      }
    }
    return key;
  }

  private combination(row: Row, attrs: readonly number[]): AttributeKey {
    const values = Object.freeze(attrs.map((c) => row[c] as Cell));
    const entry = attributeEntry(values);
    return { entry: this.entries.has(entry) ? entry : undefined, values, rows: undefined };
  }
}

/**
 * A cell as a lookup key. A Map takes -0 for 0; a row's `metaAttr` keeps the row's own values, so
 * -0 gets a key of its own (its entry is still Sedna's "0").
 */
const NEGATIVE_ZERO = Symbol('-0');
function lookupCell(cell: Cell): Cell {
  return cell === 0 && 1 / cell < 0 ? (NEGATIVE_ZERO as unknown as Cell) : cell;
}

/** Whether two rows hold the same attribute cells (as {@link lookupCell} tells them apart). */
function sameCells(row: Row, other: Row, attrs: readonly number[]): boolean {
  for (let a = 0; a < attrs.length; a++) {
    const c = attrs[a] as number;
    const x = row[c];
    const y = other[c];
    if (x !== y || (x === 0 && 1 / x !== 1 / (y as number))) return false;
  }
  return true;
}

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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
