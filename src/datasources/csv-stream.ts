/**
 * CSV streaming (spec §7.3): papaparse in streaming mode over a Node read stream, one callback per
 * chunk, so a file is never held in memory whole. The row types, the cell conversion (numbers as
 * pandas reads them, "no value" cells), the row plan computed from the header, and the two
 * streaming forms: `forEachCsvRow` (constant memory; an async callback pauses the file stream) and
 * `csvRows` (the same as an async iterator). CsvTable (csv-table.ts) collects; CSVDataParse
 * (csv.ts) is Sedna's datasource on top.
 *
 * A ragged row, a non-numeric cell in a numeric column or a missing label/usecols column is
 * SEDNA_ERR_DATA_FORMAT naming the file, the line and the column.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import Papa from 'papaparse';
import { SednaError, invalidArgument, messageOf } from '../common/errors.js';
import type { FileStore } from './base.js';
import { schemeOf, toLocalPath } from './file-ops.js';
import { localError, makeTempDir, removeQuietly } from './local-fs.js';

export type CsvValue = number | string;
export type CsvColumnType = 'number' | 'string';
/** One sample in `x`: a Float64Array/Float32Array view when every column is numeric, else an array. */
export type CsvSample = ArrayLike<CsvValue>;
/** A source for `parse`: a path or URL, or one record (Sedna accepted dicts as one-row frames). */
export type CsvSource = string | Readonly<Record<string, CsvValue>>;

export interface CsvProgress {
  readonly file: string;
  /** Data rows read so far in this file. */
  readonly rows: number;
  /** Bytes read so far in this file. */
  readonly bytes: number;
  /** The file's size, when known. */
  readonly totalBytes: number | undefined;
}

export interface CsvOptions {
  /** The label column: its values go to `y` and it is left out of `x`. */
  label?: string;
  /** Columns to keep (array or Sedna's comma-separated string); the label is added when missing. */
  usecols?: readonly string[] | string;
  /**
   * Column types. Undeclared columns are numeric when every non-empty cell of the first chunk
   * (~1 MiB) is a number, else strings; declare ID-like columns (`"007"`) as `'string'`.
   */
  columnTypes?: Readonly<Record<string, CsvColumnType>>;
  /** Field delimiter (default `,`). */
  delimiter?: string;
  /** File encoding (default utf8). */
  encoding?: BufferEncoding;
  /** Storage of numeric cells in `parse` (default float64; float32 halves the memory). */
  dtype?: 'float64' | 'float32';
  /** Called every `progressEveryRows` rows and once at the end of each file. */
  onProgress?: (progress: CsvProgress) => void;
  /** Default 100,000. */
  progressEveryRows?: number;
  /** Downloads remote (http(s)://, s3://) files to a temp folder before parsing. */
  fileOps?: FileStore;
  /** Stops parsing (SEDNA_ERR_TIMEOUT, "aborted"). */
  signal?: AbortSignal;
  /** Read chunk size in bytes (default 64 KiB: small chunks keep parse garbage in V8's young generation, so peak memory stays ~25 MB above the baseline). */
  chunkBytes?: number;
}

/** The columns of a parsed file, as `x` and `y` see them. */
export interface CsvSchema {
  readonly file: string;
  /** The header row as written. */
  readonly header: readonly string[];
  /** Feature columns (in file order; label excluded). */
  readonly columns: readonly string[];
  readonly types: readonly CsvColumnType[];
  readonly label: string | undefined;
  readonly labelType: CsvColumnType | undefined;
}

/** One data row: feature values in `schema.columns` order, the label, and the line it came from. */
export interface CsvRow {
  readonly values: CsvValue[];
  readonly label: CsvValue | undefined;
  /** 1-based record number in the file, the header being 1 (a quoted line break does not count). */
  readonly line: number;
}

export interface CsvSummary {
  readonly file: string;
  readonly rows: number;
  readonly bytes: number;
  readonly schema: CsvSchema;
}

type BatchHandler = (rows: CsvRow[], schema: CsvSchema) => void | Promise<void>;

export const MIB = 1024 * 1024;

