/**
 * TxtDataParse: Sedna's index-file datasource (spec §7.2). Each line of an index file names a
 * sample: `img/0001.jpg 1,2,3,4,0 5,6,7,8,1` (helmet detection), `Imgs/a.jpg,1` (federated
 * surface defects, with a `processFunc` splitting on commas), a list of paths (Cityscapes).
 *
 * Sedna left the paths in those lines relative and every example joined them with
 * `dirname(ORIGINAL_DATASET_URL)` in its own callback; here `pathRoot` does it, and `checkFiles`
 * reports every missing sample (with its line) instead of failing later in the training loop.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { SednaError, invalidArgument, messageOf } from '../common/errors.js';
import { BaseDataSource, type DataType, type FileStore } from './base.js';
import { schemeOf, toLocalPath } from './file-ops.js';
import { mapLimit } from './limit.js';
import { localError } from './local-fs.js';

/** Where a line came from, for callbacks and messages. */
export interface LineInfo {
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
}

/**
 * Turns one stripped, non-empty line into a record: `[x, y?, ...]`. Return `null`/`undefined`
 * or an empty array to skip the line.
 */
export type TxtProcessFunc<X, Y> = (
  line: string,
  info: LineInfo,
) => readonly [X, Y?, ...unknown[]] | readonly [] | null | undefined;

export interface TxtDataParseOptions<X, Y> {
  /** Sedna's `func`: parses a line; without it a line is split on whitespace. */
  processFunc?: TxtProcessFunc<X, Y>;
}

export interface TxtParseOptions {
  /** Sedna's `use_raw`: the whole line (or the whole record from processFunc) becomes `x`; no `y`. */
  useRaw?: boolean;
  /**
   * Resolves relative sample paths: `'index'` against the folder of the index file that lists
   * them, or a folder path / URL (e.g. `dirname(ORIGINAL_DATASET_URL)`). Absolute paths and URLs
   * are kept. Default: paths are left as written (Sedna's behaviour).
   */
  pathRoot?: 'index' | (string & {});
  /** Which record fields hold sample paths (default `[0]`; with `useRaw`, the line's first word). */
  pathFields?: readonly number[];
  /**
   * Checks that every referenced sample exists (locally, or through `fileOps.exists` for URLs);
   * SEDNA_ERR_FILE_NOT_FOUND lists the missing ones with their index file and line.
   */
  checkFiles?: boolean;
  /** Reads remote index files (and checks remote samples). */
  fileOps?: FileStore;
  /** Text encoding of the index files (default utf8). */
  encoding?: BufferEncoding;
}

interface PathRef {
  readonly location: string;
  readonly info: LineInfo;
}

const CHECK_CONCURRENCY = 16;
const MAX_LISTED = 10;

export class TxtDataParse<X = string, Y = string | number> extends BaseDataSource<X, Y> {
  private readonly processFunc: TxtProcessFunc<X, Y> | undefined;
  private xs: X[] = [];
  private ys: Y[] | undefined;

  constructor(dataType: DataType = 'train', options: TxtDataParseOptions<X, Y> = {}) {
    super(dataType);
    this.processFunc = options.processFunc;
  }

  get x(): readonly X[] {
    return this.xs;
  }

  get y(): readonly Y[] | undefined {
    return this.ys;
  }

  /**
   * Reads the index files (paths or URLs) in order and replaces `x` / `y` with their samples.
   * A missing index file is SEDNA_ERR_FILE_NOT_FOUND (Sedna skipped it silently).
   */
  async parse(files: string | readonly string[], options: TxtParseOptions = {}): Promise<this> {
    const list = typeof files === 'string' ? [files] : files;
    if (list.length === 0) throw invalidArgument('files', files, 'at least one index file');
    const xs: X[] = [];
    const ys: Y[] = [];
    const refs: PathRef[] = [];
    const pathFields = options.pathFields ?? [0];
    for (const file of list) {
      const text = await readIndex(file, options);
      const root = resolveRoot(options.pathRoot, file);
      const lines = text.split(/\r?\n/);
      for (let i = 0; i < lines.length; i++) {
        const line = (lines[i] as string).trim();
        if (line === '') continue;
        const info: LineInfo = { file, line: i + 1 };
        if (options.useRaw === true && this.processFunc === undefined) {
          const raw = resolveRawLine(line, root, refs, info);
          xs.push(raw as X);
          continue;
        }
        const record = this.record(line, info);
        if (record === undefined) continue;
        for (const field of pathFields) {
          const value = record[field];
          if (typeof value !== 'string') continue;
          const resolved = resolveSample(value, root);
          record[field] = resolved;
          refs.push({ location: resolved, info });
        }
        if (options.useRaw === true) {
          xs.push(record as X);
          continue;
        }
        xs.push(record[0] as X);
        if (!this.isTestData) ys.push((record.length > 1 ? record[1] : 0) as Y);
      }
    }
    if (options.checkFiles === true) await checkSamples(refs, options.fileOps);
    this.xs = xs;
    this.ys = this.isTestData || options.useRaw === true ? undefined : ys;
    return this;
  }

