/**
 * A deployment: an index and the models it names, loaded and ready to answer. The edge keeps a
 * local copy (the index and the model files under its own folder) so it serves without the
 * knowledge base; a new index becomes a new deployment, swapped in whole.
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import {
  createStep,
  type DeployedModels,
  type MultiTaskLearning,
  type TaskAllocation,
} from '../../algorithms/multi-task-learning/index.js';
import type { Estimator } from '../../backend/estimator.js';
import { SednaError, isSednaError, messageOf } from '../../common/errors.js';
import type { FileOps } from '../../datasources/file-ops.js';
import { schemeOf, toLocalPath, writeFileAtomic } from '../../datasources/file-ops.js';
import {
  KB_INDEX_NAME,
  indexFormatOf,
  kbIndexError,
  parseKBIndex,
  serializeKBIndex,
  type KBIndex,
  type KBModelRecord,
} from '../../datasources/kb-index.js';
import { removeQuietly } from '../../datasources/local-fs.js';

/** The version of an index: a digest of its bytes (it changes with any change, drops included). */
export function indexVersion(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

/** Reads an index file (path or URL); a Python pickle is refused with a clear code. */
export async function readIndex(location: string, fileOps: FileOps): Promise<{ bytes: Uint8Array; index: KBIndex }> {
  let bytes: Uint8Array;
  try {
    bytes = await fileOps.readFile(location);
  } catch (err) {
    if (isSednaError(err, 'SEDNA_ERR_FILE_NOT_FOUND') || isSednaError(err, 'SEDNA_ERR_HTTP_STATUS'))
      throw new SednaError('SEDNA_ERR_KB_NO_INDEX', `no lifelong-learning index at ${location}: ${messageOf(err)}`, {
        cause: err,
        details: { location },
      });
    throw err;
  }
  if (indexFormatOf(bytes) === 'pickle') {
    throw kbIndexError(
      `${location} is a Python Sedna index (a pickle); sedna-sdk jobs read the JSON index their own train worker writes`,
      { location },
    );
  }
  return { bytes, index: parseKBIndex(bytes, location) };
}

export interface Deployment {
  readonly version: string;
  readonly index: KBIndex;
  readonly models: DeployedModels;
  /** Where the local copy is. */
  readonly dir: string;
  close(): Promise<void>;
}

function fileNameOfModel(record: KBModelRecord, position: number): string {
  const url = record.model;
  const files = /[?&]files=([^&]+)/.exec(url)?.[1];
  const base = files === undefined ? path.basename(url.replace(/[?#].*$/, '')) : decodeURIComponent(files);
  const safe = base.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '');
  return `${position}-${safe === '' ? 'model' : safe}`;
}

/**
 * Copies the models of `index` under `dir/<version>/`, loads each into a fresh estimator and builds
 * the allocation step from the index's extractor. Any failure closes what was loaded and throws
 * (a model the index names but nobody stored: SEDNA_ERR_MODEL_NOT_FOUND naming it).
 */
export async function loadDeployment(options: {
  readonly bytes: Uint8Array;
  readonly index: KBIndex;
  readonly engine: MultiTaskLearning;
  readonly createEstimator: () => Promise<Estimator>;
  readonly fileOps: FileOps;
  readonly dir: string;
}): Promise<Deployment> {
  const { index, engine } = options;
  const version = indexVersion(options.bytes);
  const dir = path.join(options.dir, `models-${version}`);
  const loaded = new Map<string, Estimator>();
  const closeAll = async (): Promise<void> => {
    for (const e of loaded.values()) await e.close().catch(() => undefined);
  };
  try {
    await fsp.mkdir(dir, { recursive: true });
    const seen = index.seen_task;
    const records = [...seen.task_groups.map((g) => g.model), ...(seen.global_model ? [seen.global_model] : [])];
    let position = 0;
    for (const record of records) {
      if (loaded.has(record.model)) continue;
      const local = path.join(dir, fileNameOfModel(record, position++));
      try {
        if (schemeOf(record.model) === 'file') await fsp.copyFile(toLocalPath(record.model), local);
        else await options.fileOps.download(record.model, local);
      } catch (err) {
        throw new SednaError(
          'SEDNA_ERR_MODEL_NOT_FOUND',
          `the index names the model ${record.model} (task group "${record.entry}"), which cannot be fetched: ${messageOf(err)}`,
          {
            cause: err,
            details: { model: record.model, group: record.entry },
          },
        );
      }
      const estimator = await options.createEstimator();
      loaded.set(record.model, estimator);
      await estimator.load(local);
    }
    if (seen.extractor === null) throw kbIndexError('the index has no extractor (seen_task.extractor)');
    const mining = engine.miningFor(seen.extractor);
    const allocation = createStep<TaskAllocation>({ method: mining.method, param: mining.param }, '', 'allocate', {
      task_extractor: seen.extractor,
    });
    const groupOfTask = new Map<string, number>();
    seen.task_groups.forEach((g, i) => {
      for (const t of g.tasks) groupOfTask.set(t.entry, i);
    });
    const groups = seen.task_groups.map((g) => ({
      entry: g.entry,
      // A dropped group (deploy false) and a rare group (it shares the global model) have none of their own.
      estimator: g.deploy && g.model.entry !== 'global' ? loaded.get(g.model.model) : undefined,
    }));
    // The fallback answers unknown tasks and groups without their own model: the global model, else
    // the first group's model (Sedna's answer for an unknown task).
    const fallbackRecord = seen.global_model ?? seen.task_groups.find((g) => g.deploy)?.model;
    const fallbackEstimator = fallbackRecord === undefined ? undefined : loaded.get(fallbackRecord.model);
    const models: DeployedModels = {
      allocation,
      groupOfTask,
      groups,
      fallback:
        fallbackRecord === undefined || fallbackEstimator === undefined
          ? undefined
          : { entry: fallbackRecord.entry, estimator: fallbackEstimator },
    };
    await writeFileAtomic(path.join(options.dir, KB_INDEX_NAME), serializeKBIndex(index));
    return {
      version,
      index,
      models,
      dir,
      close: async () => {
        await closeAll();
        await (allocation as { close?: () => Promise<void> }).close?.();
        await removeQuietly(dir);
      },
    };
  } catch (err) {
    await closeAll();
    await removeQuietly(dir);
    throw err;
  }
}
