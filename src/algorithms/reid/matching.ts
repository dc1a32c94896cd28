/**
 * ReID matching (Sedna's `reid.multi_img_matching`, spec §3.10): similarity of query features
 * (the searched person's images) against candidate features (the people in a frame) as a matrix
 * product on typed arrays. Features are expected L2-normalised, as ReID extractors output them,
 * so the dot product is the cosine similarity; `normalize()` makes them so.
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

/**
 * Sedna's `cosine_similarity_score`: `query · candidatesᵀ`, an `M×N` matrix (row-major) of
 * similarities. Loops are ordered for cache locality (4 candidates per pass over a query row).
 */
export function cosineSimilarityScore(
  query: readonly Float32Array[] | FeatureMatrix,
  candidates: readonly Float32Array[] | FeatureMatrix,
): FeatureMatrix {
  const q = stackFeatures(query, 'query');
  const c = stackFeatures(candidates, 'candidates');
  if (q.dim !== c.dim)
    throw new SednaError(
      'SEDNA_ERR_SHAPE_MISMATCH',
      `query features have ${q.dim} values but candidate features have ${c.dim}`,
      { details: { query: q.dim, candidates: c.dim } },
    );
  const { dim } = q;
  const out = new Float32Array(q.rows * c.rows);
  const qd = q.data;
  const cd = c.data;
  for (let i = 0; i < q.rows; i++) {
    const qo = i * dim;
    const oo = i * c.rows;
    let j = 0;
    for (; j + 4 <= c.rows; j += 4) {
      const c0 = j * dim;
      const c1 = c0 + dim;
      const c2 = c1 + dim;
      const c3 = c2 + dim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < dim; k++) {
        const v = qd[qo + k] as number;
        s0 += v * (cd[c0 + k] as number);
        s1 += v * (cd[c1 + k] as number);
        s2 += v * (cd[c2 + k] as number);
        s3 += v * (cd[c3 + k] as number);
      }
      out[oo + j] = s0;
      out[oo + j + 1] = s1;
      out[oo + j + 2] = s2;
      out[oo + j + 3] = s3;
    }
    for (; j < c.rows; j++) {
      const co = j * dim;
      let s = 0;
      for (let k = 0; k < dim; k++) s += (qd[qo + k] as number) * (cd[co + k] as number);
      out[oo + j] = s;
    }
  }
  return { rows: q.rows, dim: c.rows, data: out };
}

export interface QueryMatch {
  /** Index of the candidate that best matches the query. */
  readonly index: number;
  /** Its similarity (the largest value of the similarity matrix). */
  readonly score: number;
}

/**
 * Sedna's `match_query_to_targets`: the candidate with the highest similarity to any query
 * feature (or to their mean with `avgMode`), and that similarity. Ties go to the lowest query row,
 * then the lowest candidate index, as Sedna's `nonzero()[0]`.
 */
export function matchQueryToTargets(
  queryFeats: readonly Float32Array[] | FeatureMatrix,
  candidateFeats: readonly Float32Array[] | FeatureMatrix,
  avgMode = false,
): QueryMatch {
  let query = stackFeatures(queryFeats, 'query');
  if (avgMode) query = meanRow(query);
  const sim = cosineSimilarityScore(query, candidateFeats);
  let best = 0;
  let bestScore = -Infinity;
  const { data } = sim;
  for (let k = 0; k < data.length; k++) {
    const v = data[k] as number;
    if (v > bestScore) {
      bestScore = v;
      best = k;
    }
  }
  return { index: best % sim.dim, score: bestScore };
}

function meanRow(m: FeatureMatrix): FeatureMatrix {
  const out = new Float32Array(m.dim);
  for (let i = 0; i < m.rows; i++)
    for (let k = 0; k < m.dim; k++) out[k] = (out[k] as number) + (m.data[i * m.dim + k] as number);
  for (let k = 0; k < m.dim; k++) out[k] = (out[k] as number) / m.rows;
  return { rows: 1, dim: m.dim, data: out };
}
