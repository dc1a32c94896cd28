/**
 * What the knowledge base keeps of each task besides its model: its training samples (Sedna's
 * `<data_type>_<entry>.sample`, here JSON), and how an update brings them back: the stored
 * samples of every task and the new data become one table, so the engine sees all the knowledge
 * (spec §5.4). Tasks the new data does not touch keep their models.
 */
import { SednaError, messageOf } from '../../common/errors.js';
import { toTaskTable, type Cell, type Row, type TaskTable } from '../../algorithms/multi-task-learning/index.js';
import type { FileOps } from '../../datasources/file-ops.js';
import { kbIndexError, type KBIndex } from '../../datasources/kb-index.js';

export const TASK_SAMPLES_FORMAT = 'sedna-sdk/task-samples';

/** A file name for `entry` (entries may hold any character; names keep to a safe set). */
export function safeName(entry: string): string {
  return entry.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Sedna's sample file name, `<data_type>_<entry>.sample`, with `.json`: it is JSON, not a pickle. */
export function taskSamplesFileName(entry: string, dataType = 'train'): string {
  return `${dataType}_${safeName(entry)}.sample.json`;
}

export function serializeTaskSamples(entry: string, samples: TaskTable): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      format: TASK_SAMPLES_FORMAT,
      version: 1,
      entry,
      columns: samples.columns,
      rows: samples.rows.map((row) => Array.from(row)),
      y: samples.y ?? null,
    }),
  );
}

/** Reads a task's sample file; anything but the format above is SEDNA_ERR_KB_INDEX naming the file. */
export function parseTaskSamples(bytes: Uint8Array, location: string): TaskTable {
  const bad = (why: string, cause?: unknown): SednaError =>
    kbIndexError(`the task samples at ${location} ${why}`, { location }, cause);
  let file: { format?: unknown; columns?: unknown; rows?: unknown; y?: unknown };
  try {
    file = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString()) as typeof file;
  } catch (err) {
    throw bad('are not JSON', err);
  }
  if (typeof file !== 'object' || (file as unknown) === null || file.format !== TASK_SAMPLES_FORMAT)
    throw bad(`are not ${TASK_SAMPLES_FORMAT}`);
  const { columns, rows, y } = file;
  if (!Array.isArray(columns) || !columns.every((c) => typeof c === 'string')) throw bad('name no columns');
  if (!Array.isArray(rows) || !rows.every((r) => Array.isArray(r) && r.every(isCell)))
    throw bad('hold rows that are not lists of numbers and strings');
  if (!Array.isArray(y)) throw bad('have no labels');
  try {
    return toTaskTable({ columns: columns, x: rows as Row[], y });
  } catch (err) {
    throw bad(messageOf(err), err);
  }
}

function isCell(value: unknown): value is Cell {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/** The stored samples of every task of `index`, by task entry (downloaded from their `data_url`). */
export async function readStoredSamples(index: KBIndex, fileOps: FileOps): Promise<Map<string, TaskTable>> {
  const out = new Map<string, TaskTable>();
  for (const group of index.seen_task.task_groups) {
    for (const task of group.tasks) {
      const url = task.samples.data_url;
      if (url === '') {
        throw kbIndexError(
          `task "${task.entry}" has no stored samples (data_url is empty): an update needs the samples of every known task; train with action "initial" instead`,
          { task: task.entry },
        );
      }
      let bytes: Uint8Array;
      try {
        bytes = await fileOps.readFile(url);
      } catch (err) {
        throw kbIndexError(
          `the samples of task "${task.entry}" cannot be read from ${url}: ${messageOf(err)}`,
          {
            task: task.entry,
            location: url,
          },
          err,
        );
      }
      out.set(task.entry, parseTaskSamples(bytes, url));
    }
  }
  return out;
}

/**
 * The stored knowledge and the new data as one table, in the new data's columns. A stored row gets
 * its task's attribute values back from `meta_attr` (the samples were stored without them).
 */
export function withStoredSamples<Y>(
  index: KBIndex,
  stored: ReadonlyMap<string, TaskTable>,
  data: TaskTable<Y>,
): TaskTable<Y> {
  const extractor = index.seen_task.extractor;
  const attribute = Array.isArray(extractor?.attribute) ? (extractor.attribute as string[]) : [];
  const rows: Row[] = [];
  const y: Y[] = [];
  for (const group of index.seen_task.task_groups) {
    for (const task of group.tasks) {
      const samples = stored.get(task.entry) as TaskTable;
      const values = Array.isArray(task.meta_attr) ? (task.meta_attr as Cell[]) : [];
      const missing = [...attribute.slice(0, values.length), ...samples.columns].filter(
        (c) => !data.columns.includes(c),
      );
      const extra = data.columns.filter((c) => !attribute.includes(c) && !samples.columns.includes(c));
      if (missing.length > 0 || extra.length > 0) {
        throw new SednaError(
          'SEDNA_ERR_TASK_DATA',
          `multi-task learning: an update needs the columns the knowledge base holds for task "${task.entry}"` +
            (missing.length > 0 ? `; the data lacks ${missing.map((c) => `"${c}"`).join(', ')}` : '') +
            (extra.length > 0 ? `; the stored samples lack ${extra.map((c) => `"${c}"`).join(', ')}` : ''),
          { details: { task: task.entry, missing, extra } },
        );
      }
      // Where each column of the new data comes from: >= 0 a stored feature, < 0 attribute -1-k.
      const source = data.columns.map((column) => {
        const a = attribute.indexOf(column);
        return a >= 0 && a < values.length ? -1 - a : samples.columns.indexOf(column);
      });
      samples.rows.forEach((row, i) => {
        rows.push(source.map((at) => (at < 0 ? values[-1 - at] : row[at]) as Cell));
        y.push(samples.y?.[i] as Y);
      });
    }
  }
  for (let i = 0; i < data.rows.length; i++) {
    rows.push(data.rows[i] as Row);
    y.push(data.y?.[i] as Y);
  }
  return toTaskTable<Y>({ columns: data.columns, x: rows, y });
}
