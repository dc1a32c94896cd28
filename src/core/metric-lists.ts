/**
 * Metrics as the LocalController reads them in a report's `results`: every value a list of numbers
 * (`{accuracy: [0.9], num_samples: [10]}`), one helper for every job kind.
 *
 * For eval reports (spec §5.2) the LC unmarshals each result's `metrics` into Go's
 * `map[string][]float64` and computes `<metric>_delta` element-wise as results[0] − results[1]
 * (new model − deployed model) for the deploy trigger. Scalars break that unmarshal; a metric
 * missing from the deployed model's result, or a shorter list, makes the LC index past the end of
 * a slice. So eval metrics are checked (`strict`, the default): finite numbers only, and both
 * models must report the same metric names with the same lengths (`checkComparable`). Train
 * reports carry what training gave (`strict: false`), as Sedna's workers send it.
 */
import type { Metrics } from '../backend/estimator.js';
import { SednaError, showValue } from '../common/errors.js';

/** Metrics with every value a list of numbers: what eval reports carry. */
export type MetricLists = Readonly<Record<string, readonly number[]>>;

function metricError(message: string, details: Readonly<Record<string, unknown>>): SednaError {
  return new SednaError('SEDNA_ERR_METRIC', message, { details });
}

export interface MetricListOptions {
  /** The model the metrics are about, named in errors. */
  readonly model?: string;
  /**
   * Throw SEDNA_ERR_METRIC for anything but finite numbers or non-empty lists of them, and for no
   * metrics at all (default true: what eval reports need). `false` converts without checking.
   */
  readonly strict?: boolean;
  /** Single values added as one-element lists after the metrics (e.g. `{ num_samples: 10 }`). */
  readonly extra?: Readonly<Record<string, number>>;
}

/**
 * Turns `{ accuracy: 0.9 }` into `{ accuracy: [0.9] }`. Strict by default (see
 * {@link MetricListOptions.strict}); a string argument is the model's name.
 */
export function toMetricLists(metrics: unknown, options: string | MetricListOptions = {}): MetricLists {
  const { model = 'the model', strict = true, extra } = typeof options === 'string' ? { model: options } : options;
  const out = strict ? checkedLists(metrics, model) : uncheckedLists(metrics as Metrics);
  if (extra !== undefined) for (const [name, value] of Object.entries(extra)) out[name] = Object.freeze([value]);
  return Object.freeze(out);
}

function uncheckedLists(metrics: Metrics): Record<string, readonly number[]> {
  const out: Record<string, readonly number[]> = {};
  for (const [name, value] of Object.entries(metrics)) out[name] = typeof value === 'number' ? [value] : [...value];
  return out;
}

function checkedLists(metrics: unknown, model: string): Record<string, readonly number[]> {
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) {
    throw metricError(`evaluating ${model} returned ${showValue(metrics)}; expected an object of named metrics`, {
      model,
    });
  }
  const out: Record<string, readonly number[]> = {};
  for (const [name, value] of Object.entries(metrics as Record<string, unknown>)) {
    const list = typeof value === 'number' ? [value] : value;
    if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw metricError(
        `metric "${name}" of ${model} is ${showValue(value)}; the LC needs a finite number or a non-empty list of them`,
        { metric: name, model, value: showValue(value) },
      );
    }
    out[name] = Object.freeze([...(list as number[])]);
  }
  if (Object.keys(out).length === 0) throw metricError(`evaluating ${model} returned no metrics`, { model });
  return out;
}

/** Checks that the deployed model's metrics line up with the new model's, as the LC indexes them. */
export function checkComparable(newer: MetricLists, deployed: MetricLists): void {
  for (const [name, values] of Object.entries(newer)) {
    const other = deployed[name];
    if (other === undefined || other.length < values.length) {
      throw metricError(
        `metric "${name}" has ${values.length} value(s) for the new model but ${other?.length ?? 0} for the deployed one; the LC computes ${name}_delta element by element`,
        { metric: name },
      );
    }
  }
}

/**
 * What the LC computes for the deploy trigger: every metric as reported for the new model, plus
 * `<metric>_delta` = new − deployed, element by element (Sedna's `triggerDeployTask`).
 */
export function metricDeltas(newer: MetricLists, deployed: MetricLists): Record<string, readonly number[]> {
  const out: Record<string, readonly number[]> = {};
  for (const [name, values] of Object.entries(newer)) {
    out[name] = values;
    out[`${name}_delta`] = values.map((v, i) => v - (deployed[name]?.[i] ?? Number.NaN));
  }
  return out;
}
