/**
 * FileOps: the one place that moves files, routed by URL scheme (bare path / `file://`,
 * `http(s)://`, `s3://`). Jobs and backends never touch `fs` for model or data locations
 * directly; they call FileOps so the same code works with a host path, a download URL or a bucket.
 *
 * Fixes over Sedna's FileOps (spec §7.7, §11.1 item 24): `file://` is stripped, unknown schemes
 * throw instead of silently "downloading" nothing, `upload()` never deletes the source, folder
 * uploads to S3 keep the URL's key prefix, local writes are atomic (temp file + rename, so a
 * reader never sees half a model), temp files are cleaned up, every network call has a timeout,
 * and every failure is a SednaError naming the location.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SednaConfig } from '../common/config.js';
import { SednaError, closedError, invalidArgument, notSupported } from '../common/errors.js';
import { serviceTokenOption } from '../common/shared-token.js';
import { isTarGz, tarGz, untar, type ArchiveLimits } from './archive.js';
import { HttpFiles, fileNameOf, type HttpFilesOptions } from './http-files.js';
import {
  copyDirInto,
  copyFileAtomic,
  fileTarget,
  localError,
  makeTempDir,
  removeQuietly,
  writeFileAtomic,
} from './local-fs.js';
import { S3Storage, parseS3Url, type S3Options } from './s3.js';

export {
  tempSibling,
  writeFileAtomic,
  copyFileAtomic,
  writeDirAtomic,
  writeIntoDir,
  writeStreamAtomic,
  makeTempDir,
  localError,
  type StreamWriteOptions,
} from './local-fs.js';

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

export interface FileOpsOptions {
  /** S3 settings (endpoint, credentials, timeouts, multipart); see {@link S3Options}. */
  s3?: S3Options;
  /** HTTP download settings: the HttpClient's timeouts and retries, plus a stall timeout. */
  http?: HttpFilesOptions;
  /** Where downloads without a `dst` go (default: the OS temp folder). */
  tempDir?: string;
  /** Largest file `readFile` returns in memory, for http(s) and s3 (default 256 MiB). */
  maxReadBytes?: number;
  /** Bounds on what `untar` and `download(..., { unzip: true })` unpack (decompression bombs). */
  archive?: ArchiveLimits;
}

export interface DownloadOptions {
  /**
   * Unpack a `.tar.gz` / `.tgz` source into `dst` (a folder; default a fresh temp folder) and
   * return that folder. Other sources download as usual.
   */
  unzip?: boolean;
}

export interface UploadOptions {
  /** Pack `src` (file or folder) into a `.tar.gz` and upload that archive to `dst`. */
  tar?: boolean;
}

const DEFAULT_MAX_READ_BYTES = 256 * 1024 * 1024;

/**
 * Moves files between local paths, http(s) servers (read-only) and S3 buckets.
 * The constructor does no I/O; the S3 SDK is loaded the first time an s3:// URL is used.
 * `close()` releases pooled connections.
 */
export class FileOps {
  private readonly s3: S3Storage;
  private readonly http: HttpFiles;
  private readonly tempDir: string;
  private readonly maxReadBytes: number;
  private readonly archiveLimits: ArchiveLimits;
  private closed = false;

  constructor(options: FileOpsOptions = {}) {
    this.maxReadBytes = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
    if (!Number.isFinite(this.maxReadBytes) || this.maxReadBytes <= 0) {
      throw invalidArgument('maxReadBytes', options.maxReadBytes, 'a positive number of bytes');
    }
    this.s3 = new S3Storage(options.s3, { maxReadBytes: this.maxReadBytes });
    this.http = new HttpFiles(options.http);
    this.tempDir = options.tempDir ?? os.tmpdir();
    this.archiveLimits = { ...options.archive };
  }

