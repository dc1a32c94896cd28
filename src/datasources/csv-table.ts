/**
 * CsvTable: the rows CSVDataParse collects, stored by column type: numeric cells in Float64Array or
 * Float32Array chunks (8 or 4 bytes a cell, row-major), never arrays of row objects; string cells
 * in one array per string column.
 */
import { invalidArgument } from '../common/errors.js';
import { MIB, type CsvColumnType, type CsvValue } from './csv-stream.js';

/**
 * Collected rows, stored by column type: numeric cells in typed-array chunks (row-major),
 * string cells in one array per string column.
 */
export class CsvTable {
  readonly columns: readonly string[];
  readonly types: readonly CsvColumnType[];
  readonly dtype: 'float64' | 'float32';
  /** Number of rows. */
  length = 0;
  private readonly numericSlot: Int32Array;
  private readonly numericCount: number;
  private readonly strings: string[][];
  private readonly chunkRows: number;
  private readonly chunks: (Float64Array | Float32Array)[] = [];

  constructor(columns: readonly string[], types: readonly CsvColumnType[], dtype: 'float64' | 'float32' = 'float64') {
    this.columns = columns;
    this.types = types;
    this.dtype = dtype;
    let n = 0;
    this.numericSlot = Int32Array.from(types, (t) => (t === 'number' ? n++ : -1));
    this.numericCount = n;
    this.strings = types.map(() => []);
    // ~4 MiB chunks: big enough to amortise, small enough not to over-allocate at the end.
    this.chunkRows = Math.max(1024, Math.floor((4 * MIB) / Math.max(1, n * (dtype === 'float32' ? 4 : 8))));
  }

  /** Whether every column is numeric (then `numericRow` covers whole rows). */
  get allNumeric(): boolean {
    return this.numericCount === this.columns.length;
  }

  append(values: readonly CsvValue[]): void {
    const row = this.length;
    const chunkIndex = Math.floor(row / this.chunkRows);
    if (chunkIndex === this.chunks.length && this.numericCount > 0) {
      const size = this.chunkRows * this.numericCount;
      this.chunks.push(this.dtype === 'float32' ? new Float32Array(size) : new Float64Array(size));
    }
    const chunk = this.chunks[chunkIndex];
    const base = (row % this.chunkRows) * this.numericCount;
    for (let c = 0; c < values.length; c++) {
      const slot = this.numericSlot[c] as number;
      const value = values[c] as CsvValue;
      if (slot >= 0) (chunk as Float64Array)[base + slot] = value as number;
      else (this.strings[c] as string[]).push(value as string);
    }
    this.length++;
  }

  /** The value at `row`, `column` (index in `columns`). */
  get(row: number, column: number): CsvValue {
    this.checkRow(row);
    const slot = this.numericSlot[column];
    if (slot === undefined) throw invalidArgument('column', column, `a column index below ${this.columns.length}`);
    if (slot < 0) return (this.strings[column] as string[])[row] as string;
    const chunk = this.chunks[Math.floor(row / this.chunkRows)] as Float64Array;
    return chunk[(row % this.chunkRows) * this.numericCount + slot] as number;
  }

  /** A row's values in `columns` order (a new array). */
  row(index: number): CsvValue[] {
    this.checkRow(index);
    return this.columns.map((_, c) => this.get(index, c));
  }

  /** A row's numeric cells as a view into the table (no copy; valid while the table lives). */
  numericRow(index: number): Float64Array | Float32Array {
    this.checkRow(index);
    const chunk = this.chunks[Math.floor(index / this.chunkRows)];
    const start = (index % this.chunkRows) * this.numericCount;
    return chunk === undefined ? new Float64Array(0) : chunk.subarray(start, start + this.numericCount);
  }

  /** One column: a typed array for numeric columns, a string array otherwise. */
  column(name: string): Float64Array | Float32Array | readonly string[] {
    const c = this.columns.indexOf(name);
    if (c < 0) throw invalidArgument('column', name, `one of ${this.columns.join(', ')}`);
    const slot = this.numericSlot[c] as number;
    if (slot < 0) return this.strings[c] as string[];
    const out = this.dtype === 'float32' ? new Float32Array(this.length) : new Float64Array(this.length);
    for (let r = 0; r < this.length; r++) out[r] = this.get(r, c) as number;
    return out;
  }

  /** The numeric columns as one contiguous row-major matrix (a copy), e.g. for a tensor. */
  toMatrix(): { data: Float64Array | Float32Array; rows: number; cols: number; columns: string[] } {
    const cols = this.numericCount;
    const data = this.dtype === 'float32' ? new Float32Array(this.length * cols) : new Float64Array(this.length * cols);
    let offset = 0;
    for (let i = 0; i < this.chunks.length && offset < data.length; i++) {
      const chunk = this.chunks[i] as Float64Array;
      const take = Math.min(chunk.length, data.length - offset);
      data.set(chunk.subarray(0, take), offset);
      offset += take;
    }
    return {
      data,
      rows: this.length,
      cols,
      columns: this.columns.filter((_, c) => (this.numericSlot[c] as number) >= 0),
    };
  }

  private checkRow(row: number): void {
    if (!Number.isInteger(row) || row < 0 || row >= this.length) {
      throw invalidArgument('row', row, `a row index below ${this.length}`);
    }
  }
}