// Cells that mean "no value" in a numeric column (pandas' defaults, the common ones).
const MISSING = new Set(['', 'nan', 'NaN', 'NAN', 'NA', 'N/A', 'n/a', 'null', 'NULL', 'None', '-nan', '#N/A']);
const INFINITY: Readonly<Record<string, number>> = {
  inf: Infinity,
  '+inf': Infinity,
  '-inf': -Infinity,
  Inf: Infinity,
  '-Inf': -Infinity,
  '+Inf': Infinity,
};

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * A numeric cell's value; NaN for missing cells; undefined when the cell is not a number.
 *
 * Plain decimals (`-12.345`, up to 15 digits) take a fast path: the digits as an exact integer
 * divided by an exact power of ten, which IEEE division rounds correctly, so the result is the
 * same double `Number(cell)` gives (Clinger's fast path, as in strtod), at a fraction of the cost.
 * Everything else (exponents, spaces, `Infinity`, missing markers) goes through `Number`.
 */
export function parseNumber(cell: string): number | undefined {
  const n = cell.length;
  let i = 0;
  let negative = false;
  let code = n > 0 ? cell.charCodeAt(0) : 0;
  if (code === 45 /* - */) {
    negative = true;
    i = 1;
  } else if (code === 43 /* + */) i = 1;
  let mantissa = 0;
  let digits = 0;
  let scale = 0;
  let dot = false;
  for (; i < n; i++) {
    code = cell.charCodeAt(i);
    if (code >= 48 && code <= 57) {
      mantissa = mantissa * 10 + (code - 48);
      digits++;
      if (dot) scale++;
    } else if (code === 46 /* . */ && !dot) dot = true;
    else return parseNumberSlow(cell);
  }
  if (digits === 0 || digits > 15) return parseNumberSlow(cell);
  const value = scale === 0 ? mantissa : mantissa / (POW10[scale] as number);
  return negative ? -value : value;
}

function parseNumberSlow(cell: string): number | undefined {
  const value = +cell;
  // `+''` and `+'  '` are 0: those are missing values, not zeros.
  if (value === value) return value === 0 && cell.trim() === '' ? NaN : value;
  const text = cell.trim();
  if (MISSING.has(text)) return NaN;
  // Own keys only: `INFINITY["valueOf"]` is Object.prototype's function, not a number.
  return Object.hasOwn(INFINITY, text) ? INFINITY[text] : undefined;
}

function usecolsList(usecols: CsvOptions['usecols']): string[] | undefined {
  if (usecols === undefined) return undefined;
  const list = typeof usecols === 'string' ? usecols.split(',') : [...usecols];
  return list.map((c) => c.trim()).filter((c) => c !== '');
}

export function formatError(message: string, file: string, facts: Record<string, unknown> = {}): SednaError {
  return new SednaError('SEDNA_ERR_DATA_FORMAT', message, { details: { location: file, ...facts } });
}

/** How a file's cells map to a row: computed from the header and the first chunk. */
export class RowPlan {
  readonly schema: CsvSchema;
  private readonly width: number;
  private readonly featureIndex: Int32Array;
  private readonly numeric: Uint8Array;
  private readonly labelIndex: number;
  private readonly labelNumeric: boolean;

  constructor(file: string, header: string[], sample: readonly string[][], options: CsvOptions) {
    const seen = new Set<string>();
    for (const name of header) {
      if (seen.has(name)) throw formatError(`${file}:1: the header names column "${name}" twice`, file, { line: 1 });
      seen.add(name);
    }
    const label = options.label;
    if (label !== undefined && !seen.has(label)) {
      throw formatError(`${file}: no label column "${label}" (columns: ${header.join(', ')})`, file, { label });
    }
    const wanted = usecolsList(options.usecols);
    for (const name of wanted ?? []) {
      if (!seen.has(name))
        throw formatError(`${file}: no column "${name}" from usecols (columns: ${header.join(', ')})`, file);
    }
    for (const name of Object.keys(options.columnTypes ?? {})) {
      if (!seen.has(name))
        throw formatError(
          `${file}: columnTypes names "${name}", which is not a column (columns: ${header.join(', ')})`,
          file,
        );
    }
    const keep = wanted === undefined ? undefined : new Set(wanted);
    const features: number[] = [];
    header.forEach((name, i) => {
      if (name !== label && (keep === undefined || keep.has(name))) features.push(i);
    });
    const typeOf = (i: number): CsvColumnType =>
      options.columnTypes?.[header[i] as string] ??
      (sample.every((row) => row.length !== header.length || parseNumber(row[i] as string) !== undefined)
        ? 'number'
        : 'string');
    const types = features.map(typeOf);
    this.width = header.length;
    this.featureIndex = Int32Array.from(features);
    this.numeric = Uint8Array.from(types, (t) => (t === 'number' ? 1 : 0));
    this.labelIndex = label === undefined ? -1 : header.indexOf(label);
    const labelType = this.labelIndex < 0 ? undefined : typeOf(this.labelIndex);
    this.labelNumeric = labelType === 'number';
    this.schema = {
      file,
      header,
      columns: features.map((i) => header[i] as string),
      types,
      label,
      labelType,
    };
  }

  /** Converts data rows `from..` of a chunk; `line` is the record number of `rows[0]`. */
  convert(rows: readonly string[][], from: number, line: number): CsvRow[] {
    const out: CsvRow[] = [];
    const { featureIndex, numeric, width } = this;
    const count = featureIndex.length;
    for (let r = from; r < rows.length; r++) {
      const row = rows[r] as string[];
      const at = line + r;
      if (row.length !== width) {
        if (row.length === 1 && row[0] === '') continue; // a blank line
        throw formatError(
          `${this.schema.file}:${at}: expected ${width} columns (as in the header), found ${row.length}`,
          this.schema.file,
          { line: at, expected: width, actual: row.length },
        );
      }
      const values = new Array<CsvValue>(count);
      for (let k = 0; k < count; k++) {
        const cell = row[featureIndex[k] as number] as string;
        if (numeric[k] === 1) {
          const value = parseNumber(cell);
          if (value === undefined) throw this.notNumber(at, featureIndex[k] as number, cell);
          values[k] = value;
        } else values[k] = cell;
      }
      let label: CsvValue | undefined;
      if (this.labelIndex >= 0) {
        const cell = row[this.labelIndex] as string;
        if (this.labelNumeric) {
          label = parseNumber(cell);
          if (label === undefined) throw this.notNumber(at, this.labelIndex, cell);
        } else label = cell;
      }
      out.push({ values, label, line: at });
    }
    return out;
  }

  private notNumber(line: number, column: number, cell: string): SednaError {
    const name = this.schema.header[column] as string;
    return formatError(
      `${this.schema.file}:${line}:${column + 1}: column "${name}" is numeric but the cell is "${cell.slice(0, 80)}"; ` +
        `declare it with columnTypes: { "${name}": "string" } if it holds text`,
      this.schema.file,
      { line, column: column + 1, columnName: name, cell: cell.slice(0, 80) },
    );
  }
}

/**
 * Streams one local CSV file through papaparse and hands converted rows to `onBatch`, chunk by
 * chunk. When `onBatch` returns a promise the file stream pauses until it settles, so memory stays
 * bounded by a few chunks whatever the file size.
 */
export async function streamFile(
  file: string,
  display: string,
  options: CsvOptions,
  onBatch: BatchHandler,
): Promise<CsvSummary> {
  const stat = await fsp.stat(file).catch((err: unknown) => {
    throw localError('read', display, err);
  });
  if (stat.isDirectory()) throw formatError(`${display} is a folder, not a CSV file`, display);
  if (stat.size === 0) throw formatError(`${display} is empty: a CSV file needs at least a header row`, display);
  const every = options.progressEveryRows ?? 100_000;
  const input = fs.createReadStream(file, {
    encoding: options.encoding ?? 'utf8',
    highWaterMark: options.chunkBytes ?? 64 * 1024,
  });
  return new Promise<CsvSummary>((resolve, reject) => {
    let plan: RowPlan | undefined;
    let line = 1; // record number of the next row papaparse hands us
    let rows = 0;
    let nextProgress = every;
    let settled = false;
    let inFlight = 0;
    let chain: Promise<void> = Promise.resolve();
    let parser: Papa.Parser | undefined;

    const progress = (): void => {
      options.onProgress?.({ file: display, rows, bytes: input.bytesRead, totalBytes: stat.size });
    };
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      parser?.abort();
      input.destroy();
      reject(err instanceof SednaError ? err : formatError(`cannot parse ${display}: ${messageOf(err)}`, display));
    };
    const onAbort = (): void => {
      fail(
        new SednaError('SEDNA_ERR_TIMEOUT', `parsing ${display} was aborted by the caller`, {
          details: { location: display },
        }),
      );
    };
    if (options.signal?.aborted === true) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const settleBatch = (): void => {
      inFlight--;
      if (inFlight === 0 && !settled) input.resume();
    };
    const deliver = (batch: CsvRow[], schema: CsvSchema): void => {
      if (inFlight === 0) {
        const result = onBatch(batch, schema);
        if (result === undefined) return;
        inFlight++;
        input.pause();
        chain = result.then(settleBatch, fail);
        return;
      }
      inFlight++;
      chain = chain.then(() => (settled ? undefined : onBatch(batch, schema))).then(settleBatch, fail);
    };

    Papa.parse<string[]>(input, {
      delimiter: options.delimiter ?? ',',
      header: false,
      dynamicTyping: false,
      skipEmptyLines: false, // we skip blank lines ourselves, so line numbers stay right
      chunk: (results, p) => {
        parser = p;
        if (settled) return;
        try {
          const data = results.data;
          let from = 0;
          if (plan === undefined) {
            const header = data[0];
            if (header === undefined) return;
            if (header[0] !== undefined) header[0] = header[0].replace(/^\uFEFF/, '');
            plan = new RowPlan(display, header, data.slice(1), options);
            from = 1;
          }
          const batch = plan.convert(data, from, line);
          line += data.length;
          rows += batch.length;
          if (rows >= nextProgress) {
            nextProgress = rows + every;
            progress();
          }
          if (batch.length > 0) deliver(batch, plan.schema);
        } catch (err) {
          fail(err);
        }
      },
      complete: () => {
        if (settled) return;
        chain.then(() => {
          if (settled) return;
          if (plan === undefined) {
            fail(formatError(`${display} has no header row`, display));
            return;
          }
          settled = true;
          options.signal?.removeEventListener('abort', onAbort);
          progress();
          resolve({ file: display, rows, bytes: input.bytesRead, schema: plan.schema });
        }, fail);
      },
      error: (err: Error) => {
        fail(localError('read', display, err));
      },
    });
  });
}

