/**
 * The hard-example store: where an incremental-learning inference worker keeps the samples its
 * hard-example-mining filter flags, until someone labels them (Sedna's `HE_SAVED_URL` folder).
 *
 * Each sample is two files, both written to a temp sibling, fsynced and renamed into place:
 *
 *   he-20240601T120000123Z-000001-4242.json        the input (JSON), or `.bin` for raw bytes
 *   he-20240601T120000123Z-000001-4242.meta.json   what we know about it (written second)
 *
 * The data file goes first and the metadata record last, so a reader treats a sample as complete
 * exactly when its metadata exists: a crash loses at most the sample being written, and never
 * exposes half a file. Names sort by time, then by a per-process counter; the pid keeps two
 * processes apart. Leftovers of a crash (temp files, a data file without metadata) are removed when
 * the store is opened again, so one process should own a folder at a time.
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { decodeDataJson, encodeDataJson } from '../../datasources/base.js';
import { localError, removeQuietly, writeFileAtomic } from '../../datasources/local-fs.js';
import { schemeOf, toLocalPath } from '../../datasources/file-ops.js';
import { SednaError, invalidArgument, notSupported } from '../../common/errors.js';
import { getLogger } from '../../common/logger.js';

/** Format tag of the metadata records. */
export const HARD_EXAMPLE_FORMAT = 'sedna-sdk/hard-example';
const META_SUFFIX = '.meta.json';
const NAME = /^he-\d{8}T\d{9}Z-\d{6,}-\d+\.(json|bin)$/;
const TEMP = /^\.he-.*\.tmp$/;
/** Largest prediction summary kept in a metadata record (JSON characters). */
const MAX_PREDICTION_CHARS = 16 * 1024;

/** The metadata record of one hard example (`<id>.meta.json`). */
export interface HardExampleRecord {
  readonly format: typeof HARD_EXAMPLE_FORMAT;
  readonly version: 1;
  /** Unique, sortable: `he-<UTC time>-<counter>-<pid>`. */
  readonly id: string;
  /** When it was saved (ISO 8601). */
  readonly time: string;
  readonly data: {
    /** The data file's name, in the same folder. */
    readonly file: string;
    /** `json`: the input as JSON (typed arrays and NaN kept, see `encodeDataJson`); `bytes`: raw bytes. */
    readonly encoding: 'json' | 'bytes';
    readonly bytes: number;
    readonly sha256: string;
  };
  /** The model that found the sample hard. */
  readonly model: { readonly version: string | null; readonly url: string | null };
  /** The (post-processed) prediction, when its JSON is at most 16 KiB; else `{ truncated: true, chars }`. */
  readonly prediction: unknown;
  /** What the caller attached (a source index, a camera id, a frame number...). */
  readonly meta: Readonly<Record<string, unknown>>;
}

export interface HardExampleStoreOptions {
  /** The folder (a local path or `file://` URL). */
  readonly dir: string;
  /** Most samples the folder may hold; later ones are dropped and counted (default 100,000). */
  readonly maxSamples?: number;
}

/** What the job tells the store about a sample. */
export interface HardExampleInfo {
  readonly prediction?: unknown;
  readonly modelVersion?: string | undefined;
  readonly modelUrl?: string | undefined;
  readonly meta?: Readonly<Record<string, unknown>>;
}

export interface HardExampleStoreStats {
  /** Complete samples in the folder (found at open, plus saved since). */
  readonly samples: number;
  readonly saved: number;
  /** Samples refused because the folder held `maxSamples`. */
  readonly dropped: number;
  /** Crash leftovers removed when the store was opened. */
  readonly cleaned: number;
}

let counter = 0;

function compactTime(date: Date): string {
  // 2024-06-01T12:00:00.123Z → 20240601T120000123Z: sortable and safe in file names.
  return date.toISOString().replace(/[-:.]/g, '');
}

function isBytes(data: unknown): data is Uint8Array {
  return data instanceof Uint8Array || Buffer.isBuffer(data);
}

function summarise(prediction: unknown): unknown {
  if (prediction === undefined) return null;
  let text: string;
  try {
    text = encodeDataJson(prediction);
  } catch {
    return { unserialisable: true };
  }
  if (typeof text !== 'string') return null;
  return text.length <= MAX_PREDICTION_CHARS ? JSON.parse(text) : { truncated: true, chars: text.length };
}

function isRecord(value: unknown): value is HardExampleRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as { format?: unknown; id?: unknown; data?: unknown };
  const data = r.data as { file?: unknown } | null | undefined;
  return (
    r.format === HARD_EXAMPLE_FORMAT &&
    typeof r.id === 'string' &&
    typeof data === 'object' &&
    data !== null &&
    typeof data.file === 'string' &&
    NAME.test(data.file)
  );
}

/**
 * Lists the complete samples in `dir` (those whose metadata record exists), oldest first. Reads
 * only: safe while a worker is writing. A missing folder has no samples.
 */
export async function listHardExamples(dir: string): Promise<HardExampleRecord[]> {
  const folder = localFolder(dir);
  let names: string[];
  try {
    names = await fsp.readdir(folder);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw localError('list', folder, err);
  }
  const records: HardExampleRecord[] = [];
  for (const name of names.filter((n) => n.startsWith('he-') && n.endsWith(META_SUFFIX)).sort()) {
    const file = path.join(folder, name);
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile
      throw localError('read', file, err);
    }
    const parsed = decodeDataJson(text, file);
    if (!isRecord(parsed)) {
      throw new SednaError('SEDNA_ERR_DATA_FORMAT', `${file} is not a hard-example record (${HARD_EXAMPLE_FORMAT})`, {
        details: { location: file },
      });
    }
    records.push(parsed);
  }
  return records;
}

