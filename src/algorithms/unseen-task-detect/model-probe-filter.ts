/**
 * `ModelProbeFilter` (spec §3.7): a sample belongs to an unseen task when the model that answered
 * it is unsure: its largest class probability is below `threshold` (default 0.5).
 *
 * Sedna's version answered "unseen" when the mean confidence was *above* the threshold, and always
 * "unseen" under its multi-task engine (the model artifact had no `predict_proba`); this is the
 * documented intent instead. A model that gives no probabilities is an error here, not a silent
 * "unseen".
 */
import { SednaError } from '../../common/errors.js';
import { rangeParam, type ParamInput } from '../params.js';
import type { UnseenTaskContext, UnseenTaskDetector } from './base.js';

export interface ModelProbeFilterParams {
  threshold?: ParamInput;
}

function maxOf(row: ArrayLike<number>): number {
  let best = -Infinity;
  for (let i = 0; i < row.length; i++) if ((row[i] as number) > best) best = row[i] as number;
  return best;
}

function probabilityRow(value: unknown): ArrayLike<number> | undefined {
  if (Array.isArray(value) && value.length > 1 && value.every((v) => typeof v === 'number')) return value;
  if (value instanceof Float32Array || value instanceof Float64Array) return value.length > 1 ? value : undefined;
  return undefined;
}

export class ModelProbeFilter implements UnseenTaskDetector {
  static readonly algorithmName = 'ModelProbeFilter';
  static readonly paramNames = ['threshold'] as const;
  readonly name = ModelProbeFilter.algorithmName;
  readonly threshold: number;

  constructor(params: ModelProbeFilterParams = {}) {
    this.threshold = rangeParam(this.name, 'threshold', params.threshold, 0.5, 0, 1);
  }

  detect(context: UnseenTaskContext): boolean[] {
    return context.predictions.map((prediction, i) => {
      const row = context.probabilities[i] ?? probabilityRow(prediction);
      if (row === undefined) {
        throw new SednaError(
          'SEDNA_ERR_INVALID_ARGUMENT',
          'ModelProbeFilter needs class probabilities: the task models return neither probability rows nor offer predictProba(); use TaskAttrFilter or a probabilistic estimator',
          { details: { detector: this.name } },
        );
      }
      return maxOf(row) < this.threshold;
    });
  }
}
