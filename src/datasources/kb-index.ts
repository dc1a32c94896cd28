/**
 * The lifelong-learning index (spec §3.9): which task groups exist, which tasks each holds, which
 * model serves each group and how a sample is allocated to a task (the extractor). Sedna wrote it
 * as a joblib pickle of Python objects; sedna-sdk writes JSON with typed records (the field names
 * are Sedna's, snake_case, so the two layouts read alike):
 *
 * ```json
 * { "format": "sedna-sdk/kb-index", "version": 1, "create_time": "1700000000.123",
 *   "seen_task": { "extractor": {...}, "task_groups": [...], "global_model": {...} | null },
 *   "unseen_task": { "extractor": null, "task_groups": [] } }
 * ```
 *
 * The file keeps Sedna's name (`index.pkl`) on the wire and on disk, because the controller
 * injects that path (MODEL_URLS=<outputDir>/deploy/index.pkl); readers tell JSON from a pickle by
 * the first byte. Python workers' pickles are read by the restricted reader and converted with
 * {@link pythonIndexView}.
 */
import { z } from 'zod';
import { SednaError } from '../common/errors.js';
import { readPickle } from './pickle-reader.js';
import { PyDict, PyObject, PyTuple, type PyValue } from './pickle-values.js';

export const KB_INDEX_FORMAT = 'sedna-sdk/kb-index';
/** The index file's name, as Sedna's controller and KB server use it. */
export const KB_INDEX_NAME = 'index.pkl';

/** A JSON value (what `meta_attr` and extractor state may hold). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
/** Nesting a JSON value may have in an index (attribute values are flat; this only stops abuse). */
const MAX_JSON_DEPTH = 32;

/**
 * Whether a parsed value is plain JSON data, checked by hand: a recursive zod union tries each
 * branch for every attribute value and made checking a 1,000-group index take ~100 ms.
 */
function isJsonValue(value: unknown, depth = 0): value is JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'object' || depth >= MAX_JSON_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!isJsonValue(item, depth + 1)) return false;
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key in value) if (!isJsonValue((value as Record<string, unknown>)[key], depth + 1)) return false;
  return true;
}

const json = z.custom<JsonValue>((value) => isJsonValue(value), {
  error: `not plain JSON data (nested at most ${MAX_JSON_DEPTH} deep)`,
});

const name = z.string().min(1).max(512);
const metrics = z.record(z.string(), z.union([z.number(), z.array(z.number())]));

/** A model in the index: a task group's, or the global one. */
export interface KBModelRecord {
  /** Position of the group the model was trained for (Sedna's `Model.index`). */
  index: number;
  /** The group's entry, or `global` for the model shared by rare groups. */
  entry: string;
  /** Where the model file is (a KB download URL, a path, s3://...). */
  model: string;
  /** The model file's format (`json` for the classical estimator, `onnx`, ...), when known. */
  format?: string | undefined;
  /** The training result (metrics). */
  result: Record<string, number | number[]> | null;
  /** The attribute values of the tasks the model serves. */
  meta_attr: JsonValue[];
}

/** Where a task's samples are stored. */
export interface KBSampleRecord {
  data_type: string;
  /** Where the task's samples were stored ('' when they were not). */
  data_url: string;
  sample_num: number;
}

export interface KBTaskRecord {
  entry: string;
  meta_attr: JsonValue;
  samples: KBSampleRecord;
}

export interface KBTaskGroupRecord {
  entry: string;
  tasks: KBTaskRecord[];
  sample_num: number;
  /** The group's model; rare groups point at the global model. */
  model: KBModelRecord;
  /** False once evaluation dropped the group: its samples go to the global (fallback) model. */
  deploy: boolean;
}

/** How a sample is allocated to a task: the task-mining method and its state. */
export interface KBExtractorRecord {
  method: string;
  [state: string]: JsonValue;
}

export interface KBKnowledge {
  extractor: KBExtractorRecord | null;
  task_groups: KBTaskGroupRecord[];
  /** The model for samples whose group has no deployed model (and for unseen tasks). */
  global_model?: KBModelRecord | null | undefined;
}

export interface KBIndex {
  format: typeof KB_INDEX_FORMAT;
  version: 1;
  create_time: string;
  seen_task: KBKnowledge;
  unseen_task: KBKnowledge;
}

const modelRecord: z.ZodType<KBModelRecord> = z.object({
  /** Position of the group the model was trained for (Sedna's `Model.index`). */
  index: z.number().int().min(0),
  /** The group's entry, or `global` for the model shared by rare groups. */
  entry: name,
  /** Where the model file is (a KB download URL, a path, s3://...). */
  model: z.string().min(1).max(4096),
  /** The model file's format (`json` for the classical estimator, `onnx`, ...), when known. */
  format: z.string().max(64).optional(),
  /** The training result (metrics). */
  result: metrics.nullable(),
  /** The attribute values of the tasks the model serves. */
  meta_attr: z.array(json),
});

