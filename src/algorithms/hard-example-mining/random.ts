/**
 * `Random` (Sedna's RandomFilter): a sample is hard with probability `random_ratio` (default 0.3),
 * whatever the input. Sedna did not cast the CRD's string value and raised; we cast and check it.
 */
import { rangeParam, type ParamInput } from '../params.js';
import type { HardExampleFilter } from './base.js';

export interface RandomParams {
  random_ratio?: ParamInput;
}

export class RandomFilter implements HardExampleFilter {
  static readonly algorithmName = 'Random';
  static readonly paramNames = ['random_ratio'] as const;
  readonly name = RandomFilter.algorithmName;
  readonly ratio: number;
  private readonly random: () => number;

  /** `random` is a uniform [0, 1) source (Math.random by default; tests pass a seeded one). */
  constructor(params: RandomParams = {}, random: () => number = Math.random) {
    this.ratio = rangeParam(this.name, 'random_ratio', params.random_ratio, 0.3, 0, 1);
    this.random = random;
  }

  isHard(_input?: unknown): boolean {
    return this.random() < this.ratio;
  }
}