  /**
   * FileOps with the storage settings Sedna injects: S3_ENDPOINT_URL, ACCESS_KEY_ID and
   * SECRET_ACCESS_KEY. `options` adds or overrides the rest (timeouts, multipart, region).
   */
  static fromConfig(
    config: Pick<SednaConfig, 's3EndpointUrl' | 'accessKeyId' | 'secretAccessKey'> &
      Partial<Pick<SednaConfig, 'kbServer' | 'serviceToken' | 'serviceTokenFile'>>,
    options: FileOpsOptions = {},
  ): FileOps {
    // The knowledge base's files (file/download answers) need the service's token, and only they.
    const { token } = serviceTokenOption({
      serviceToken: config.serviceToken,
      serviceTokenFile: config.serviceTokenFile,
    });
    const kbHeaders =
      token === undefined || config.kbServer === undefined
        ? undefined
        : { [config.kbServer]: { authorization: `Bearer ${token}` } };
    return new FileOps({
      ...options,
      s3: {
        endpoint: config.s3EndpointUrl,
        accessKeyId: config.accessKeyId,
        secretAccessKey: config.secretAccessKey,
        ...options.s3,
      },
      ...(kbHeaders === undefined
        ? {}
        : { http: { ...options.http, originHeaders: { ...kbHeaders, ...options.http?.originHeaders } } }),
    });
  }

  /**
   * Makes `src` available locally and returns the local path of the file or folder.
   *
   * - local `src` without `dst`: returned as is (no copy); with `dst`: copied there atomically.
   * - `http(s)://`: streamed to a temp sibling of the target, then renamed.
   * - `s3://bucket/key`: the object `key` as a file, else every object under `key/` as a folder
   *   (names kept below it); nothing there → SEDNA_ERR_FILE_NOT_FOUND.
   *
   * `dst` is the target path; an existing folder (or a path ending with `/`) receives a file
   * under its own name. Without `dst`, remote sources land in a fresh temp folder the caller owns.
   */
  async download(src: string, dst?: string, options: DownloadOptions = {}): Promise<string> {
    this.checkOpen();
    if (options.unzip === true && isTarGz(src)) return this.downloadUnpacked(src, dst);
    const target = dst === undefined ? undefined : toLocalPath(dst);
    switch (schemeOf(src)) {
      case 'file':
        return this.copyLocal(toLocalPath(src), target);
      case 'http':
        return this.http.download(src, target, this.tempDir);
      case 's3':
        return this.s3.download(src, target, this.tempDir);
    }
  }

  /**
   * Stores the local file or folder `src` at `dst` (a path or an s3:// URL) and returns where it
   * went. The source is never deleted (Sedna deleted it). A folder goes to S3 under the URL's key
   * prefix (`s3://b/models/v2` → `models/v2/<relative path>`); a file URL ending with `/` gets the
   * file's name appended. A remote `src` is downloaded first.
   */
  async upload(src: string, dst: string, options: UploadOptions = {}): Promise<string> {
    this.checkOpen();
    const cleanup: string[] = [];
    try {
      let local = isRemote(src) ? await this.download(src) : toLocalPath(src);
      if (isRemote(src)) cleanup.push(path.dirname(local));
      if (options.tar === true) {
        const dir = await makeTempDir('sedna-tar-', this.tempDir);
        cleanup.push(dir);
        const archive = path.join(dir, `${path.basename(local)}.tar.gz`);
        await tarGz(local, archive);
        local = archive;
      }
      switch (schemeOf(dst)) {
        case 'file':
          return await this.copyLocal(local, toLocalPath(dst));
        case 's3':
          return await this.s3.upload(local, dst);
        case 'http':
          throw notSupported(
            `uploading to ${dst}`,
            'http(s) locations are read-only; upload to a path or an s3:// URL',
          );
      }
    } finally {
      await Promise.all(cleanup.map((dir) => removeQuietly(dir)));
    }
  }