const sampleRecord: z.ZodType<KBSampleRecord> = z.object({
  data_type: z.string().max(64),
  /** Where the task's samples were stored ('' when they were not). */
  data_url: z.string().max(4096),
  sample_num: z.number().int().min(0),
});

const taskRecord: z.ZodType<KBTaskRecord> = z.object({
  entry: name,
  meta_attr: json,
  samples: sampleRecord,
});

const groupRecord: z.ZodType<KBTaskGroupRecord> = z.object({
  entry: name,
  tasks: z.array(taskRecord).min(1),
  sample_num: z.number().int().min(0),
  /** The group's model; rare groups point at the global model. */
  model: modelRecord,
  /** False once evaluation dropped the group: its samples go to the global (fallback) model. */
  deploy: z.boolean(),
});

const extractor: z.ZodType<KBExtractorRecord | null> = z
  .object({ method: z.string().min(1).max(256) })
  .catchall(json)
  .nullable();

const knowledge: z.ZodType<KBKnowledge> = z.object({
  extractor,
  task_groups: z.array(groupRecord),
  /** The model for samples whose group has no deployed model (and for unseen tasks). */
  global_model: modelRecord.nullable().optional(),
});

export const kbIndexSchema: z.ZodType<KBIndex> = z.object({
  format: z.literal(KB_INDEX_FORMAT),
  version: z.literal(1),
  create_time: z.string().max(64),
  seen_task: knowledge,
  unseen_task: knowledge,
});

export function kbIndexError(problem: string, details: Readonly<Record<string, unknown>> = {}, cause?: unknown) {
  return new SednaError('SEDNA_ERR_KB_INDEX', `invalid lifelong-learning index: ${problem}`, {
    cause,
    details: { problem, ...details },
  });
}

/** Checks a parsed JSON value against the schema and the rules a schema cannot say. */
export function validateKBIndex(value: unknown): KBIndex {
  const parsed = kbIndexSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
    throw kbIndexError(`${issue?.message ?? 'wrong shape'}${where}`, { path: issue?.path.join('.') }, parsed.error);
  }
  const index = parsed.data;
  for (const part of ['seen_task', 'unseen_task'] as const) {
    const groups = new Set<string>();
    const tasks = new Set<string>();
    for (const group of index[part].task_groups) {
      if (groups.has(group.entry)) throw kbIndexError(`task group "${group.entry}" appears twice in ${part}`);
      groups.add(group.entry);
      for (const task of group.tasks) {
        if (tasks.has(task.entry)) throw kbIndexError(`task "${task.entry}" appears twice in ${part}`);
        tasks.add(task.entry);
      }
    }
  }
  return index;
}

/** Which format a stored index is in, from its first bytes. */
export function indexFormatOf(bytes: Uint8Array): 'json' | 'pickle' | 'unknown' {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] === 0x7b) return 'json';
  if (bytes[0] === 0x80) return 'pickle';
  return 'unknown';
}

/** Parses a JSON index (bytes or text). */
export function parseKBIndex(data: Uint8Array | string, source = 'index'): KBIndex {
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw kbIndexError(`${source} is not valid JSON`, { source }, err);
  }
  return validateKBIndex(value);
}

