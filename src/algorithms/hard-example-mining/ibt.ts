/**
 * `IBT` (Sedna's IBTFilter, image-box-threshold): among n boxes, k have a score ≤ `threshold_box`;
 * the image is hard when k/n ≥ 1 − `threshold_img` (both default 0.5). No boxes → not hard.
 * A score outside [0, 1] is an input error (Sedna silently answered "not hard").
 */
import { rangeParam, type ParamInput } from '../params.js';
import { hemInputError, readBoxes, type HardExampleFilter } from './base.js';

export interface IBTParams {
  threshold_img?: ParamInput;
  threshold_box?: ParamInput;
}

export class IBTFilter implements HardExampleFilter {
  static readonly algorithmName = 'IBT';
  static readonly paramNames = ['threshold_img', 'threshold_box'] as const;
  readonly name = IBTFilter.algorithmName;
  readonly thresholdImg: number;
  readonly thresholdBox: number;

  constructor(params: IBTParams = {}) {
    this.thresholdImg = rangeParam(this.name, 'threshold_img', params.threshold_img, 0.5, 0, 1);
    this.thresholdBox = rangeParam(this.name, 'threshold_box', params.threshold_box, 0.5, 0, 1);
  }

  isHard(input: unknown): boolean {
    const boxes = readBoxes(this.name, input);
    if (boxes.length === 0) return false;
    let low = 0;
    for (const box of boxes) {
      const score = box[4] as number;
      if (score < 0 || score > 1) throw hemInputError(this.name, 'box scores must be in [0, 1]', box);
      if (score <= this.thresholdBox) low++;
    }
    return low / boxes.length >= 1 - this.thresholdImg;
  }
}
