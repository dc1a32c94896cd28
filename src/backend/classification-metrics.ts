/**
 * Classification metrics by their scikit-learn names, as Sedna's lifelong-learning eval worker
 * takes them from the job resource (`metrics: precision_score`, `metric_param: {"average":
 * "micro"}`): accuracy_score, precision_score, recall_score, f1_score, with `average` micro (the
 * default here, as Sedna's), macro or weighted. A prediction is a class (number or string) or a row
 * of scores (its argmax is the class).
 */
import { SednaError, invalidArgument } from '../common/errors.js';
import type { MetricFunction } from './estimator.js';
import { argmax } from './metrics.js';

export type Average = 'micro' | 'macro' | 'weighted';
export type ClassLabel = number | string;

/** The class of one prediction. */
export function predictedClass(p: unknown): ClassLabel {
  if (typeof p === 'number' || typeof p === 'string') return p;
  if (Array.isArray(p) || (ArrayBuffer.isView(p) && !(p instanceof DataView))) return argmax(p as ArrayLike<number>);
  throw new SednaError('SEDNA_ERR_METRIC', `a prediction is neither a class nor a row of scores: ${typeof p}`);
}

interface Counts {
  /** Every class seen in labels or predictions, as map keys. */
  readonly keys: string[];
  readonly tp: Map<string, number>;
  readonly fp: Map<string, number>;
  readonly fn: Map<string, number>;
  readonly support: Map<string, number>;
  readonly n: number;
}

function count(yTrue: readonly unknown[], yPred: readonly unknown[]): Counts {
  if (yTrue.length !== yPred.length) {
    throw new SednaError('SEDNA_ERR_METRIC', `${yTrue.length} labels but ${yPred.length} predictions`);
  }
  const key = (c: ClassLabel): string => (typeof c === 'number' ? `n${c}` : `s${c}`);
  const tp = new Map<string, number>();
  const fp = new Map<string, number>();
  const fn = new Map<string, number>();
  const support = new Map<string, number>();
  const keys = new Set<string>();
  const inc = (m: Map<string, number>, k: string): void => {
    m.set(k, (m.get(k) ?? 0) + 1);
  };
  for (let i = 0; i < yTrue.length; i++) {
    const t = predictedClass(yTrue[i]);
    const p = predictedClass(yPred[i]);
    const kt = key(t);
    const kp = key(p);
    keys.add(kt);
    keys.add(kp);
    inc(support, kt);
    if (kt === kp) inc(tp, kt);
    else {
      inc(fp, kp);
      inc(fn, kt);
    }
  }
  return { keys: [...keys], tp, fp, fn, support, n: yTrue.length };
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

function averaged(c: Counts, average: Average, perClass: (tp: number, fp: number, fn: number) => number): number {
  if (c.n === 0) return 0;
  const keys = c.keys;
  if (average === 'micro') {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const k of keys) {
      tp += c.tp.get(k) ?? 0;
      fp += c.fp.get(k) ?? 0;
      fn += c.fn.get(k) ?? 0;
    }
    return perClass(tp, fp, fn);
  }
  // macro/weighted over the classes that occur in the labels or predictions (sklearn's default).
  let sum = 0;
  let weights = 0;
  for (const k of keys) {
    const w = average === 'weighted' ? (c.support.get(k) ?? 0) : 1;
    sum += w * perClass(c.tp.get(k) ?? 0, c.fp.get(k) ?? 0, c.fn.get(k) ?? 0);
    weights += w;
  }
  return ratio(sum, weights);
}

const precision = (tp: number, fp: number): number => ratio(tp, tp + fp);
const recall = (tp: number, _fp: number, fn: number): number => ratio(tp, tp + fn);
const f1 = (tp: number, fp: number, fn: number): number => ratio(2 * tp, 2 * tp + fp + fn);

export const CLASSIFICATION_METRICS = [
  'accuracy',
  'accuracy_score',
  'precision_score',
  'recall_score',
  'f1_score',
] as const;

/** The metric function for a scikit-learn metric name and its parameters (`average`). */
export function classificationMetric(name: string, param: Readonly<Record<string, unknown>> = {}): MetricFunction {
  const average = (param.average ?? 'micro') as Average;
  if (!['micro', 'macro', 'weighted'].includes(average)) {
    throw invalidArgument(`${name}.average`, param.average, 'micro, macro or weighted');
  }
  switch (name) {
    case 'accuracy':
    case 'accuracy_score':
      return (t, p) => {
        const c = count(t, p);
        let hits = 0;
        for (const v of c.tp.values()) hits += v;
        return ratio(hits, c.n);
      };
    case 'precision_score':
      return (t, p) => averaged(count(t, p), average, precision);
    case 'recall_score':
      return (t, p) => averaged(count(t, p), average, recall);
    case 'f1_score':
      return (t, p) => averaged(count(t, p), average, f1);
    default:
      throw invalidArgument('metrics', name, `one of ${CLASSIFICATION_METRICS.join(', ')}, or a metric function`);
  }
}
