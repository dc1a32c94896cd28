/**
 * `.tar.gz` packing and unpacking for FileOps (`upload(..., { tar: true })`,
 * `download(..., { unzip: true })`), on the `tar` package.
 *
 * Archives come from elsewhere, so unpacking is strict: every entry is checked before anything is
 * written (no absolute names, no `..`, no links pointing outside the target folder, no device
 * files), and the content is unpacked into a temp folder that is moved into place only when the
 * whole archive was read (see writeIntoDir). Sedna's `_tar` stored absolute source paths; entries
 * here are relative to the packed folder.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Parser, Unpack, create, type ReadEntry } from 'tar';
import { SednaError, invalidArgument, messageOf } from '../common/errors.js';
import { localError, removeQuietly, tempSibling, writeIntoDir } from './local-fs.js';

/** Archive suffixes `download(..., { unzip: true })` unpacks. */
export function isTarGz(location: string): boolean {
  return /\.(tar\.gz|tgz)$/i.test(location);
}

/**
 * Packs a folder's content (entries relative to it) or a single file (under its base name) into
 * a gzipped tar at `dstFile`, atomically.
 */
export async function tarGz(src: string, dstFile: string): Promise<void> {
  const stat = await fsp.stat(src).catch((err: unknown) => {
    throw localError('pack', src, err);
  });
  const cwd = stat.isDirectory() ? src : path.dirname(src);
  const entries = stat.isDirectory() ? (await fsp.readdir(src)).sort() : [path.basename(src)];
  const tmp = tempSibling(dstFile);
  try {
    await fsp.mkdir(path.dirname(dstFile), { recursive: true });
    // portable: no uid/gid/mtime noise, so the same folder packs to the same bytes.
    await create({ gzip: true, file: tmp, cwd, portable: true, noMtime: true }, entries);
    await fsp.rename(tmp, dstFile);
  } catch (err) {
    await removeQuietly(tmp);
    throw localError('pack into', dstFile, err);
  }
}

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);
const LINK_TYPES = new Set(['SymbolicLink', 'Link']);

/** Bounds on what an archive may unpack to (decompression bombs). */
export interface ArchiveLimits {
  /** Total bytes of the entries (default 16 GiB). */
  maxBytes?: number;
  /** Entries of any kind (default 100,000). */
  maxEntries?: number;
  /**
   * Unpacked bytes per byte of the archive (default 100; real models and datasets stay under
   * ~10). Archives that unpack to under 100 MiB are never refused for their ratio.
   */
  maxRatio?: number;
}

const GIB = 1024 * 1024 * 1024;
export const DEFAULT_ARCHIVE_LIMITS = Object.freeze({ maxBytes: 16 * GIB, maxEntries: 100_000, maxRatio: 100 });
const RATIO_FLOOR_BYTES = 100 * 1024 * 1024;

/** What the first pass over an archive remembers of each entry (no content). */
interface EntryInfo {
  readonly type: string;
  readonly path: string;
  readonly linkpath: string;
}

/** A normalized relative path ("a/b"), or undefined when it is absolute or climbs out with "..". */
function relativeParts(name: string): string[] | undefined {
  if (path.isAbsolute(name) || /^[a-zA-Z]:/.test(name)) return undefined;
  const parts = name.split(/[\\/]/).filter((p) => p !== '' && p !== '.');
  return parts.includes('..') ? undefined : parts;
}

/**
 * Checks one entry against the archive's other links and what is already on disk in `root`;
 * returns the problem, or undefined when it may be unpacked. Links are followed component by
 * component: a target (or an entry path) that passes through any symbolic link, in the archive
 * or on disk, is refused, so a chain such as `a -> .`, `up -> a/..` cannot point outside even
 * though each target looks inside on its own.
 */
async function entryProblem(entry: EntryInfo, root: string, links: ReadonlySet<string>): Promise<string | undefined> {
  if (!ALLOWED_TYPES.has(entry.type)) return `entry "${entry.path}" is a ${entry.type}, which is not unpacked`;
  const parts = relativeParts(entry.path);
  if (parts === undefined) {
    return path.isAbsolute(entry.path) || /^[a-zA-Z]:/.test(entry.path)
      ? `entry "${entry.path}" has an absolute path`
      : `entry "${entry.path}" contains ".." and would land outside the folder`;
  }
  const isLink = async (rel: string): Promise<boolean> =>
    links.has(rel) || ((await fsp.lstat(path.join(root, rel)).catch(() => undefined))?.isSymbolicLink() ?? false);
  for (let i = 1; i < parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    if (await isLink(prefix)) return `entry "${entry.path}" would be written through the link "${prefix}"`;
  }
  if (!LINK_TYPES.has(entry.type)) return undefined;
  const link = entry.linkpath;
  if (link === '' || path.isAbsolute(link) || /^[a-zA-Z]:/.test(link)) {
    return `entry "${entry.path}" links to "${link}", outside the folder`;
  }
  // Symbolic links resolve from their own folder, hard links from the archive's root.
  const at = entry.type === 'Link' ? [] : parts.slice(0, -1);
  for (const step of link.split(/[\\/]/)) {
    if (step === '' || step === '.') continue;
    if (step === '..') {
      if (at.length === 0) return `entry "${entry.path}" links to "${link}", outside the folder`;
      at.pop();
      continue;
    }
    at.push(step);
    const reached = at.join('/');
    if (await isLink(reached)) {
      return `entry "${entry.path}" links to "${link}", which passes through the link "${reached}"`;
    }
  }
  return undefined;
}

