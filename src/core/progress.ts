/**
 * Training progress for the jobs: each epoch logged as a progress line (src/common/progress.ts),
 * which `sedna run` draws as a bar, before the caller's own `onEpoch`.
 */
import type { TrainOptions } from '../backend/estimator.js';
import type { Logger } from '../common/logger.js';
import { logProgress } from '../common/progress.js';

export function withEpochProgress<T extends TrainOptions>(options: T, logger: Logger, task = 'train'): T {
  const own = options.onEpoch;
  return {
    ...options,
    onEpoch: (progress) => {
      logProgress(logger, { task, done: progress.epoch, total: progress.epochs, unit: 'epochs' });
      own?.(progress);
    },
  };
}
