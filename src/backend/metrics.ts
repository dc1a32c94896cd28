/**
 * Evaluation helpers shared by the backends: a built-in accuracy metric and the one place that
 * runs user metric functions and checks what they return (numbers, or lists of numbers, which is
 * what the LocalController accepts in a report's `metrics`).
 */
import { SednaError, messageOf, showValue } from '../common/errors.js';
import type { MetricFunction, Metrics } from './estimator.js';

/** Index of the largest value (the first one on ties); -1 for an empty row. */
export function argmax(row: ArrayLike<number>): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < row.length; i++) {
    const v = row[i] as number;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/**
 * Fraction of samples whose predicted class equals the label. A prediction is a class index, or a
 * row of scores / probabilities (its argmax is the class).
 */
export function accuracy(yTrue: readonly number[], yPred: readonly (number | ArrayLike<number>)[]): number {
  if (yTrue.length !== yPred.length) {
    throw new SednaError('SEDNA_ERR_METRIC', `accuracy: ${yTrue.length} labels but ${yPred.length} predictions`, {
      details: { labels: yTrue.length, predictions: yPred.length },
    });
  }
  if (yTrue.length === 0) return 0;
  let hits = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const p = yPred[i] as number | ArrayLike<number>;
    const predicted = typeof p === 'number' ? p : argmax(p);
    if (predicted === yTrue[i]) hits++;
  }
  return hits / yTrue.length;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * Runs each named metric on the labels and predictions. A metric that throws, or returns anything
 * but a finite number or an array of finite numbers, fails with SEDNA_ERR_METRIC naming it.
 */
export function computeMetrics<Y, P>(
  metrics: Readonly<Record<string, MetricFunction<Y, P>>>,
  yTrue: readonly Y[],
  yPred: readonly P[],
): Metrics {
  const out: Record<string, number | readonly number[]> = {};
  for (const [name, fn] of Object.entries(metrics)) {
    let value: unknown;
    try {
      value = fn(yTrue, yPred);
    } catch (err) {
      throw new SednaError('SEDNA_ERR_METRIC', `metric "${name}" threw: ${messageOf(err)}`, {
        cause: err,
        details: { metric: name },
      });
    }
    if (isFiniteNumber(value)) out[name] = value;
    else if (Array.isArray(value) && value.every(isFiniteNumber)) out[name] = Object.freeze([...value]);
    else {
      throw new SednaError(
        'SEDNA_ERR_METRIC',
        `metric "${name}" returned ${showValue(value)}; expected a finite number or an array of finite numbers`,
        { details: { metric: name } },
      );
    }
  }
  return Object.freeze(out);
}