  /** Whether a file, folder or object (or objects under `location/`) exists. */
  async exists(location: string): Promise<boolean> {
    this.checkOpen();
    switch (schemeOf(location)) {
      case 'file':
        try {
          await fsp.stat(toLocalPath(location));
          return true;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'ENOTDIR') return false;
          throw localError('check', location, err);
        }
      case 'http':
        return this.http.exists(location);
      case 's3':
        return (await this.s3.stat(location)) !== undefined;
    }
  }

  /** The bytes of a file (bounded by `maxReadBytes` for remote files). */
  async readFile(location: string): Promise<Buffer> {
    this.checkOpen();
    switch (schemeOf(location)) {
      case 'file': {
        const file = toLocalPath(location);
        try {
          return await fsp.readFile(file);
        } catch (err) {
          throw localError('read', file, err);
        }
      }
      case 'http':
        return this.http.readFile(location, this.maxReadBytes);
      case 's3':
        return this.s3.readFile(location);
    }
  }

  /** Writes a whole file: atomically for local paths (temp + fsync + rename), one PUT for S3. */
  async writeFile(location: string, data: string | Uint8Array): Promise<void> {
    this.checkOpen();
    switch (schemeOf(location)) {
      case 'file':
        await writeFileAtomic(toLocalPath(location), data);
        return;
      case 's3':
        await this.s3.writeFile(location, data);
        return;
      case 'http':
        throw notSupported(`writing ${location}`, 'http(s) locations are read-only; write to a path or an s3:// URL');
    }
  }

  /** Removes a file or folder (S3: the object and everything under `key/`). Missing is fine. */
  async remove(location: string): Promise<void> {
    this.checkOpen();
    switch (schemeOf(location)) {
      case 'file': {
        const file = toLocalPath(location);
        await fsp.rm(file, { recursive: true, force: true }).catch((err: unknown) => {
          throw localError('remove', file, err);
        });
        return;
      }
      case 's3':
        await this.s3.remove(location);
        return;
      case 'http':
        throw notSupported(`removing ${location}`, 'http(s) locations are read-only');
    }
  }

  /** Packs a local folder (or file) into a `.tar.gz` at `dstFile`, atomically; returns `dstFile`. */
  async tar(src: string, dstFile: string): Promise<string> {
    this.checkOpen();
    const target = toLocalPath(dstFile);
    await tarGz(toLocalPath(src), target);
    return target;
  }

  /**
   * Unpacks a local `.tar.gz` into `dstDir` (created, or merged into); returns `dstDir`. Entries
   * that would land outside it (absolute, `..`, outbound links, links through links, paths
   * through a link already in `dstDir`) fail with SEDNA_ERR_DATA_FORMAT, and archives past the
   * `archive` limits with SEDNA_ERR_ARCHIVE_TOO_LARGE, before anything is written.
   */
  async untar(file: string, dstDir: string): Promise<string> {
    this.checkOpen();
    const target = toLocalPath(dstDir);
    await untar(toLocalPath(file), target, this.archiveLimits);
    return target;
  }

  /** Releases pooled connections (S3 and HTTP); later calls throw SEDNA_ERR_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.http.close();
    await this.s3.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private checkOpen(): void {
    if (this.closed) throw closedError('FileOps');
  }

  private async copyLocal(src: string, dst: string | undefined): Promise<string> {
    const stat = await fsp.stat(src).catch((err: unknown) => {
      throw localError('read', src, err);
    });
    if (dst === undefined) return src;
    if (stat.isDirectory()) {
      if (path.resolve(src) === path.resolve(dst)) return dst;
      await copyDirInto(src, dst);
      return dst;
    }
    const target = await fileTarget(dst, path.basename(src));
    if (path.resolve(src) !== path.resolve(target)) await copyFileAtomic(src, target);
    return target;
  }

  private async downloadUnpacked(src: string, dst: string | undefined): Promise<string> {
    const target = dst === undefined ? await makeTempDir('sedna-unzip-', this.tempDir) : toLocalPath(dst);
    if (!isRemote(src)) {
      await untar(toLocalPath(src), target, this.archiveLimits);
      return target;
    }
    const scratch = await makeTempDir('sedna-archive-', this.tempDir);
    try {
      const archive = await this.download(src, path.join(scratch, fileNameOf(src)));
      await untar(archive, target, this.archiveLimits);
      return target;
    } finally {
      await removeQuietly(scratch);
    }
  }
}

/** The bucket and key of an s3:// URL. */
export { parseS3Url };
