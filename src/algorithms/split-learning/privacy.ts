/**
 * MistNet's privacy step for the features an edge releases (Wang et al., "MistNet: Towards Private
 * Neural Network Training with Local Differential Privacy", 2021): each value is clipped to a
 * fixed range, perturbed with Laplace noise for ε-local differential privacy, and quantized.
 *
 * The guarantee, precisely: with values clipped to [min, max], Laplace noise of scale
 * b = (max − min) / ε makes each released value ε-differentially private with respect to the
 * value before noise (any two values in range give output densities within a factor e^ε). A
 * feature vector of d values is (d · ε)-DP by composition, and every new release of the same
 * sample (another round) spends the budget again. Quantizing after the noise is post-processing:
 * it keeps the guarantee, and it also removes the low-order bits of floating-point noise, through
 * which naive floating-point Laplace sampling can leak (Mironov, CCS 2012).
 */
import { SednaError } from '../../common/errors.js';
import type { RandomSource } from '../random.js';

/** The fixed range features are clipped to (from public knowledge of the model, never from the data). */
export interface FeatureRange {
  readonly min: number;
  readonly max: number;
}

/** The largest supported quantization width: codes are bytes. */
export const MAX_QUANTIZATION_BITS = 8;

/** The Laplace scale b = (max − min) / ε for ε-DP per value; 0 (no noise) for ε = ∞. */
export function laplaceScale(epsilon: number, range: FeatureRange): number {
  if (!(epsilon > 0)) {
    throw new SednaError('SEDNA_ERR_INVALID_ARGUMENT', `epsilon must be > 0 (∞ for no noise), got ${epsilon}`);
  }
  return epsilon === Infinity ? 0 : (range.max - range.min) / epsilon;
}

/** One draw from Laplace(0, scale), by inverting its CDF. */
export function sampleLaplace(scale: number, random: RandomSource): number {
  let u = random();
  while (u === 0) u = random(); // (0, 1): both tails stay finite
  const p = u - 0.5;
  return p < 0 ? scale * Math.log(1 + 2 * p) : -scale * Math.log(1 - 2 * p);
}

/** Clips every value to the range, in place. */
export function clipValues(values: Float32Array, range: FeatureRange): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    values[i] = v < range.min ? range.min : v > range.max ? range.max : v;
  }
}

/** Adds independent Laplace(0, scale) noise to every value, in place (nothing when scale is 0). */
export function addLaplaceNoise(values: Float32Array, scale: number, random: RandomSource): void {
  if (scale === 0) return;
  for (let i = 0; i < values.length; i++) values[i] = (values[i] as number) + sampleLaplace(scale, random);
}

/** The distance between two neighbouring quantization levels. */
export function quantizationStep(range: FeatureRange, bits: number): number {
  return (range.max - range.min) / (2 ** bits - 1);
}

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > MAX_QUANTIZATION_BITS) {
    throw new SednaError(
      'SEDNA_ERR_INVALID_ARGUMENT',
      `quantization bits must be an integer from 1 to ${MAX_QUANTIZATION_BITS}, got ${bits}`,
    );
  }
}

/**
 * Codes of `bits` bits for values in the range: values outside are clamped first, each value maps
 * to the nearest of 2^bits evenly spaced levels from min to max. NaN is SEDNA_ERR_INVALID_ARGUMENT.
 */
export function quantize(values: Float32Array, range: FeatureRange, bits: number): Uint8Array {
  checkBits(bits);
  const levels = 2 ** bits - 1;
  const scale = levels / (range.max - range.min);
  const codes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    // NaN has no level (a byte would silently make it `min`).
    if (v !== v)
      throw new SednaError('SEDNA_ERR_INVALID_ARGUMENT', `cannot quantize NaN (value #${i})`, {
        details: { index: i },
      });
    const clamped = v < range.min ? range.min : v > range.max ? range.max : v;
    codes[i] = Math.round((clamped - range.min) * scale);
  }
  return codes;
}

/**
 * The levels the codes stand for (within half a step of each original in-range value), as float32
 * features: levels closer together than float32 resolves at the range's magnitude (a range narrow
 * for its size, e.g. [63.999, 64] in 8 bits) fall onto the same values.
 */
export function dequantize(codes: Uint8Array, range: FeatureRange, bits: number): Float32Array {
  checkBits(bits);
  const step = quantizationStep(range, bits);
  const values = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) values[i] = range.min + (codes[i] as number) * step;
  return values;
}
