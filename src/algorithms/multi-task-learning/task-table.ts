/**
 * The tabular data multi-task learning works on: named columns, one row per sample, optional
 * labels. Sedna used a pandas DataFrame whose attribute columns define the tasks; here a
 * {@link TaskTable} plays that part, built from a CSV datasource, from rows plus column names, or
 * from records.
 */
import { SednaError, showValue } from '../../common/errors.js';

export type Cell = number | string;
export type Row = ArrayLike<Cell>;

export interface TaskTable<Y = unknown> {
  readonly columns: readonly string[];
  readonly rows: readonly Row[];
  readonly y?: readonly Y[] | undefined;
}

/** What `train`/`predict` accept: a table, a CSV datasource (with `table.columns`), or records. */
export type TaskTableInput<Y = unknown> =
  | TaskTable<Y>
  | { readonly columns: readonly string[]; readonly x: readonly Row[]; readonly y?: readonly Y[] | undefined }
  | {
      readonly table?: { readonly columns: readonly string[] };
      readonly x: readonly Row[];
      readonly y?: readonly Y[] | undefined;
    }
  | { readonly x: readonly Readonly<Record<string, Cell>>[]; readonly y?: readonly Y[] | undefined };

export function taskDataError(problem: string, details: Readonly<Record<string, unknown>> = {}): SednaError {
  return new SednaError('SEDNA_ERR_TASK_DATA', `multi-task learning: ${problem}`, { details });
}

/**
 * A table this module built and checked: handing one back in costs nothing (the job and the
 * engine both normalise). A class, not a WeakSet entry: telling it apart is an `instanceof`.
 */
class CheckedTable<Y> implements TaskTable<Y> {
  constructor(
    readonly columns: readonly string[],
    readonly rows: readonly Row[],
    readonly y: readonly Y[] | undefined,
  ) {
    Object.freeze(this);
  }
}

/** Normalises the accepted inputs into a {@link TaskTable}; checks row widths and label count. */
export function toTaskTable<Y>(input: TaskTableInput<Y>): TaskTable<Y> {
  if (typeof input !== 'object' || (input as unknown) === null) throw taskDataError('no data given');
  if (input instanceof CheckedTable) return input as TaskTable<Y>;
  const source = input as {
    columns?: readonly string[];
    rows?: readonly Row[] | (() => unknown);
    x?: readonly unknown[];
    y?: readonly Y[];
    table?: { columns?: readonly string[] };
  };
  const y = source.y ?? undefined;
  let columns = source.columns ?? source.table?.columns;
  // A CSVDataParse has a `rows()` method, not a list: its samples are `x`.
  let rows: readonly Row[] | undefined =
    typeof source.rows === 'object' ? source.rows : (source.x as readonly Row[] | undefined);
  if (rows === undefined) throw taskDataError('the data has neither `rows` nor `x`');
  const first = rows[0] as unknown;
  if (columns === undefined && typeof first === 'object' && first !== null && !isRow(first)) {
    const records = rows as unknown as readonly Readonly<Record<string, Cell>>[];
    columns = Object.keys(first);
    const names = columns;
    rows = records.map((record, i) => {
      if (typeof record !== 'object' || (record as unknown) === null)
        throw taskDataError(`sample ${i} is not a record`);
      return names.map((c) => {
        const v = record[c];
        if (v === undefined) throw taskDataError(`sample ${i} lacks the column "${c}"`, { row: i, column: c });
        return v;
      });
    });
  }
  if (columns === undefined) {
    throw taskDataError(
      'the data has no column names: pass { columns, x, y }, records, or a parsed CSVDataParse (tasks are defined by named attribute columns)',
    );
  }
  const width = columns.length;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (!isRow(row)) throw taskDataError(`sample ${i} is not a row of values (${showValue(row, 60)})`, { row: i });
    if (row.length !== width)
      throw taskDataError(`sample ${i} has ${row.length} values for ${width} columns`, { row: i, columns: width });
  }
  if (y !== undefined && y.length !== rows.length)
    throw taskDataError(`${y.length} labels for ${rows.length} samples`, { labels: y.length, samples: rows.length });
  return new CheckedTable(columns, rows, y);
}