export function serializeKBIndex(index: KBIndex): Uint8Array {
  return Buffer.from(`${JSON.stringify(index, null, 1)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Python Sedna's pickled index (read-only view; spec §3.9)

/** The Python classes a Sedna index pickle may contain (both LL generations' artifact modules). */
export const SEDNA_PICKLE_CLASSES: ReadonlySet<string> = new Set([
  'sedna.algorithms.multi_task_learning.task_jobs.artifact.Task',
  'sedna.algorithms.multi_task_learning.task_jobs.artifact.TaskGroup',
  'sedna.algorithms.multi_task_learning.task_jobs.artifact.Model',
  'sedna.algorithms.seen_task_learning.artifact.Task',
  'sedna.algorithms.seen_task_learning.artifact.TaskGroup',
  'sedna.algorithms.seen_task_learning.artifact.Model',
  'sedna.datasources.BaseDataSource',
  'sedna.datasources.TxtDataParse',
  'sedna.datasources.CSVDataParse',
  'sedna.datasources.JSONDataParse',
]);

/** What the KB needs from one task group of a Python index. */
export interface PyGroupView {
  readonly entry: string;
  readonly sampleNum: number;
  readonly modelUrl: string;
  readonly tasks: readonly {
    readonly entry: string;
    readonly metaAttr: JsonValue;
    readonly dataType: string;
    readonly dataUrl: string;
    readonly sampleNum: number;
  }[];
}

/** A Python index: its layout (v1 `{task_groups, extractor}` or v2 seen/unseen) and its groups. */
export interface PyIndexView {
  readonly layout: 'v1' | 'v2';
  readonly root: PyDict;
  /** Seen groups then unseen groups (v2), each with the list that holds it. */
  readonly groups: readonly PyGroupView[];
}

/** Reads a Python Sedna index pickle with the restricted reader. */
export function readPythonIndex(bytes: Uint8Array, source = 'index.pkl'): PyIndexView {
  return pythonIndexView(readPickle(bytes, { allowedClasses: SEDNA_PICKLE_CLASSES, source }));
}

/** The group lists of a Python index, in order (v2: seen, then unseen). */
export function pythonGroupLists(root: PyDict): PyValue[][] {
  const lists: PyValue[][] = [];
  const take = (part: PyValue | undefined, where: string): void => {
    if (!(part instanceof PyDict)) throw kbIndexError(`${where} is not a dict`);
    const groups = part.get('task_groups');
    if (groups === null || groups === undefined) return;
    if (!Array.isArray(groups)) throw kbIndexError(`${where}.task_groups is not a list`);
    lists.push(groups);
  };
  if (root.has('seen_task')) {
    take(root.get('seen_task'), 'seen_task');
    if (root.has('unseen_task') && root.get('unseen_task') !== null) take(root.get('unseen_task'), 'unseen_task');
  } else take(root, 'the index');
  return lists;
}

export function pythonIndexView(root: PyValue): PyIndexView {
  if (!(root instanceof PyDict)) throw kbIndexError('a Python index must be a dict');
  const layout = root.has('seen_task') ? 'v2' : 'v1';
  if (layout === 'v1' && !root.has('task_groups')) throw kbIndexError('a Python index needs "task_groups"');
  const groups = pythonGroupLists(root).flatMap((list) => list.map((g, i) => groupView(g, i)));
  return { layout, root, groups };
}

function str(value: PyValue | undefined, what: string): string {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  throw kbIndexError(`${what} must be a non-empty string`);
}

/** `len(BaseDataSource)`: the length of its `x` (0 without samples). */
function sampleCount(samples: PyValue | undefined): number {
  if (samples === undefined || samples === null) return 0;
  if (Array.isArray(samples)) return samples.length;
  if (samples instanceof PyObject) {
    const x = samples.attr('x');
    if (Array.isArray(x)) return x.length;
    if (x instanceof PyTuple) return x.items.length;
  }
  return 0;
}

function groupView(group: PyValue, position: number): PyGroupView {
  if (!(group instanceof PyObject) || group.name !== 'TaskGroup')
    throw kbIndexError(`task_groups[${position}] is not a TaskGroup`);
  const entry = str(group.attr('entry'), `task_groups[${position}].entry`);
  const tasks = group.attr('tasks');
  if (!Array.isArray(tasks)) throw kbIndexError(`task group "${entry}": tasks is not a list`);
  const model = group.attr('model');
  const modelUrl = model instanceof PyObject ? model.attr('model') : undefined;
  return {
    entry,
    sampleNum: sampleCount(group.attr('samples')),
    modelUrl: typeof modelUrl === 'string' ? modelUrl : '',
    tasks: tasks.map((task, i) => {
      if (!(task instanceof PyObject) || task.name !== 'Task')
        throw kbIndexError(`task group "${entry}": tasks[${i}] is not a Task`);
      const samples = task.attr('samples');
      const dataType = samples instanceof PyObject ? samples.attr('data_type') : undefined;
      const dataUrl = samples instanceof PyObject ? samples.attr('data_url') : undefined;
      return {
        entry: str(task.attr('entry'), `task group "${entry}": tasks[${i}].entry`),
        metaAttr: toJson(task.attr('meta_attr') ?? null),
        dataType: typeof dataType === 'string' ? dataType : '',
        dataUrl: typeof dataUrl === 'string' ? dataUrl : '',
        sampleNum: sampleCount(samples),
      };
    }),
  };
}

/** A Python value as JSON (tuples and sets as lists, objects as their state); bytes as latin1. */
export function toJson(value: PyValue): JsonValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('latin1');
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof PyTuple) return value.items.map(toJson);
  if (value instanceof PyDict) {
    const out: Record<string, JsonValue> = {};
    // defineProperty: a "__proto__" key must stay data, never replace the object's prototype.
    for (const [k, v] of value.entries)
      Object.defineProperty(out, String(k), { value: toJson(v), enumerable: true, writable: true, configurable: true });
    return out;
  }
  if (value instanceof PyObject) return toJson(value.state);
  return value.items.map(toJson);
}