/** Runs `fn` on a local copy of `source`: remote files are downloaded first (and removed after). */
export async function withLocalFile<T>(
  source: string,
  options: CsvOptions,
  fn: (file: string) => Promise<T>,
): Promise<T> {
  if (schemeOf(source) === 'file') return fn(toLocalPath(source));
  if (options.fileOps?.download === undefined) {
    throw invalidArgument('fileOps', undefined, `a FileOps instance to read the remote CSV file ${source}`);
  }
  // Our own temp folder (a trailing separator makes FileOps put the file inside it), removed after.
  const dir = await makeTempDir('sedna-csv-');
  try {
    return await fn(await options.fileOps.download(source, `${dir}${path.sep}`));
  } finally {
    await removeQuietly(dir);
  }
}

/** Streams every row of a CSV file (path or URL) to `onRow`, in constant memory. */
export async function forEachCsvRow(
  source: string,
  onRow: (row: CsvRow, schema: CsvSchema) => void | Promise<void>,
  options: CsvOptions = {},
): Promise<CsvSummary> {
  return withLocalFile(source, options, (file) =>
    streamFile(file, source, options, (batch, schema) => {
      for (let i = 0; i < batch.length; i++) {
        const result = onRow(batch[i] as CsvRow, schema);
        // The first async callback switches this batch to sequential awaiting.
        if (result instanceof Promise) return finishAsync(batch, i, result, schema, onRow);
      }
      return undefined;
    }),
  );
}

