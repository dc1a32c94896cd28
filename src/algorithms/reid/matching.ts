/**
 * ReID matching (Sedna's `reid.multi_img_matching`, spec §3.10): similarity of query features
 * (the searched person's images) against candidate features (the people in a frame). Features are
 * expected L2-normalised, as ReID extractors output them, so the dot product is the cosine
 * similarity; `normalize()` makes them so.
 *
 * These are Sedna's one-shot functions, on the JS kernel (similarity-kernel.ts). To match many
 * frames against one target set, pack it once (`packFeatures`, as `TargetMatcher` does) or build
 * a `FeatureIndex` (which also uses onnxruntime's GEMM for large sets).
 */
import { invalidArgument } from '../../common/errors.js';
import { checkSameDim, meanRow, stackFeatures, type FeatureMatrix } from './features.js';
import {
  bestOfTopK,
  packFeatures,
  similarityMatrix,
  similarityTopK,
  type PackedFeatures,
  type QueryMatch,
} from './similarity-kernel.js';

export { normalize, stackFeatures, type FeatureMatrix } from './features.js';
export type { QueryMatch } from './similarity-kernel.js';

/** Feature rows: one Float32Array per row, or a stacked matrix. */
export type Features = readonly Float32Array[] | FeatureMatrix;

function packed(features: Features | PackedFeatures, what: string): PackedFeatures {
  if ('panels' in features) return features;
  return packFeatures(stackFeatures(features, what), what);
}

/** Sedna's `cosine_similarity_score`: `query · candidatesᵀ`, an `M×N` matrix (row-major). */
export function cosineSimilarityScore(query: Features, candidates: Features): FeatureMatrix {
  const q = packed(query, 'query');
  const c = packed(candidates, 'candidates');
  checkSameDim(q, c);
  return similarityMatrix(q, c);
}

/**
 * Sedna's `match_query_to_targets`: the candidate with the highest similarity to any query
 * feature (or to their mean with `avgMode`), and that similarity. Ties go to the lowest query row,
 * then the lowest candidate index, as Sedna's `nonzero()[0]`. Either side may be packed already
 * (`packFeatures`); only the best candidate per query is kept, never the whole matrix.
 */
export function matchQueryToTargets(
  queryFeats: Features | PackedFeatures,
  candidateFeats: Features | PackedFeatures,
  avgMode = false,
): QueryMatch {
  let q: PackedFeatures;
  if (avgMode) {
    if ('panels' in queryFeats)
      throw invalidArgument('queryFeats', 'packed features', 'unpacked features with avgMode (pack their meanRow())');
    q = packFeatures(meanRow(stackFeatures(queryFeats, 'query')), 'query');
  } else q = packed(queryFeats, 'query');
  const c = packed(candidateFeats, 'candidates');
  checkSameDim(q, c);
  return bestOfTopK(similarityTopK(q, c, 1));
}
