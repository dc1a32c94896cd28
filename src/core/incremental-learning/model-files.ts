/**
 * Where incremental learning loads and saves models, and how remote locations are handled.
 *
 * Sedna's JobBase.model_path rule: MODEL_URL when it is an existing file, else `model_path` /
 * MODEL_PATH, else `MODEL_URL/<model file name>`. For a train worker MODEL_URL is the round's
 * output folder, so the model lands at `MODEL_URL/<name>` (a folder for TF.js). Remote locations
 * go through FileOps: a model is written completely on local disk, then uploaded, so the object
 * store never holds half a model under a name someone may read.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Estimator } from '../../backend/estimator.js';
import type { FileOps } from '../../datasources/file-ops.js';
import { makeTempDir, removeQuietly } from '../../datasources/local-fs.js';
import { schemeOf, toLocalPath } from '../../datasources/file-ops.js';
import { invalidConfig } from '../../common/errors.js';

/** Default model file (or folder) names per backend, like Sedna's `model_name` property. */
const DEFAULT_MODEL_NAMES: Readonly<Record<string, string>> = { tfjs: 'model', onnx: 'model.onnx' };

export function defaultModelName(estimator: Estimator): string {
  return DEFAULT_MODEL_NAMES[estimator.backend] ?? 'model';
}

async function statOf(location: string): Promise<'file' | 'dir' | undefined> {
  if (schemeOf(location) !== 'file') return undefined;
  try {
    const s = await fsp.stat(toLocalPath(location));
    return s.isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

function join(dir: string, name: string): string {
  return schemeOf(dir) === 'file' && !/^file:\/\//i.test(dir)
    ? path.join(dir, name)
    : `${dir.replace(/\/+$/, '')}/${name}`;
}

/** Where `train()` saves: Sedna's model_path rule. */
export async function trainOutputLocation(
  modelUrl: string | undefined,
  modelPath: string | undefined,
  modelName: string,
): Promise<string> {
  if (modelUrl !== undefined && (await statOf(modelUrl)) === 'file') return modelUrl;
  if (modelPath !== undefined) return modelPath;
  if (modelUrl === undefined)
    throw invalidConfig('MODEL_URL', undefined, 'the folder the trained model is saved to (or model_path)');
  return join(modelUrl, modelName);
}

/**
 * The model an inference worker serves: `model_path` when set; else `MODEL_URL/<name>` when that
 * exists (MODEL_URL is an output folder); else MODEL_URL itself (a model file or a model folder,
 * which Sedna's rule would have missed for TF.js folders).
 */
export async function inferenceModelLocation(
  modelUrl: string | undefined,
  modelPath: string | undefined,
  modelName: string,
): Promise<string | undefined> {
  if (modelPath !== undefined) return modelPath;
  if (modelUrl === undefined) return undefined;
  if ((await statOf(modelUrl)) === 'dir' && (await statOf(join(modelUrl, modelName))) !== undefined)
    return join(modelUrl, modelName);
  return modelUrl;
}

/**
 * A local copy of a model location (remote ones are downloaded); `release()` removes the copy. A
 * `.json` object on S3 is a TF.js manifest whose weights sit beside it, so its folder is fetched.
 */
export async function localModel(
  location: string,
  fileOps: FileOps,
): Promise<{ path: string; release: () => Promise<void> }> {
  if (schemeOf(location) === 'file') return { path: toLocalPath(location), release: () => Promise.resolve() };
  const cut = location.lastIndexOf('/');
  const key = location.slice('s3://'.length);
  // Only `s3://bucket/folder/model.json`: never a whole bucket.
  const withFolder =
    schemeOf(location) === 's3' && location.endsWith('.json') && key.indexOf('/') < key.lastIndexOf('/');
  // Without a destination FileOps downloads into a fresh temp folder that the caller owns.
  const local = await fileOps.download(withFolder ? location.slice(0, cut) : location);
  const release = (): Promise<void> => removeQuietly(path.dirname(local));
  return { path: withFolder ? path.join(local, location.slice(cut + 1)) : local, release };
}

/** Saves atomically at `target`: locally through the estimator, remotely as a complete local copy then an upload. */
export async function saveModel(estimator: Estimator, target: string, fileOps: FileOps): Promise<string> {
  if (schemeOf(target) === 'file') return estimator.save(target);
  const tmp = await makeTempDir('sedna-il-save-');
  try {
    const name = target.replace(/\/+$/, '').split('/').pop() ?? 'model';
    const local = await estimator.save(path.join(tmp, name));
    await fileOps.upload(local, target);
    return target;
  } finally {
    await removeQuietly(tmp);
  }
}

/** Size and modification time of a local model file or folder (undefined when missing); remote: the URL. */
export async function modelFingerprint(location: string): Promise<string | undefined> {
  if (schemeOf(location) !== 'file') return location;
  try {
    const s = await fsp.stat(toLocalPath(location));
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return undefined;
  }
}