  private record(line: string, info: LineInfo): unknown[] | undefined {
    if (this.processFunc === undefined) return line.split(/\s+/);
    let out: ReturnType<TxtProcessFunc<X, Y>>;
    try {
      out = this.processFunc(line, info);
    } catch (err) {
      throw new SednaError(
        'SEDNA_ERR_DATA_FORMAT',
        `${info.file}:${info.line}: processFunc failed on "${line.slice(0, 200)}": ${messageOf(err)}`,
        { cause: err, details: { location: info.file, line: info.line } },
      );
    }
    if (out === null || out === undefined || out.length === 0) return undefined;
    if (!Array.isArray(out)) {
      throw new SednaError(
        'SEDNA_ERR_DATA_FORMAT',
        `${info.file}:${info.line}: processFunc must return an array [x, y?, ...] or null, got ${typeof out}`,
        { details: { location: info.file, line: info.line } },
      );
    }
    return [...(out as readonly unknown[])];
  }
}

async function readIndex(file: string, options: TxtParseOptions): Promise<string> {
  const encoding = options.encoding ?? 'utf8';
  if (schemeOf(file) === 'file') {
    const local = toLocalPath(file);
    try {
      return await fsp.readFile(local, encoding);
    } catch (err) {
      throw localError('read the index file', local, err);
    }
  }
  if (options.fileOps === undefined) {
    throw invalidArgument('fileOps', undefined, `a FileOps instance to read the remote index file ${file}`);
  }
  return Buffer.from(await options.fileOps.readFile(file)).toString(encoding);
}

function isAbsoluteOrUrl(location: string): boolean {
  return location.startsWith('/') || /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(location);
}

/** The folder samples are resolved against, or undefined to keep paths as written. */
function resolveRoot(pathRoot: string | undefined, indexFile: string): string | undefined {
  if (pathRoot === undefined || pathRoot === '') return undefined;
  if (pathRoot !== 'index') return pathRoot;
  if (schemeOf(indexFile) === 'file') return path.dirname(path.resolve(toLocalPath(indexFile)));
  return indexFile.slice(0, indexFile.lastIndexOf('/') + 1);
}

function resolveSample(sample: string, root: string | undefined): string {
  if (root === undefined || isAbsoluteOrUrl(sample)) return sample;
  if (schemeOf(root) === 'file') return path.join(toLocalPath(root), sample);
  return `${root.replace(/\/+$/, '')}/${sample.replace(/^\.\//, '')}`;
}

/** With useRaw, the first word of the line is the sample path; the rest is kept verbatim. */
function resolveRawLine(line: string, root: string | undefined, refs: PathRef[], info: LineInfo): string {
  const first = /^\S+/.exec(line)?.[0] ?? line;
  const resolved = resolveSample(first, root);
  refs.push({ location: resolved, info });
  return resolved + line.slice(first.length);
}

async function checkSamples(refs: readonly PathRef[], fileOps: FileStore | undefined): Promise<void> {
  const found = await mapLimit(refs, CHECK_CONCURRENCY, async (ref) => {
    if (schemeOf(ref.location) === 'file') {
      try {
        await fsp.access(toLocalPath(ref.location));
        return true;
      } catch {
        return false;
      }
    }
    if (fileOps?.exists === undefined) {
      throw invalidArgument('fileOps', undefined, `a FileOps instance to check the remote sample ${ref.location}`);
    }
    return fileOps.exists(ref.location);
  });
  const missing = refs.filter((_, i) => found[i] !== true);
  if (missing.length === 0) return;
  const listed = missing
    .slice(0, MAX_LISTED)
    .map((m) => `${m.info.file}:${m.info.line}: ${m.location}`)
    .join('; ');
  throw new SednaError(
    'SEDNA_ERR_FILE_NOT_FOUND',
    `${missing.length} of ${refs.length} samples listed in the index do not exist: ${listed}${
      missing.length > MAX_LISTED ? ` (and ${missing.length - MAX_LISTED} more)` : ''
    }`,
    {
      details: {
        missing: missing.map((m) => ({ file: m.info.file, line: m.info.line, location: m.location })),
      },
    },
  );
}
