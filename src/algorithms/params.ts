/**
 * Casting and checking algorithm parameters. CRD parameters arrive as strings (`"0.9"`); code may
 * pass numbers. Each algorithm casts its parameters once, at construction, and a value it cannot
 * use is a SEDNA_ERR_INVALID_ALGORITHM_PARAM naming the algorithm, the parameter and the value.
 */
import type { AlgorithmParamValue } from '../common/config.js';
import { invalidAlgorithmParam } from '../common/errors.js';

export type ParamInput = AlgorithmParamValue | null | undefined;

const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A finite number from a number or a numeric string; `fallback` when absent or empty. */
export function numberParam(algorithm: string, name: string, value: ParamInput, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const parsed =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && NUMBER_TEXT.test(value.trim())
        ? Number(value)
        : NaN;
  if (!Number.isFinite(parsed)) throw invalidAlgorithmParam(algorithm, name, value, 'a number');
  return parsed;
}

/** A number in [min, max]. */
export function rangeParam(
  algorithm: string,
  name: string,
  value: ParamInput,
  fallback: number,
  min: number,
  max: number,
): number {
  const parsed = numberParam(algorithm, name, value, fallback);
  if (parsed < min || parsed > max)
    throw invalidAlgorithmParam(algorithm, name, value, `a number from ${min} to ${max}`);
  return parsed;
}

/** An integer in [min, max]. */
export function intParam(
  algorithm: string,
  name: string,
  value: ParamInput,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const parsed = numberParam(algorithm, name, value, fallback);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw invalidAlgorithmParam(algorithm, name, value, `an integer from ${min} to ${max}`);
  }
  return parsed;
}

/** The keys of `params` an algorithm does not know (Sedna ignores them; we tell the caller). */
export function unknownParams(params: Readonly<Record<string, unknown>>, known: readonly string[]): string[] {
  return Object.keys(params).filter((k) => !known.includes(k));
}

/** Bounds of {@link boundedParam}; an exclusive bound is left out of the range. */
export interface ParamBounds {
  readonly min?: number;
  readonly max?: number;
  readonly minExclusive?: boolean;
  readonly maxExclusive?: boolean;
}

/** A number within `bounds` (e.g. a rate in (0, 1)), with the range spelled out in the error. */
export function boundedParam(
  algorithm: string,
  name: string,
  value: ParamInput,
  fallback: number,
  bounds: ParamBounds,
): number {
  const parsed = numberParam(algorithm, name, value, fallback);
  const { min, max, minExclusive = false, maxExclusive = false } = bounds;
  const low = min === undefined || (minExclusive ? parsed > min : parsed >= min);
  const high = max === undefined || (maxExclusive ? parsed < max : parsed <= max);
  if (!low || !high) {
    const from = min === undefined ? '(-∞' : `${minExclusive ? '(' : '['}${min}`;
    const to = max === undefined ? '∞)' : `${max}${maxExclusive ? ')' : ']'}`;
    throw invalidAlgorithmParam(algorithm, name, value, `a number in ${from}, ${to}`);
  }
  return parsed;
}
