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
import fsp from 'node:fs/promises';
import path from 'node:path';
import { create, extract, list, type ReadEntry } from 'tar';
import { SednaError, messageOf } from '../common/errors.js';
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

/** Checks one entry; returns the problem, or undefined when it may be unpacked. */
function entryProblem(entry: ReadEntry, root: string): string | undefined {
  if (!ALLOWED_TYPES.has(entry.type)) return `entry "${entry.path}" is a ${entry.type}, which is not unpacked`;
  const name = entry.path;
  if (path.isAbsolute(name) || /^[a-zA-Z]:/.test(name)) return `entry "${name}" has an absolute path`;
  if (name.split(/[\\/]/).includes('..')) return `entry "${name}" contains ".." and would land outside the folder`;
  if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
    const link = entry.linkpath ?? '';
    const base = entry.type === 'Link' ? root : path.dirname(path.resolve(root, name));
    const resolved = path.resolve(base, link);
    if (path.isAbsolute(link) || (resolved !== root && !resolved.startsWith(root + path.sep))) {
      return `entry "${name}" links to "${link}", outside the folder`;
    }
  }
  return undefined;
}

/**
 * Unpacks a `.tar.gz` (or plain `.tar`) into `dstDir` (created; merged into when it exists).
 * Throws SEDNA_ERR_DATA_FORMAT naming the archive and the entry when any entry would escape the
 * folder, before writing anything.
 */
export async function untar(file: string, dstDir: string): Promise<void> {
  const root = path.resolve(dstDir);
  const problems: string[] = [];
  try {
    await list({
      file,
      onReadEntry: (entry: ReadEntry) => {
        const problem = entryProblem(entry, root);
        if (problem !== undefined) problems.push(problem);
        entry.resume();
      },
    });
  } catch (err) {
    throw archiveError(file, err);
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
      await extract({ file, cwd: staging, strict: true, preservePaths: false, preserveOwner: false });
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
