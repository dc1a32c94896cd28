/**
 * `CrossEntropy` (Sedna's CrossEntropyFilter): with class probabilities p1..pn, the confidence is
 * 1 − H(p)/ln n (one minus the normalised entropy); the sample is hard when it is below
 * `threshold_cross_entropy` (default 0.5).
 *
 * Where Sedna raised, we define a result: a single class (ln 1 = 0) has no uncertainty, so its
 * confidence is 1 (not hard); p = 0 contributes 0 (the limit of p·ln p), so one-hot outputs are
 * fully confident. An empty list is not hard, as in Sedna.
 */
import { rangeParam, type ParamInput } from '../params.js';
import { hemInputError, probabilityRow, type HardExampleFilter } from './base.js';

export interface CrossEntropyParams {
  threshold_cross_entropy?: ParamInput;
}

/** 1 − normalised entropy of `p` (in [0, 1]; 1 for n ≤ 1). NaN if a value is not in [0, 1]. */
export function entropyConfidence(p: ArrayLike<unknown>): number {
  const n = p.length;
  let sum = 0;
  // One pass that both checks and sums; `v >= 0 && v <= 1` is false for NaN and non-numbers.
  for (let i = 0; i < n; i++) {
    const v = p[i] as number;
    if (!(typeof v === 'number' && v >= 0 && v <= 1)) return NaN;
    if (v > 0) sum += v * Math.log(v);
  }
  return n <= 1 ? 1 : 1 + sum / Math.log(n);
}

export class CrossEntropyFilter implements HardExampleFilter {
  static readonly algorithmName = 'CrossEntropy';
  static readonly paramNames = ['threshold_cross_entropy'] as const;
  readonly name = CrossEntropyFilter.algorithmName;
  readonly threshold: number;

  constructor(params: CrossEntropyParams = {}) {
    this.threshold = rangeParam(this.name, 'threshold_cross_entropy', params.threshold_cross_entropy, 0.5, 0, 1);
  }

  isHard(input: unknown): boolean {
    const p = probabilityRow(this.name, input);
    const n = p.length;
    if (n === 0) return false;
    // confidence < threshold  ⇔  Σ p·ln p < (threshold − 1)·ln n.
    const hard = sumBelow(p, n <= 1 ? -Infinity : (this.threshold - 1) * Math.log(n));
    if (hard === undefined) {
      throw hemInputError(this.name, 'class probabilities must be numbers in [0, 1] (apply softmax first)', input);
    }
    return hard;
  }
}

/**
 * Whether Σ p·ln p < limit; undefined if a value is not a number in [0, 1]. The sum only falls, so
 * once it is below the limit the answer is known: later values are still checked but need no
 * logarithm (Math.log is most of the cost, ~7 ns each). A plain function, so V8 optimises the loop
 * on its own.
 */
function sumBelow(p: ArrayLike<unknown>, limit: number): boolean | undefined {
  const n = p.length;
  let sum = 0;
  let below = false;
  for (let i = 0; i < n; i++) {
    const v = p[i];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) return undefined;
    if (!below && v > 0) {
      sum += v * Math.log(v);
      below = sum < limit;
    }
  }
  return below;
}
