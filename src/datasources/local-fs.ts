/**
 * Durable local writes (house rule 9): every file FileOps puts on disk goes to a temp sibling
 * first and is renamed into place, so a reader (a model loader, an LC report consumer) sees either
 * the old file or the complete new one, never half of one, and a failure leaves no temp litter.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SednaError, messageOf } from '../common/errors.js';

/**
 * Removes a temp file or folder, ignoring every error: cleanup must never hide the failure that
 * caused it (`rm --force` still throws ENOTDIR when a parent is a file).
 */
export async function removeQuietly(location: string): Promise<void> {
  await fsp.rm(location, { recursive: true, force: true }).catch(() => undefined);
}

/** A unique sibling temp name for `target`, in the same folder so `rename` is atomic. */
export function tempSibling(target: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
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

/**
 * Writes `data` to `target` atomically: a temp file in the same folder, fsync, then rename. A
 * crash leaves either the old file or the new one, never half of one; the temp file is removed on
 * failure.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempSibling(target);
  try {
    await fsp.mkdir(path.dirname(target), { recursive: true });
    const handle = await fsp.open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, target);
  } catch (err) {
    await removeQuietly(tmp);
    throw localError('write', target, err);
  }
}

/** Copies a local file to `target` atomically (temp copy + rename). */
export async function copyFileAtomic(source: string, target: string): Promise<void> {
  const tmp = tempSibling(target);
  try {
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await fsp.copyFile(source, tmp);
    await fsp.rename(tmp, target);
  } catch (err) {
    await removeQuietly(tmp);
    throw localError('copy', source, err);
  }
}

export interface StreamWriteOptions {
  /** Fails when no byte arrives for this long (a stalled server); 0 disables. */
  idleTimeoutMs?: number;
  /** Fails when the stream carries more than this many bytes. */
  maxBytes?: number;
  /** The error for a stream over `maxBytes` (default SEDNA_ERR_STORAGE). */
  tooLarge?: (bytes: number, maxBytes: number) => SednaError;
  /** Aborts the write; a SednaError `reason` is the failure reported (e.g. a deadline's). */
  signal?: AbortSignal;
  /** What the bytes are, for messages (a URL); defaults to the target path. */
  source?: string;
  /** Called with the bytes written so far. */
  onBytes?: (bytes: number) => void;
}

/**
 * Streams `source` into `target` atomically (temp sibling, fsync, rename). On any failure the
 * temp file is removed and nothing appears at `target`. Returns the number of bytes written.
 */
export async function writeStreamAtomic(
  target: string,
  source: Readable,
  options: StreamWriteOptions = {},
): Promise<number> {
  const tmp = tempSibling(target);
  const what = options.source ?? target;
  let bytes = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  const controller = new AbortController();
  let failure: SednaError | undefined;
  const fail = (err: SednaError): void => {
    failure ??= err;
    controller.abort();
  };
  const armIdle = (): void => {
    if (options.idleTimeoutMs === undefined || options.idleTimeoutMs <= 0) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      fail(
        new SednaError(
          'SEDNA_ERR_TIMEOUT',
          `reading ${what} stalled: no data for ${options.idleTimeoutMs} ms (after ${bytes} bytes)`,
          { details: { location: what, bytes } },
        ),
      );
    }, options.idleTimeoutMs);
  };
  const onAbort = (): void => {
    const reason: unknown = options.signal?.reason;
    fail(
      reason instanceof SednaError
        ? reason
        : new SednaError('SEDNA_ERR_TIMEOUT', `reading ${what} was aborted by the caller`, {
            details: { location: what },
          }),
    );
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) onAbort();
  const counter = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      bytes += chunk.length;
      if (options.maxBytes !== undefined && bytes > options.maxBytes) {
        fail(
          options.tooLarge?.(bytes, options.maxBytes) ??
            new SednaError('SEDNA_ERR_STORAGE', `${what} is larger than the limit of ${options.maxBytes} bytes`, {
              details: { location: what, maxBytes: options.maxBytes },
            }),
        );
        callback();
        return;
      }
      armIdle();
      options.onBytes?.(bytes);
      callback(null, chunk);
    },
  });
  // The source may fail while the folder is being created, before the pipeline listens: keep
  // that error from being unhandled (the pipeline still sees it, the stream being errored).
  const ignore = (): void => undefined;
  source.on('error', ignore);
  let sink: fs.WriteStream | undefined;
  try {
    await fsp.mkdir(path.dirname(target), { recursive: true });
    armIdle();
    // flush: fsync before the stream closes, so the rename publishes bytes that are on disk.
    sink = fs.createWriteStream(tmp, { flush: true });
    await pipeline(source, counter, sink, { signal: controller.signal });
    if (failure !== undefined) throw failure;
    await fsp.rename(tmp, target);
    return bytes;
  } catch (err) {
    source.destroy();
    // The file may still be opening when the source fails: wait until the stream has closed,
    // or the temp file would be created after we removed it.
    if (sink !== undefined && !sink.closed) {
      const stream = sink;
      // Not events.once: it rejects on the 'error' the stream emits before closing.
      const closed = new Promise<void>((resolve) => {
        stream.once('close', () => {
          resolve();
        });
      });
      sink.destroy();
      await closed;
    }
    await removeQuietly(tmp);
    if (failure !== undefined) throw failure;
    if (err instanceof SednaError) throw err;
    // A stream error that is not from the file system (a reset connection) names the source.
    if ((err as NodeJS.ErrnoException).syscall === undefined || (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
      throw new SednaError('SEDNA_ERR_NETWORK', `reading ${what} failed after ${bytes} bytes: ${messageOf(err)}`, {
        cause: err,
        details: { location: what, bytes },
      });
    }
    throw localError('write', target, err);
  } finally {
    clearTimeout(idleTimer);
    options.signal?.removeEventListener('abort', onAbort);
    source.off('error', ignore);
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
    await removeQuietly(tmp);
    throw localError('write', target, err);
  }
}

