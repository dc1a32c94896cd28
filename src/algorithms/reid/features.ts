/**
 * Feature matrices for ReID matching: Sedna's `tensor_reshape` (stack vectors into one matrix),
 * L2 normalisation, and the mean row of `avg_mode`.
 */
import { SednaError, invalidArgument } from '../../common/errors.js';

/** A row-major matrix of `rows` feature vectors of `dim` floats. */
export interface FeatureMatrix {
  readonly rows: number;
  readonly dim: number;
  readonly data: Float32Array;
}

/**
 * Sedna's `tensor_reshape`: stacks feature vectors (each `1×d` or `d`) into one `N×d` matrix.
 * All vectors must have the same length (`SEDNA_ERR_SHAPE_MISMATCH` otherwise).
 */
export function stackFeatures(features: readonly Float32Array[] | FeatureMatrix, what = 'features'): FeatureMatrix {
  if (!Array.isArray(features)) return features as FeatureMatrix;
  const list = features as readonly Float32Array[];
  if (list.length === 0) throw invalidArgument(what, list, 'at least one feature vector');
  const dim = (list[0] as Float32Array).length;
  if (dim === 0) throw invalidArgument(what, list, 'non-empty feature vectors');
  const data = new Float32Array(list.length * dim);
  list.forEach((row, i) => {
    if (row.length !== dim)
      throw new SednaError(
        'SEDNA_ERR_SHAPE_MISMATCH',
        `${what}[${i}] has ${row.length} values, but ${what}[0] has ${dim}: all feature vectors must have one length`,
        { details: { index: i, expected: dim, actual: row.length } },
      );
    data.set(row, i * dim);
  });
  return { rows: list.length, dim, data };
}

/** Throws `SEDNA_ERR_SHAPE_MISMATCH` unless both matrices hold vectors of one length. */
export function checkSameDim(query: { readonly dim: number }, candidates: { readonly dim: number }): void {
  if (query.dim !== candidates.dim)
    throw new SednaError(
      'SEDNA_ERR_SHAPE_MISMATCH',
      `query features have ${query.dim} values but candidate features have ${candidates.dim}`,
      { details: { query: query.dim, candidates: candidates.dim } },
    );
}

/** Returns an L2-normalised copy of a vector (a zero vector stays zero). */
export function normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const v of vector) sum += v * v;
  const out = new Float32Array(vector.length);
  if (sum === 0) return out;
  const inv = 1 / Math.sqrt(sum);
  for (let i = 0; i < vector.length; i++) out[i] = (vector[i] as number) * inv;
  return out;
}

/** The mean of the rows, as a one-row matrix (Sedna's `avg_mode`). */
export function meanRow(m: FeatureMatrix): FeatureMatrix {
  const sum = new Float64Array(m.dim);
  for (let i = 0; i < m.rows; i++) {
    const o = i * m.dim;
    for (let k = 0; k < m.dim; k++) sum[k] = (sum[k] as number) + (m.data[o + k] as number);
  }
  const out = new Float32Array(m.dim);
  for (let k = 0; k < m.dim; k++) out[k] = (sum[k] as number) / m.rows;
  return { rows: 1, dim: m.dim, data: out };
}
