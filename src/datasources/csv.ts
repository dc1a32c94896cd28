/**
 * CSVDataParse: tabular samples from CSV files (spec §7.3), parsed by papaparse in streaming mode
 * (a Node read stream, one callback per chunk), so a file is never held in memory whole.
 *
 * Three ways to consume a file:
 * - `forEachRow(file, fn)`: constant memory; an async `fn` pauses the file stream until it resolves.
 * - `rows(file)`: the same as an async iterator (break out of the loop to stop reading).
 * - `parse(files)`: collects into a {@link CsvTable}: numeric columns in Float64Array/Float32Array
 *   chunks (8 or 4 bytes a cell), never arrays of row objects; `x`/`y` satisfy the Dataset contract.
 *
 * Sedna read whole files with pandas and silently skipped files that lacked the label column; here
 * a ragged row, a non-numeric cell in a numeric column or a missing label/usecols column is
 * SEDNA_ERR_DATA_FORMAT naming the file, the line and the column.
 *
 * The streaming is in csv-stream.ts, the collected table in csv-table.ts.
 */
import { invalidArgument } from '../common/errors.js';
import { BaseDataSource, type DataType } from './base.js';
import {
  RowPlan,
  csvRows,
  forEachCsvRow,
  formatError,
  parseNumber,
  streamFile,
  withLocalFile,
  type CsvColumnType,
  type CsvOptions,
  type CsvRow,
  type CsvSample,
  type CsvSchema,
  type CsvSource,
  type CsvSummary,
  type CsvValue,
} from './csv-stream.js';
import { CsvTable } from './csv-table.js';

export {
  parseNumber,
  forEachCsvRow,
  csvRows,
  type CsvValue,
  type CsvColumnType,
  type CsvSample,
  type CsvSource,
  type CsvProgress,
  type CsvOptions,
  type CsvSchema,
  type CsvRow,
  type CsvSummary,
} from './csv-stream.js';
export { CsvTable } from './csv-table.js';

/** Sedna's CSVDataParse: collect with `parse`, or stream with `forEachRow` / `rows`. */
export class CSVDataParse extends BaseDataSource<CsvSample, CsvValue> {
  private readonly defaults: CsvOptions;
  private data: CsvTable | undefined;
  private labels: CsvValue[] | undefined;
  private samples: CsvSample[] | undefined;

  constructor(dataType: DataType = 'train', defaults: CsvOptions = {}) {
    super(dataType);
    this.defaults = defaults;
  }

  /** The collected rows (after `parse`). */
  get table(): CsvTable | undefined {
    return this.data;
  }

  /** Samples: views into the table (all-numeric tables) or value arrays; built on first access. */
  get x(): readonly CsvSample[] {
    const table = this.data;
    if (table === undefined) return [];
    this.samples ??= Array.from({ length: table.length }, (_, i) =>
      table.allNumeric ? table.numericRow(i) : table.row(i),
    );
    return this.samples;
  }

  get y(): readonly CsvValue[] | undefined {
    return this.labels;
  }

  override numExamples(): number {
    return this.data?.length ?? 0;
  }

  /**
   * Reads every source (paths, URLs, or single records) into the table, replacing what was there.
   * All files must have the same feature columns. Returns `this`.
   */
  async parse(sources: CsvSource | readonly CsvSource[], options: CsvOptions = {}): Promise<this> {
    const opts = { ...this.defaults, ...options };
    const list: readonly CsvSource[] = Array.isArray(sources) ? sources : [sources as CsvSource];
    if (list.length === 0) throw invalidArgument('sources', sources, 'at least one CSV file or record');
    let table: CsvTable | undefined;
    let first: CsvSchema | undefined;
    const labels: CsvValue[] = [];
    const adopt = (schema: CsvSchema): CsvTable => {
      if (first === undefined) {
        first = schema;
        table = new CsvTable(schema.columns, schema.types, opts.dtype);
        return table;
      }
      if (schema.columns.join('\u0000') !== first.columns.join('\u0000')) {
        throw formatError(
          `${schema.file} has columns ${schema.columns.join(', ')}, but ${first.file} has ${first.columns.join(', ')}`,
          schema.file,
        );
      }
      return table as CsvTable;
    };
    for (const source of list) {
      if (typeof source !== 'string') {
        const schema = recordSchema(source, first, opts);
        const target = adopt(schema);
        const row = recordRow(source, schema);
        target.append(row.values);
        if (row.label !== undefined) labels.push(row.label);
        continue;
      }
      let target: CsvTable | undefined;
      await withLocalFile(source, opts, (file) =>
        streamFile(file, source, opts, (batch, schema) => {
          target ??= adopt(schema);
          for (const row of batch) {
            target.append(row.values);
            if (row.label !== undefined) labels.push(row.label);
          }
        }),
      ).then((summary) => {
        // A header-only file still fixes (and checks) the columns.
        adopt(summary.schema);
      });
    }
    this.data = table;
    this.labels = opts.label === undefined ? undefined : labels;
    this.samples = undefined;
    return this;
  }

  /** Streams a file's rows to `onRow` without collecting them (constant memory). */
  forEachRow(
    source: string,
    onRow: (row: CsvRow, schema: CsvSchema) => void | Promise<void>,
    options: CsvOptions = {},
  ): Promise<CsvSummary> {
    return forEachCsvRow(source, onRow, { ...this.defaults, ...options });
  }

  /** A file's rows as an async iterator (constant memory). */
  rows(source: string, options: CsvOptions = {}): AsyncGenerator<CsvRow, CsvSummary | undefined> {
    return csvRows(source, { ...this.defaults, ...options });
  }
}

/** The schema of a record source: the first file's, or the record's own keys. */
function recordSchema(
  record: Readonly<Record<string, CsvValue>>,
  first: CsvSchema | undefined,
  options: CsvOptions,
): CsvSchema {
  const keys = Object.keys(record);
  if (first !== undefined) {
    const missing = [...first.columns, ...(first.label === undefined ? [] : [first.label])].filter(
      (c) => !(c in record),
    );
    if (missing.length > 0) throw formatError(`a record source lacks the columns ${missing.join(', ')}`, 'record');
    return first;
  }
  const sample = [keys.map((k) => String(record[k]))];
  return new RowPlan('record', keys, sample, options).schema;
}

function recordRow(record: Readonly<Record<string, CsvValue>>, schema: CsvSchema): CsvRow {
  const cast = (name: string, type: CsvColumnType | undefined): CsvValue => {
    const value = record[name] as CsvValue;
    if (type !== 'number' || typeof value === 'number') return type === 'string' ? String(value) : value;
    const parsed = parseNumber(value);
    if (parsed === undefined)
      throw formatError(`record: column "${name}" is numeric but the value is "${value}"`, 'record');
    return parsed;
  };
  return {
    values: schema.columns.map((name, i) => cast(name, schema.types[i])),
    label: schema.label === undefined ? undefined : cast(schema.label, schema.labelType),
    line: 0,
  };
}