async function finishAsync(
  batch: readonly CsvRow[],
  index: number,
  first: Promise<void>,
  schema: CsvSchema,
  onRow: (row: CsvRow, schema: CsvSchema) => void | Promise<void>,
): Promise<void> {
  await first;
  for (let i = index + 1; i < batch.length; i++) await onRow(batch[i] as CsvRow, schema);
}

/** The rows of a CSV file (path or URL) as an async iterator; leaving the loop stops the read. */
export async function* csvRows(
  source: string,
  options: CsvOptions = {},
): AsyncGenerator<CsvRow, CsvSummary | undefined> {
  const controller = new AbortController();
  const outer = options.signal;
  const forward = (): void => {
    controller.abort();
  };
  outer?.addEventListener('abort', forward, { once: true });
  const queue: CsvRow[][] = [];
  let wake: (() => void) | undefined;
  let space: (() => void) | undefined;
  // Written by the producer's callbacks, so kept in an object the compiler does not narrow.
  const state: { summary?: CsvSummary; failure?: { error: unknown }; finished: boolean } = { finished: false };
  const producer = withLocalFile(source, options, (file) =>
    streamFile(file, source, { ...options, signal: controller.signal }, async (batch) => {
      queue.push(batch);
      wake?.();
      // Two batches queued: wait until the consumer takes one (bounded memory).
      if (queue.length >= 2) await new Promise<void>((resolve) => (space = resolve));
    }),
  ).then(
    (result) => {
      state.summary = result;
      state.finished = true;
      wake?.();
    },
    (err: unknown) => {
      state.failure = { error: err };
      state.finished = true;
      wake?.();
    },
  );
  try {
    for (;;) {
      const batch = queue.shift();
      if (batch !== undefined) {
        space?.();
        space = undefined;
        yield* batch;
        continue;
      }
      if (state.failure !== undefined) throw state.failure.error;
      if (state.finished) return state.summary;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    outer?.removeEventListener('abort', forward);
    if (!state.finished) {
      controller.abort();
      space?.();
      await producer;
    }
  }
}
