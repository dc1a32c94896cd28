/**
 * `Threshold` (Sedna's ThresholdFilter): a detection result is hard when the mean box score is
 * below `threshold` (default 0.5). No boxes → not hard. Scores are not range-checked (as in Sedna).
 */
import { numberParam, type ParamInput } from '../params.js';
import { readBoxes, type HardExampleFilter } from './base.js';

export interface ThresholdParams {
  threshold?: ParamInput;
}

export class ThresholdFilter implements HardExampleFilter {
  static readonly algorithmName = 'Threshold';
  static readonly paramNames = ['threshold'] as const;
  readonly name = ThresholdFilter.algorithmName;
  readonly threshold: number;

  constructor(params: ThresholdParams = {}) {
    this.threshold = numberParam(this.name, 'threshold', params.threshold, 0.5);
  }

  isHard(input: unknown): boolean {
    const boxes = readBoxes(this.name, input);
    if (boxes.length === 0) return false;
    let sum = 0;
    for (const box of boxes) sum += box[4] as number;
    return sum / boxes.length < this.threshold;
  }
}