function isRow(value: unknown): value is Row {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

/** The positions of `names` in `columns`; a missing one is SEDNA_ERR_TASK_DATA naming it. */
export function columnIndices(columns: readonly string[], names: readonly string[], what: string): number[] {
  const missing = names.filter((n) => !columns.includes(n));
  if (missing.length > 0) {
    throw taskDataError(
      `${what} needs the column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')}, which the data lacks (columns: ${columns.join(', ') || 'none'})`,
      { missing, columns },
    );
  }
  return names.map((n) => columns.indexOf(n));
}

/** The columns kept when some are dropped: their names and positions. */
export interface ColumnSelection {
  readonly columns: readonly string[];
  readonly keep: readonly number[];
}

/** Which columns remain when the columns at `drop` go. */
export function columnsWithout(columns: readonly string[], drop: readonly number[]): ColumnSelection {
  const dropped = new Set(drop);
  const keep = columns.map((_, i) => i).filter((i) => !dropped.has(i));
  return { columns: keep.map((i) => columns[i] as string), keep };
}

/** Each row reduced to the selected columns (new arrays; one pass, no per-row closures). */
export function projectRows(source: readonly Row[], keep: readonly number[]): Row[] {
  return projectSelectedRows(source, undefined, keep);
}

/** The rows `source[indices[i]]` (all rows when `indices` is undefined), each reduced to `keep`. */
function projectSelectedRows(
  source: readonly Row[],
  indices: readonly number[] | undefined,
  keep: readonly number[],
): Row[] {
  const n = indices === undefined ? source.length : indices.length;
  const rows = new Array<Row>(n);
  const width = keep.length;
  const first = keep[0] ?? 0;
  if (width === 0 || keep[width - 1] === first + width - 1) {
    // One contiguous run of columns (attributes first or last): a native slice.
    const end = first + width;
    if (indices === undefined) for (let i = 0; i < n; i++) rows[i] = (source[i] as Cell[]).slice(first, end);
    else for (let i = 0; i < n; i++) rows[i] = (source[indices[i] as number] as Cell[]).slice(first, end);
  } else {
    for (let i = 0; i < n; i++) {
      const row = source[indices === undefined ? i : (indices[i] as number)] as Row;
      const out = new Array<Cell>(width);
      for (let j = 0; j < width; j++) out[j] = row[keep[j] as number] as Cell;
      rows[i] = out;
    }
  }
  return rows;
}

/**
 * Where the rows of a table built by {@link selectedTable} come from: row `i` is
 * `source[indices[i]]` (`source[i]` when `indices` is undefined) reduced to the columns `keep`.
 * A model that reads its features straight from `source` skips building those rows.
 */
export interface RowSelection<Y = unknown> {
  readonly source: readonly Row[];
  /** The labels of `source` (selected with the rows). */
  readonly labels: readonly Y[] | undefined;
  readonly indices: readonly number[] | undefined;
  readonly keep: readonly number[];
}

/**
 * A table of selected rows and columns whose `rows` (and `y`) are built on first access, then
 * kept: routing a batch to its task models never builds them when the models read the selection
 * itself ({@link selectionOf}). `rows` and `y` are own enumerable properties, as in any table (a
 * spread or JSON copy builds them). The source rows must not change while the table is in use.
 */
class SelectedTable<Y> implements TaskTable<Y> {
  readonly columns: readonly string[];
  declare readonly rows: readonly Row[];
  declare readonly y: readonly Y[] | undefined;
  readonly #selection: RowSelection<Y>;
  #rows: Row[] | undefined;
  #labels: Y[] | undefined;

  // Accessors shared by every table: defining one costs far less than a closure per table would.
  static readonly #lazyRows: PropertyDescriptor = {
    get(this: SelectedTable<unknown>): readonly Row[] {
      const { source, indices, keep } = this.#selection;
      return (this.#rows ??= projectSelectedRows(source, indices, keep));
    },
    enumerable: true,
  };
  static readonly #lazyLabels: PropertyDescriptor = {
    get(this: SelectedTable<unknown>): readonly unknown[] {
      const { labels, indices } = this.#selection;
      return (this.#labels ??= pick(labels as readonly unknown[], indices as readonly number[]));
    },
    enumerable: true,
  };

  constructor(columns: readonly string[], selection: RowSelection<Y>) {
    this.columns = columns;
    Object.defineProperty(this, 'rows', SelectedTable.#lazyRows);
    if (selection.labels === undefined || selection.indices === undefined) this.y = selection.labels;
    else Object.defineProperty(this, 'y', SelectedTable.#lazyLabels);
    this.#selection = selection;
  }

  static selectionOf<Y>(table: TaskTable<Y>): RowSelection<Y> | undefined {
    return table instanceof SelectedTable ? (table as SelectedTable<Y>).#selection : undefined;
  }
}

/** A table of the rows and columns `selection` names, built when first read. */
export function selectedTable<Y>(columns: readonly string[], selection: RowSelection<Y>): TaskTable<Y> {
  return new SelectedTable(columns, selection);
}

/** How a table built by {@link selectedTable} selects its rows; undefined for any other table. */
export function selectionOf<Y>(table: TaskTable<Y>): RowSelection<Y> | undefined {
  return SelectedTable.selectionOf(table);
}

/** The rows without the columns at `drop` (a new table; labels kept). */
export function withoutColumns<Y>(table: TaskTable<Y>, drop: readonly number[]): TaskTable<Y> {
  if (drop.length === 0) return table;
  const { columns, keep } = columnsWithout(table.columns, drop);
  return { columns, rows: projectRows(table.rows, keep), y: table.y };
}

/** The rows at `indices` (labels too); a selection stays a selection, built on first use. */
export function selectRows<Y>(table: TaskTable<Y>, indices: readonly number[]): TaskTable<Y> {
  const selection = selectionOf(table);
  if (selection !== undefined) {
    const within = selection.indices;
    return selectedTable(table.columns, {
      ...selection,
      indices: within === undefined ? indices : pick(within, indices),
    });
  }
  const labels = table.y;
  return {
    columns: table.columns,
    rows: pick(table.rows, indices),
    y: labels === undefined ? undefined : pick(labels, indices),
  };
}

/** `values[indices[i]]` for each i. */
function pick<T>(values: readonly T[], indices: readonly number[]): T[] {
  const n = indices.length;
  const out = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = values[indices[i] as number] as T;
  return out;
}

/** Two ascending row lists as one. */
export function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length)
    out[k++] = (a[i] as number) < (b[j] as number) ? (a[i++] as number) : (b[j++] as number);
  while (i < a.length) out[k++] = a[i++] as number;
  while (j < b.length) out[k++] = b[j++] as number;
  return out;
}
