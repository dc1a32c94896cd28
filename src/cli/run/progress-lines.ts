/**
 * Progress events in a worker's log: the SDK logs each one as a JSON line with a `progress` object
 * (src/common/progress.ts); `sedna run` picks them out of the worker's output and shows bars.
 */
import { PROGRESS_FIELD } from '../../common/progress.js';

export interface ProgressFields {
  task: string;
  done: number;
  total: number | null;
  unit: string;
}

export function parseProgressLine(text: string): ProgressFields | undefined {
  if (!text.startsWith('{') || !text.includes(`"${PROGRESS_FIELD}"`)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const p = (parsed as Record<string, unknown>)[PROGRESS_FIELD];
  if (p === null || typeof p !== 'object') return undefined;
  const { task, done, total, unit } = p as Record<string, unknown>;
  if (typeof task !== 'string' || typeof done !== 'number' || !Number.isFinite(done)) return undefined;
  return {
    task,
    done,
    total: typeof total === 'number' && Number.isFinite(total) && total > 0 ? total : null,
    unit: typeof unit === 'string' ? unit : '',
  };
}
