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

/** Normalises the accepted inputs into a {@link TaskTable}; checks row widths and label count. */
export function toTaskTable<Y>(input: TaskTableInput<Y>): TaskTable<Y> {
  if (typeof input !== 'object' || (input as unknown) === null) throw taskDataError('no data given');
  const source = input as {
    columns?: readonly string[];
    rows?: readonly Row[];
    x?: readonly unknown[];
    y?: readonly Y[];
    table?: { columns?: readonly string[] };
  };
  const y = source.y ?? undefined;
  let columns = source.columns ?? source.table?.columns;
  let rows = source.rows ?? (source.x as readonly Row[] | undefined);
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
  return { columns, rows, y };
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

/** The rows without the columns at `drop` (a new table; labels kept). */
export function withoutColumns<Y>(table: TaskTable<Y>, drop: readonly number[]): TaskTable<Y> {
  if (drop.length === 0) return table;
  const dropped = new Set(drop);
  const keep = table.columns.map((_, i) => i).filter((i) => !dropped.has(i));
  return {
    columns: keep.map((i) => table.columns[i] as string),
    rows: table.rows.map((row) => keep.map((i) => row[i] as Cell)),
    y: table.y,
  };
}

/** The rows at `indices` (labels too). */
export function selectRows<Y>(table: TaskTable<Y>, indices: readonly number[]): TaskTable<Y> {
  return {
    columns: table.columns,
    rows: indices.map((i) => table.rows[i] as Row),
    y: table.y === undefined ? undefined : indices.map((i) => table.y?.[i] as Y),
  };
}