/**
 * Writes a folder's content into `target` without ever exposing a half-written file:
 * `fill` writes into a temp sibling folder; when `target` does not exist the whole folder is
 * renamed into place, otherwise each file is renamed into the existing folder (a merge, like
 * Sedna's copy_folder: files that are not in the new content are kept, never deleted).
 */
export async function writeIntoDir(target: string, fill: (dir: string) => Promise<void>): Promise<void> {
  const stat = await fsp.stat(target).catch(() => undefined);
  if (stat === undefined) {
    await writeDirAtomic(target, fill);
    return;
  }
  if (!stat.isDirectory()) {
    throw new SednaError('SEDNA_ERR_STORAGE', `cannot write a folder at ${target}: a file is in the way`, {
      details: { location: target },
    });
  }
  const staging = tempSibling(target);
  await fsp.mkdir(staging);
  try {
    await fill(staging);
    await moveTree(staging, target);
  } catch (err) {
    throw localError('write', target, err);
  } finally {
    await removeQuietly(staging);
  }
}

async function moveTree(from: string, to: string, top = true): Promise<void> {
  // Never merge through a symbolic link inside the target (the target itself may be one): it may
  // point anywhere, e.g. out of the folder through a chain of links an archive left there.
  if (!top && (await fsp.lstat(to).catch(() => undefined))?.isSymbolicLink() === true) {
    throw new SednaError('SEDNA_ERR_DATA_FORMAT', `refusing to write into ${to}: it is a symbolic link`, {
      details: { location: to },
    });
  }
  await fsp.mkdir(to, { recursive: true });
  for (const entry of await fsp.readdir(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) await moveTree(src, dst, false);
    else await fsp.rename(src, dst);
  }
}

/** Every file under `dir`, as paths relative to it with `/` separators, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

/** Copies the folder `source` into `target` (merged if it exists; see {@link writeIntoDir}). */
export async function copyDirInto(source: string, target: string): Promise<void> {
  const files = await listFiles(source).catch((err: unknown) => {
    throw localError('read', source, err);
  });
  await writeIntoDir(target, async (dir) => {
    for (const rel of files) {
      const dst = path.join(dir, rel);
      await fsp.mkdir(path.dirname(dst), { recursive: true });
      await fsp.copyFile(path.join(source, rel), dst);
    }
  });
}

/** A fresh private temp folder; remove it with `fsp.rm(dir, { recursive: true })`. */
export function makeTempDir(prefix = 'sedna-', parent = os.tmpdir()): Promise<string> {
  return fsp.mkdtemp(path.join(parent, prefix));
}

/**
 * Joins a relative path below `root` and refuses names that would land outside it (`..`,
 * absolute paths): object keys and archive entries come from elsewhere and must not pick
 * where we write.
 */
export function safeJoin(root: string, relative: string, what: string): string {
  const target = path.resolve(root, relative);
  const base = path.resolve(root);
  if (relative === '' || path.isAbsolute(relative) || (target !== base && !target.startsWith(base + path.sep))) {
    throw new SednaError(
      'SEDNA_ERR_DATA_FORMAT',
      `${what}: the entry name "${relative}" points outside the target folder ${base}; refusing to write it`,
      { details: { entry: relative, root: base } },
    );
  }
  return target;
}

/** `dst` itself, or `dst/<name>` when `dst` is an existing folder or ends with a separator. */
export async function fileTarget(dst: string, name: string): Promise<string> {
  if (dst.endsWith('/') || dst.endsWith(path.sep)) return path.join(dst, name);
  const stat = await fsp.stat(dst).catch(() => undefined);
  return stat?.isDirectory() === true ? path.join(dst, name) : dst;
}

/**
 * Reads a stream into one buffer, refusing more than `maxBytes` (checked against the announced
 * length first, so an oversized answer is not read at all).
 */
export async function readAll(
  stream: Readable,
  location: string,
  maxBytes: number,
  announced?: number,
  signal?: AbortSignal,
): Promise<Buffer> {
  // A SednaError reason (a deadline) ends the read with that error.
  const onAbort = (): void => {
    stream.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted === true) onAbort();
  try {
    return await readAllUnbounded(stream, location, maxBytes, announced);
  } catch (err) {
    if (signal?.aborted === true && signal.reason instanceof SednaError) throw signal.reason;
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

async function readAllUnbounded(
  stream: Readable,
  location: string,
  maxBytes: number,
  announced?: number,
): Promise<Buffer> {
  const tooLarge = (size: number): SednaError => {
    stream.destroy();
    return new SednaError(
      'SEDNA_ERR_STORAGE',
      `cannot read ${location} into memory: ${size} bytes or more is over the limit of ${maxBytes} (maxReadBytes); use download() for large files`,
      { details: { location, size, maxBytes } },
    );
  };
  if (announced !== undefined && announced > maxBytes) throw tooLarge(announced);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buffer.length;
    if (size > maxBytes) throw tooLarge(size);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}
