/**
 * Datasources: samples (`x`) and labels (`y`) that jobs hand to an Estimator. Every datasource
 * satisfies the backends' {@link Dataset} contract.
 *
 * `save()` writes JSON (Sedna wrote a joblib pickle, which runs code when loaded), atomically for
 * local paths and through FileOps for remote ones. Typed arrays and non-finite numbers survive the
 * round trip ({@link encodeDataJson} / {@link decodeDataJson}).
 */
import type { Dataset } from './dataset.js';
import { SednaError, invalidArgument, messageOf } from '../common/errors.js';
import { schemeOf, toLocalPath } from './file-ops.js';
import { localError, writeFileAtomic } from './local-fs.js';
import fsp from 'node:fs/promises';

/** Sedna's data types; any other string is allowed, as in Sedna. */
export type DataType = 'train' | 'eval' | 'test' | 'valid' | 'inference' | (string & {});

/** What a datasource needs from FileOps for remote locations (FileOps satisfies it). */
export interface FileStore {
  readFile(location: string): Promise<Uint8Array>;
  writeFile(location: string, data: string | Uint8Array): Promise<unknown>;
  exists?(location: string): Promise<boolean>;
  download?(src: string, dst?: string): Promise<string>;
  remove?(location: string): Promise<void>;
}

/** The JSON document `save()` writes. */
export interface DataSourceJson {
  readonly format: typeof DATASOURCE_FORMAT;
  readonly version: 1;
  readonly dataType: string;
  readonly numExamples: number;
  readonly x: readonly unknown[];
  readonly y: readonly unknown[] | null;
}

export const DATASOURCE_FORMAT = 'sedna-sdk/datasource';

export abstract class BaseDataSource<X = unknown, Y = unknown> implements Dataset<X, Y> {
  /** `train`, `eval`, `test`, `valid`... */
  readonly dataType: DataType;

  constructor(dataType: DataType = 'train') {
    if (typeof dataType !== 'string' || dataType === '')
      throw invalidArgument('dataType', dataType, 'a data type such as "train"');
    this.dataType = dataType;
  }

  abstract get x(): readonly X[];
  abstract get y(): readonly Y[] | undefined;

  /** Number of samples (`len(x)` in Sedna). */
  numExamples(): number {
    return this.x.length;
  }

  get length(): number {
    return this.numExamples();
  }

  /** Test data carries no labels (Sedna's `is_test_data`). */
  get isTestData(): boolean {
    return this.dataType === 'test';
  }

  toJSON(): DataSourceJson {
    return {
      format: DATASOURCE_FORMAT,
      version: 1,
      dataType: this.dataType,
      numExamples: this.numExamples(),
      x: this.x,
      y: this.y ?? null,
    };
  }

  /**
   * Writes the samples and labels as JSON to `location` (a path, or a remote URL through
   * `fileOps`) and returns the location. Local writes are atomic.
   */
  async save(location: string, fileOps?: FileStore): Promise<string> {
    const text = encodeDataJson(this.toJSON());
    if (fileOps !== undefined) {
      await fileOps.writeFile(location, text);
      return location;
    }
    if (schemeOf(location) !== 'file') {
      throw invalidArgument('fileOps', undefined, `a FileOps instance to write the remote location ${location}`);
    }
    const file = toLocalPath(location);
    await writeFileAtomic(file, text);
    return file;
  }
}

/** A datasource over arrays already in memory (and what {@link loadDataSource} returns). */
export class MemoryDataSource<X = unknown, Y = unknown> extends BaseDataSource<X, Y> {
  readonly x: readonly X[];
  readonly y: readonly Y[] | undefined;

  constructor(dataType: DataType, x: readonly X[], y?: readonly Y[]) {
    super(dataType);
    if (y !== undefined && y.length !== x.length) {
      throw invalidArgument('y', `${y.length} labels`, `one label per sample (${x.length})`);
    }
    this.x = x;
    this.y = y;
  }
}

/** Reads a datasource written by `save()`. */
export async function loadDataSource<X = unknown, Y = unknown>(
  location: string,
  fileOps?: FileStore,
): Promise<MemoryDataSource<X, Y>> {
  let bytes: Uint8Array;
  if (fileOps !== undefined) bytes = await fileOps.readFile(location);
  else if (schemeOf(location) === 'file') {
    const file = toLocalPath(location);
    bytes = await fsp.readFile(file).catch((err: unknown) => {
      throw localError('read', file, err);
    });
  } else throw invalidArgument('fileOps', undefined, `a FileOps instance to read the remote location ${location}`);
  const doc = decodeDataJson(Buffer.from(bytes).toString('utf8'), location);
  if (
    typeof doc !== 'object' ||
    doc === null ||
    (doc as { format?: unknown }).format !== DATASOURCE_FORMAT ||
    !Array.isArray((doc as { x?: unknown }).x)
  ) {
    throw new SednaError(
      'SEDNA_ERR_DATA_FORMAT',
      `${location} is not a datasource saved by sedna-sdk (no "${DATASOURCE_FORMAT}" header)`,
      {
        details: { location },
      },
    );
  }
  const data = doc as DataSourceJson;
  const y = data.y === null ? undefined : (data.y as readonly Y[]);
  return new MemoryDataSource<X, Y>(data.dataType, data.x as readonly X[], y);
}

// JSON has no NaN, Infinity or typed arrays; these tagged objects carry them. Decoding builds only
// numbers and typed arrays from a fixed list, never anything executable.
const TYPED = {
  Float32Array,
  Float64Array,
  Int8Array,
  Int16Array,
  Int32Array,
  Uint8Array,
  Uint16Array,
  Uint32Array,
  Uint8ClampedArray,
} as const;
type TypedName = keyof typeof TYPED;

/** JSON text for `value`, keeping NaN/±Infinity/-0 (`{"$number":"NaN"}`) and typed arrays (`{"$typed":"Float32Array","data":[...]}`). */
export function encodeDataJson(value: unknown): string {
  return JSON.stringify(value, function replacer(_key, v: unknown): unknown {
    // -0 too: JSON writes it as 0 (found by test/unit/parsers.property.test.ts).
    if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0)))
      return { $number: Object.is(v, -0) ? '-0' : String(v) };
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const name = v.constructor.name;
      if (name in TYPED) return { $typed: name, data: Array.from(v as unknown as ArrayLike<number>) };
    }
    return v;
  });
}

/** Parses text written by {@link encodeDataJson}. */
export function decodeDataJson(text: string, location = 'JSON'): unknown {
  try {
    return JSON.parse(text, (_key, v: unknown): unknown => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
      const tagged = v as { $number?: unknown; $typed?: unknown; data?: unknown };
      if (typeof tagged.$number === 'string' && Object.keys(v).length === 1) return Number(tagged.$number);
      if (typeof tagged.$typed === 'string' && tagged.$typed in TYPED && Array.isArray(tagged.data)) {
        return TYPED[tagged.$typed as TypedName].from(tagged.data as number[]);
      }
      return v;
    });
  } catch (err) {
    throw new SednaError('SEDNA_ERR_DATA_FORMAT', `${location} is not valid JSON: ${messageOf(err)}`, {
      cause: err,
      details: { location },
    });
  }
}
