/**
 * Progress of long work (training epochs, federated rounds): each step is logged as one JSON line
 * carrying a `progress` object, `{"progress": {"task", "done", "total", "unit"}, "msg": "train 3/30
 * epochs"}`. In a cluster it is a readable log line; `sedna run` picks these lines out of a worker's
 * output and draws progress bars (src/cli/run/progress-lines.ts reads the same fields).
 */
import type { Logger } from './logger.js';

/** The log field that marks a progress line. */
export const PROGRESS_FIELD = 'progress';

export interface ProgressEvent {
  /** What is progressing: `train`, `federated rounds`, `aggregation`... */
  readonly task: string;
  readonly done: number;
  /** Unknown when absent. */
  readonly total?: number;
  /** `epochs`, `rounds`, `bytes`... */
  readonly unit?: string;
}

/** Logs one progress step at info level. */
export function logProgress(logger: Logger, event: ProgressEvent): void {
  const total = event.total === undefined ? '' : `/${event.total}`;
  const unit = event.unit === undefined ? '' : ` ${event.unit}`;
  logger.info({ [PROGRESS_FIELD]: { unit: '', ...event } }, `${event.task} ${event.done}${total}${unit}`);
}
