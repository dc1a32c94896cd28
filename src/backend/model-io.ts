/**
 * Reading and writing model files for the backends: local paths (and `file://` URLs) directly,
 * with atomic writes; remote URLs (`http(s)://`, `s3://`) through a FileOps-like object the caller
 * passes in, so backends never construct storage clients or read credentials themselves.
 *
 * Errors name the location: a missing model is SEDNA_ERR_MODEL_NOT_FOUND (whatever the storage
 * said), anything else keeps the storage error's code.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { SednaError, invalidArgument, isSednaError } from '../common/errors.js';
import { localError, schemeOf, toLocalPath, writeDirAtomic, writeFileAtomic } from '../datasources/file-ops.js';

/**
 * What a backend needs from FileOps for remote model locations. `FileOps` from
 * `src/datasources/file-ops.ts` satisfies it; tests may pass any object with these methods.
 */
export interface RemoteFiles {
  /** The bytes at `url`; rejects with SEDNA_ERR_FILE_NOT_FOUND when nothing is there. */
  readFile(url: string): Promise<Uint8Array>;
  /** Stores `data` at `url` (replacing what is there). */
  writeFile(url: string, data: Uint8Array): Promise<unknown>;
}

function notFound(location: string, cause?: unknown): SednaError {
  return new SednaError('SEDNA_ERR_MODEL_NOT_FOUND', `model not found: ${location}`, {
    cause,
    details: { location },
  });
}

function needRemote(location: string, remote: RemoteFiles | undefined): RemoteFiles {
  if (remote === undefined) {
    throw invalidArgument('fileOps', undefined, `a FileOps instance to reach the remote model location ${location}`);
  }
  return remote;
}

/** Checks an estimator's `modelUrl` option: absent, or a non-empty string (`expected` says what it should name). */
export function checkModelUrl(modelUrl: unknown, expected: string): void {
  if (modelUrl !== undefined && (typeof modelUrl !== 'string' || modelUrl === '')) {
    throw invalidArgument('modelUrl', modelUrl, expected);
  }
}

/** Joins a folder location (path or URL) and a file name. */
export function joinLocation(dir: string, name: string): string {
  return schemeOf(dir) === 'file' && !/^file:\/\//i.test(dir)
    ? path.join(dir, name)
    : `${dir.replace(/\/+$/, '')}/${name}`;
}

/** Whether `location` is a local folder that exists (remote locations: never). */
export async function isLocalDir(location: string): Promise<boolean> {
  if (schemeOf(location) !== 'file') return false;
  try {
    return (await fsp.stat(toLocalPath(location))).isDirectory();
  } catch {
    return false;
  }
}

/** Reads one model file. */
export async function readModelFile(location: string, remote?: RemoteFiles): Promise<Uint8Array> {
  if (schemeOf(location) === 'file') {
    const file = toLocalPath(location);
    try {
      return await fsp.readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(file, err);
      if (code === 'EISDIR')
        throw new SednaError('SEDNA_ERR_MODEL_INVALID', `model path is a folder, not a file: ${file}`, {
          details: { location: file },
        });
      throw localError('read model', file, err);
    }
  }
  try {
    return await needRemote(location, remote).readFile(location);
  } catch (err) {
    if (isSednaError(err, 'SEDNA_ERR_FILE_NOT_FOUND')) throw notFound(location, err);
    throw err;
  }
}

/** Writes one model file atomically (local) or through FileOps (remote); returns the location. */
export async function writeModelFile(location: string, data: Uint8Array, remote?: RemoteFiles): Promise<string> {
  if (schemeOf(location) === 'file') {
    const file = toLocalPath(location);
    await writeFileAtomic(file, data);
    return file;
  }
  await needRemote(location, remote).writeFile(location, data);
  return location;
}

/**
 * Writes a model folder: locally as one atomic folder swap (a reader never sees a model.json
 * without its weights), remotely file by file in the given order: put the manifest last, so a
 * reader that looks for it finds the weights already in place.
 */
export async function writeModelDir(
  location: string,
  files: readonly { readonly name: string; readonly data: Uint8Array }[],
  remote?: RemoteFiles,
): Promise<string> {
  if (schemeOf(location) === 'file') {
    const dir = toLocalPath(location);
    await writeDirAtomic(dir, async (tmp) => {
      for (const f of files) await fsp.writeFile(path.join(tmp, f.name), f.data);
    });
    return dir;
  }
  const store = needRemote(location, remote);
  for (const f of files) await store.writeFile(joinLocation(location, f.name), f.data);
  return location;
}