/** The sample's input: decoded JSON, or a Buffer for samples saved as bytes. Checks the checksum. */
export async function readHardExample(dir: string, record: HardExampleRecord): Promise<unknown> {
  const file = path.join(localFolder(dir), record.data.file);
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (err) {
    throw localError('read the hard example', file, err);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== record.data.sha256) {
    throw new SednaError('SEDNA_ERR_DATA_FORMAT', `${file} does not match its metadata record (checksum differs)`, {
      details: { location: file },
    });
  }
  return record.data.encoding === 'bytes' ? bytes : decodeDataJson(bytes.toString('utf8'), file);
}

function localFolder(dir: string): string {
  if (typeof dir !== 'string' || dir === '') throw invalidArgument('dir', dir, 'a folder path');
  if (schemeOf(dir) !== 'file') {
    throw notSupported(`a remote hard-example folder (${dir})`, 'HE_SAVED_URL must be a local path (mount the volume)');
  }
  return path.resolve(toLocalPath(dir));
}

export class HardExampleStore {
  readonly dir: string;
  private readonly maxSamples: number;
  private samples: number;
  private saved = 0;
  private dropped = 0;
  private readonly cleaned: number;
  private warnedFull = false;

  private constructor(dir: string, maxSamples: number, samples: number, cleaned: number) {
    this.dir = dir;
    this.maxSamples = maxSamples;
    this.samples = samples;
    this.cleaned = cleaned;
  }

  /** Opens (creating) the folder and removes what a crash left behind: temp files, data without metadata. */
  static async create(options: HardExampleStoreOptions): Promise<HardExampleStore> {
    const dir = localFolder(options.dir);
    const maxSamples = options.maxSamples ?? 100_000;
    if (!Number.isInteger(maxSamples) || maxSamples < 1)
      throw invalidArgument('maxSamples', options.maxSamples, 'a positive integer');
    try {
      await fsp.mkdir(dir, { recursive: true });
    } catch (err) {
      throw localError('create the hard-example folder', dir, err);
    }
    const names = await fsp.readdir(dir).catch((err: unknown) => {
      throw localError('list', dir, err);
    });
    const metas = new Set(names.filter((n) => n.endsWith(META_SUFFIX)).map((n) => n.slice(0, -META_SUFFIX.length)));
    const leftovers = names.filter((n) => TEMP.test(n) || (NAME.test(n) && !metas.has(n.slice(0, n.lastIndexOf('.')))));
    for (const name of leftovers) await removeQuietly(path.join(dir, name));
    if (leftovers.length > 0)
      getLogger('hard-examples').info(
        { dir, removed: leftovers.length },
        'removed incomplete hard examples left by an earlier crash',
      );
    const complete = names.filter((n) => n.startsWith('he-') && n.endsWith(META_SUFFIX)).length;
    return new HardExampleStore(dir, maxSamples, complete, leftovers.length);
  }

  get stats(): HardExampleStoreStats {
    return { samples: this.samples, saved: this.saved, dropped: this.dropped, cleaned: this.cleaned };
  }

  /**
   * Saves one sample durably: the data file, then its metadata record. Resolves with the record
   * once both are on disk, or `undefined` when the folder is full (`maxSamples`).
   */
  async save(data: unknown, info: HardExampleInfo = {}): Promise<HardExampleRecord | undefined> {
    if (this.samples >= this.maxSamples) {
      this.dropped++;
      if (!this.warnedFull) {
        this.warnedFull = true;
        getLogger('hard-examples').warn(
          { dir: this.dir, maxSamples: this.maxSamples },
          'the hard-example folder is full; new hard examples are dropped until it is emptied',
        );
      }
      return undefined;
    }
    // Reserve the slot now, so concurrent saves cannot overshoot the bound.
    this.samples++;
    try {
      const now = new Date();
      counter = (counter + 1) % 1_000_000;
      const id = `he-${compactTime(now)}-${String(counter).padStart(6, '0')}-${process.pid}`;
      const bytes = isBytes(data);
      // JSON.stringify gives undefined for undefined and functions, whatever its type says.
      const body = bytes ? data : Buffer.from((encodeDataJson(data) as string | undefined) ?? 'null', 'utf8');
      const file = `${id}.${bytes ? 'bin' : 'json'}`;
      const record: HardExampleRecord = {
        format: HARD_EXAMPLE_FORMAT,
        version: 1,
        id,
        time: now.toISOString(),
        data: {
          file,
          encoding: bytes ? 'bytes' : 'json',
          bytes: body.byteLength,
          sha256: createHash('sha256').update(body).digest('hex'),
        },
        model: { version: info.modelVersion ?? null, url: info.modelUrl ?? null },
        prediction: summarise(info.prediction),
        meta: info.meta ?? {},
      };
      await writeFileAtomic(path.join(this.dir, file), body);
      await writeFileAtomic(path.join(this.dir, `${id}${META_SUFFIX}`), encodeDataJson(record));
      this.saved++;
      return record;
    } catch (err) {
      this.samples--;
      throw err;
    }
  }

  /** The complete samples, oldest first. */
  list(): Promise<HardExampleRecord[]> {
    return listHardExamples(this.dir);
  }

  /** One sample's input. */
  read(record: HardExampleRecord): Promise<unknown> {
    return readHardExample(this.dir, record);
  }

  /** The data file of a sample. */
  dataPath(record: HardExampleRecord): string {
    return path.join(this.dir, record.data.file);
  }
}