function tooLarge(file: string, problem: string, details: Record<string, unknown>): SednaError {
  return new SednaError('SEDNA_ERR_ARCHIVE_TOO_LARGE', `refusing to unpack ${file}: ${problem}`, {
    details: { location: file, ...details },
  });
}

/**
 * Reads the archive's headers (content is skipped, never held) and stops at the first limit
 * passed: a bomb is refused after reading only as far as its first oversized header.
 */
async function scanArchive(file: string, limits: Required<ArchiveLimits>): Promise<EntryInfo[]> {
  const archiveBytes = (await fsp.stat(file)).size;
  const ratioCap = limits.maxRatio * archiveBytes;
  const entries: EntryInfo[] = [];
  let total = 0;
  const input = fs.createReadStream(file, { highWaterMark: 16 * 1024 });
  return new Promise<EntryInfo[]>((resolve, reject) => {
    let failed = false;
    const fail = (reason: unknown): void => {
      if (failed) return;
      failed = true;
      const err = reason instanceof Error ? reason : new Error(String(reason));
      input.destroy();
      parser.abort(err);
      reject(err);
    };
    const parser = new Parser({
      strict: true,
      // Ours is checked against the declared sizes, before any content is inflated.
      maxDecompressionRatio: Number.MAX_SAFE_INTEGER,
      onReadEntry: (entry: ReadEntry) => {
        entries.push({ type: entry.type, path: entry.path, linkpath: entry.linkpath ?? '' });
        total += entry.size;
        if (entries.length > limits.maxEntries) {
          fail(tooLarge(file, `more than ${limits.maxEntries} entries`, { maxEntries: limits.maxEntries }));
        } else if (total > limits.maxBytes) {
          fail(tooLarge(file, `it unpacks to more than ${limits.maxBytes} bytes`, { maxBytes: limits.maxBytes }));
        } else if (total > RATIO_FLOOR_BYTES && total > ratioCap) {
          fail(
            tooLarge(file, `it unpacks to more than ${limits.maxRatio} times its ${archiveBytes} bytes`, {
              maxRatio: limits.maxRatio,
              archiveBytes,
              declaredBytes: total,
            }),
          );
        }
        entry.resume();
      },
    });
    parser.on('error', fail);
    parser.on('end', () => {
      if (!failed) resolve(entries);
    });
    input.on('error', fail);
    input.pipe(parser);
  });
}

function limitsOf(limits: ArchiveLimits): Required<ArchiveLimits> {
  const out = { ...DEFAULT_ARCHIVE_LIMITS, ...limits };
  for (const [key, value] of Object.entries(out)) {
    if (!(typeof value === 'number' && value > 0)) throw invalidArgument(`archive.${key}`, value, 'a positive number');
  }
  return out;
}

/**
 * Unpacks a `.tar.gz` (or plain `.tar`) into `dstDir` (created; merged into when it exists).
 * Before writing anything, every entry is checked: SEDNA_ERR_DATA_FORMAT for an entry that would
 * escape the folder (absolute, `..`, a link pointing outside or through another link, a path
 * through a link already in `dstDir`), SEDNA_ERR_ARCHIVE_TOO_LARGE past `limits`. The content is
 * then streamed to disk (16 KiB of archive at a time), into a staging folder merged into place.
 */
export async function untar(file: string, dstDir: string, limits: ArchiveLimits = {}): Promise<void> {
  const root = path.resolve(dstDir);
  const caps = limitsOf(limits);
  let entries: EntryInfo[];
  try {
    entries = await scanArchive(file, caps);
  } catch (err) {
    throw archiveError(file, err);
  }
  const links = new Set<string>();
  for (const e of entries) {
    const parts = e.type === 'SymbolicLink' ? relativeParts(e.path) : undefined;
    if (parts !== undefined) links.add(parts.join('/'));
  }
  const problems: string[] = [];
  for (const e of entries) {
    const problem = await entryProblem(e, root, links);
    if (problem !== undefined) problems.push(problem);
  }
  if (problems.length > 0) {
    throw new SednaError(
      'SEDNA_ERR_DATA_FORMAT',
      `refusing to unpack ${file}: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`,
      { details: { location: file, problems } },
    );
  }
  await writeIntoDir(dstDir, async (staging) => {
    try {
      // strict: tar's own path checks (the second line of defence) throw instead of warning.
      const unpack = new Unpack({
        cwd: staging,
        strict: true,
        preservePaths: false,
        preserveOwner: false,
        maxDecompressionRatio: Number.MAX_SAFE_INTEGER,
      });
      await pipeline(
        fs.createReadStream(file, { highWaterMark: 16 * 1024 }),
        unpack as unknown as NodeJS.WritableStream,
      );
    } catch (err) {
      throw archiveError(file, err);
    }
  });
}

function archiveError(file: string, err: unknown): SednaError {
  if (err instanceof SednaError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM') return localError('unpack', file, err);
  return new SednaError('SEDNA_ERR_DATA_FORMAT', `cannot unpack ${file}: not a valid tar archive (${messageOf(err)})`, {
    cause: err,
    details: { location: file },
  });
}
