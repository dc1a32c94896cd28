/**
 * FileOps: the one place that moves files, routed by URL scheme (bare path / `file://`,
 * `http(s)://`, `s3://`). Jobs and backends never touch `fs` for model or data locations
 * directly; they call FileOps so the same code works with a host path, a download URL or a bucket.
 *
 * Fixes over Sedna's FileOps: `file://` is stripped, unknown schemes throw instead of silently
 * "downloading" nothing, `upload()` never deletes the source, local writes are atomic (temp file +
 * rename, so a reader never sees half a model), temp files are cleaned up, every network call has
 * a timeout.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { SednaError, invalidArgument, messageOf } from '../core/errors.js';

export type Scheme = 'file' | 'http' | 's3';

/** Which backend handles a location. Throws SEDNA_ERR_UNSUPPORTED_URL for anything else. */
export function schemeOf(location: string): Scheme {
  if (typeof location !== 'string' || location === '') throw invalidArgument('location', location, 'a path or URL');
  const match = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(location);
  if (match === null) return 'file';
  const scheme = (match[1] as string).toLowerCase();
  if (scheme === 'file') return 'file';
  if (scheme === 'http' || scheme === 'https') return 'http';
  if (scheme === 's3') return 's3';
  throw new SednaError(
    'SEDNA_ERR_UNSUPPORTED_URL',
    `unsupported URL scheme "${scheme}://" in ${location}; use a path, file://, http(s):// or s3://`,
    {
      details: { location, scheme },
    },
  );
}

export function isRemote(location: string): boolean {
  return schemeOf(location) !== 'file';
}

/** A local path for a bare path or `file://` URL (Sedna kept the prefix, which then failed). */
export function toLocalPath(location: string): string {
  if (/^file:\/\//i.test(location)) return fileURLToPath(location);
  if (schemeOf(location) !== 'file') throw invalidArgument('location', location, 'a local path or file:// URL');
  return location;
}

/**
 * Removes `prefix` (e.g. DATA_PATH_PREFIX `/home/data`) from the front of `location`, as Sedna
 * does for URLs in LC reports: the controller knows host paths, not the pod's mount point.
 * Only whole path segments match (`/home/database` keeps its prefix).
 */
export function removePathPrefix(location: string, prefix: string | undefined): string {
  if (prefix === undefined || prefix === '') return location;
  const base = prefix.replace(/\/+$/, '');
  if (base === '') return location;
  if (location === base) return '';
  return location.startsWith(`${base}/`) ? location.slice(base.length) : location;
}

/** A unique sibling temp name for `target`, in the same folder so `rename` is atomic. */
export function tempSibling(target: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
}

/**
 * Writes `data` to `target` atomically: a temp file in the same folder, fsync, then rename. A
 * crash leaves either the old file or the new one, never half of one; the temp file is removed on
 * failure.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const tmp = tempSibling(target);
  try {
    const handle = await fsp.open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, target);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw localError('write', target, err);
  }
}

/** Copies a local file to `target` atomically (temp copy + rename). */
export async function copyFileAtomic(source: string, target: string): Promise<void> {
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const tmp = tempSibling(target);
  try {
    await fsp.copyFile(source, tmp);
    await fsp.rename(tmp, target);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw localError('copy', source, err);
  }
}

/**
 * Replaces the folder `target` with a fully written one: `fill` writes into a temp sibling folder,
 * which is then renamed into place (the old folder, if any, is removed after the swap).
 */
export async function writeDirAtomic(target: string, fill: (dir: string) => Promise<void>): Promise<void> {
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const tmp = tempSibling(target);
  const old = `${tmp}.old`;
  await fsp.mkdir(tmp);
  try {
    await fill(tmp);
    const existed = fs.existsSync(target);
    if (existed) await fsp.rename(target, old);
    await fsp.rename(tmp, target);
    if (existed) await fsp.rm(old, { recursive: true, force: true });
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw localError('write', target, err);
  }
}

/** A fresh private temp folder; remove it with `fsp.rm(dir, { recursive: true })`. */
export function makeTempDir(prefix = 'sedna-'): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Maps a local fs error to a coded SednaError naming the path. */
export function localError(action: string, location: string, err: unknown): SednaError {
  if (err instanceof SednaError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return new SednaError('SEDNA_ERR_FILE_NOT_FOUND', `cannot ${action} ${location}: no such file or directory`, {
      cause: err,
      details: { location },
    });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new SednaError('SEDNA_ERR_ACCESS_DENIED', `cannot ${action} ${location}: permission denied`, {
      cause: err,
      details: { location },
    });
  }
  return new SednaError('SEDNA_ERR_STORAGE', `cannot ${action} ${location}: ${messageOf(err)}`, {
    cause: err,
    details: { location },
  });
}
