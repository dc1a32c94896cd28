/**
 * Task definition (spec §3.5): how training data is split into tasks.
 *
 * - `TaskDefinitionByDataAttr(attribute)`: one task per combination of the attribute columns'
 *   values; entry = the values as strings, `_` replaced by `-`, joined by `_`, spaces removed
 *   (Sedna's rule, so entries read the same). The attribute columns are not model features.
 * - `TaskDefinitionBySVC(n_class)`: Ward agglomerative clustering of the numeric columns into
 *   `n_class` (≥ 2) tasks `svc_<k>`; an RBF C-SVC (gamma 0.01, as Sedna) trained on the cluster
 *   labels recognises a sample's task later.
 *
 * Differences from Sedna: labels are taken by position, whatever the frame's index (Sedna used
 * label-based `iloc` and was right only for a 0..n-1 index); missing attribute columns are
 * SEDNA_ERR_TASK_DATA naming them.
 */
import { invalidAlgorithmParam } from '../../common/errors.js';
import type { JsonValue } from '../../datasources/kb-index.js';
import { intParam, type ParamInput } from '../params.js';
import type { Task, TaskDefinition, TaskDefinitionResult } from './artifact.js';
import { loadLibSvm, wardClusters } from './svc.js';
import {
  columnIndices,
  selectRows,
  taskDataError,
  withoutColumns,
  type Cell,
  type Row,
  type TaskTable,
} from './task-table.js';

/** Sedna's task entry of one row's attribute values. */
export function attributeEntry(values: readonly Cell[]): string {
  let key = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) key += '_';
    key += String(values[i]).replaceAll('_', '-');
  }
  return key.replaceAll(' ', '');
}

/**
 * The `attribute` parameter: a list, a JSON list (`'["Season", "City"]'`, as the CRD carries it),
 * or comma-separated names.
 */
export function attributeParam(algorithm: string, value: ParamInput | readonly string[]): string[] {
  let list: unknown = value;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('[')) {
      try {
        list = JSON.parse(text);
      } catch {
        throw invalidAlgorithmParam(algorithm, 'attribute', value, 'a JSON list of column names');
      }
    } else list = text.split(',').map((s) => s.trim());
  }
  if (!Array.isArray(list) || list.length === 0 || !list.every((c) => typeof c === 'string' && c !== '')) {
    throw invalidAlgorithmParam(algorithm, 'attribute', value, 'one or more attribute column names');
  }
  return list as string[];
}

export interface TaskDefinitionByDataAttrParams {
  attribute?: ParamInput | readonly string[];
}

export class TaskDefinitionByDataAttr implements TaskDefinition {
  static readonly algorithmName = 'TaskDefinitionByDataAttr';
  static readonly paramNames = ['attribute'] as const;
  readonly attribute: readonly string[];

  constructor(params: TaskDefinitionByDataAttrParams = {}) {
    this.attribute = attributeParam(TaskDefinitionByDataAttr.algorithmName, params.attribute);
  }

  define<Y>(data: TaskTable<Y>): TaskDefinitionResult<Y> {
    if (data.rows.length === 0) throw taskDataError('no training samples');
    const attrs = columnIndices(data.columns, this.attribute, 'TaskDefinitionByDataAttr');
    const byEntry = new Map<string, { rows: number[]; metaAttr: Cell[] }>();
    data.rows.forEach((row, i) => {
      const values = attrs.map((c) => row[c] as Cell);
      const entry = attributeEntry(values);
      let task = byEntry.get(entry);
      if (task === undefined) {
        task = { rows: [], metaAttr: values };
        byEntry.set(entry, task);
      }
      task.rows.push(i);
    });
    const samples = withoutColumns(data, attrs);
    const entries = [...byEntry.keys()].sort();
    const tasks: Task<Y>[] = entries.map((entry) => {
      const t = byEntry.get(entry) as { rows: number[]; metaAttr: Cell[] };
      return { entry, rows: t.rows, metaAttr: t.metaAttr, samples: selectRows(samples, t.rows) };
    });
    return {
      tasks,
      samples,
      extractor: {
        method: TaskDefinitionByDataAttr.algorithmName,
        attribute: [...this.attribute],
        entries: Object.fromEntries(entries.map((e, i) => [e, i])),
      },
    };
  }
}

/** The columns whose every value is a finite number (Sedna: the float64 columns). */
export function numericColumns(data: TaskTable): number[] {
  return data.columns
    .map((_, c) => c)
    .filter((c) => data.rows.every((row) => typeof row[c] === 'number' && Number.isFinite(row[c])));
}

export function numericRows(rows: readonly Row[], columns: readonly number[]): number[][] {
  return rows.map((row) => columns.map((c) => row[c] as number));
}

export interface TaskDefinitionBySVCParams {
  n_class?: ParamInput;
}

export class TaskDefinitionBySVC implements TaskDefinition {
  static readonly algorithmName = 'TaskDefinitionBySVC';
  static readonly paramNames = ['n_class'] as const;
  readonly nClass: number;

  constructor(params: TaskDefinitionBySVCParams = {}) {
    // Sedna: max(2, int(n_class)) when numeric, else 2.
    this.nClass = Math.max(2, intParam(TaskDefinitionBySVC.algorithmName, 'n_class', params.n_class, 2, 1, 1000));
  }

  async define<Y>(data: TaskTable<Y>): Promise<TaskDefinitionResult<Y>> {
    if (data.rows.length === 0) throw taskDataError('no training samples');
    const numeric = numericColumns(data);
    if (numeric.length === 0)
      throw taskDataError('TaskDefinitionBySVC needs numeric feature columns; the data has none', {
        columns: data.columns,
      });
    const points = numericRows(data.rows, numeric);
    const labels = await wardClusters(points, this.nClass);
    const SVM = await loadLibSvm();
    const svc = new SVM({ type: SVM.SVM_TYPES.C_SVC, kernel: SVM.KERNEL_TYPES.RBF, gamma: 0.01, quiet: true });
    let model: string;
    try {
      svc.train(points, labels);
      model = svc.serializeModel();
    } finally {
      svc.free();
    }
    const samples: TaskTable<Y> = {
      columns: numeric.map((c) => data.columns[c] as string),
      rows: points,
      y: data.y,
    };
    const names = Array.from({ length: Math.max(...labels) + 1 }, (_, k) => `svc_${k}`);
    const tasks: Task<Y>[] = names.map((entry, k) => {
      const rows = labels.flatMap((l, i) => (l === k ? [i] : []));
      return { entry, rows, metaAttr: null as JsonValue, samples: selectRows(samples, rows) };
    });
    return {
      tasks,
      samples,
      extractor: { method: TaskDefinitionBySVC.algorithmName, features: samples.columns.slice(), labels: names, model },
    };
  }
}
