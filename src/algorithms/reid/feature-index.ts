/**
 * A candidate set prepared once and searched by many query batches: a ReID gallery, or the
 * features of a searched person matched against every frame. `create()` packs the candidates for
 * the JS kernel and, when onnxruntime-node is installed, builds a MatMul + TopK session holding
 * them (MLAS GEMM on every core). Each search takes the onnxruntime path when the work is large
 * enough to pay for a run, else the JS kernel; both return the same ranking (see the tests).
 */
import { closedError, invalidArgument } from '../../common/errors.js';
import type { OnnxSimilarity } from '../../backend/onnx-similarity.js';
import { checkSameDim, meanRow, stackFeatures, type FeatureMatrix } from './features.js';
import {
  assertFiniteFeatures,
  bestOfTopK,
  packFeatures,
  similarityMatrix,
  similarityTopK,
  type PackedFeatures,
  type QueryMatch,
  type TopK,
} from './similarity-kernel.js';

/** Where a search runs: the JS kernel, or onnxruntime's GEMM. */
export type MatchingBackend = 'js' | 'onnxruntime';

export interface FeatureIndexOptions {
  /**
   * `auto` (default): onnxruntime when it loads and a search is large, the JS kernel otherwise;
   * `onnxruntime` fails with `SEDNA_ERR_MISSING_DEPENDENCY` when it cannot load; `js` never loads it.
   */
  readonly backend?: 'auto' | MatchingBackend;
  /** onnxruntime intra-op threads (default: one per core). */
  readonly threads?: number;
  /** onnxruntime: query rows per run (default: a 4 MB score block). */
  readonly rowsPerRun?: number;
}

/** With `auto`, no onnxruntime session for a candidate set smaller than this (floats). */
const ONNX_MIN_CANDIDATE_FLOATS = 1 << 16;
/** With `auto`, a search below this many multiply-adds runs in JS (about 1 ms of JS work). */
const ONNX_MIN_SEARCH_MACS = 1 << 22;

export class FeatureIndex {
  private closed = false;

  private constructor(
    private readonly packed: PackedFeatures,
    private readonly onnx: OnnxSimilarity | undefined,
    private readonly choice: 'auto' | MatchingBackend,
  ) {}

  /** Prepares `candidates` (vectors, or a row-major matrix) for searching. */
  static async create(
    candidates: readonly Float32Array[] | FeatureMatrix,
    options: FeatureIndexOptions = {},
  ): Promise<FeatureIndex> {
    const choice = options.backend ?? 'auto';
    if (!['auto', 'js', 'onnxruntime'].includes(choice))
      throw invalidArgument('backend', choice, 'auto, js or onnxruntime');
    const matrix = stackFeatures(candidates, 'candidates');
    const packed = packFeatures(matrix, 'candidates');
    let onnx: OnnxSimilarity | undefined;
    const wanted =
      choice === 'onnxruntime' || (choice === 'auto' && matrix.rows * matrix.dim >= ONNX_MIN_CANDIDATE_FLOATS);
    if (wanted) {
      try {
        const { OnnxSimilarity } = await import('../../backend/onnx-similarity.js');
        onnx = await OnnxSimilarity.create(matrix.data, matrix.rows, matrix.dim, options);
      } catch (err) {
        if (choice === 'onnxruntime') throw err;
        // auto: the JS kernel serves every search.
      }
    }
    return new FeatureIndex(packed, onnx, choice);
  }

  /** Candidates in the index. */
  get size(): number {
    return this.packed.rows;
  }

  get dim(): number {
    return this.packed.dim;
  }

  /** The backend a search of `queryRows` rows takes. */
  backendFor(queryRows: number): MatchingBackend {
    if (this.onnx === undefined || this.choice === 'js') return 'js';
    if (this.choice === 'onnxruntime') return 'onnxruntime';
    return queryRows * this.size * this.dim >= ONNX_MIN_SEARCH_MACS ? 'onnxruntime' : 'js';
  }

  private queryMatrix(queries: readonly Float32Array[] | FeatureMatrix): FeatureMatrix {
    if (this.closed) throw closedError('the feature index');
    const q = stackFeatures(queries, 'query');
    checkSameDim(q, this.packed);
    return q;
  }

  /**
   * The best `k` candidates for each query, best first; ties keep the lower candidate index
   * first. Where the index holds fewer than `k` candidates, the rest is index -1, score -Infinity.
   */
  async search(queries: readonly Float32Array[] | FeatureMatrix, k = 1): Promise<TopK> {
    const q = this.queryMatrix(queries);
    if (!(Number.isInteger(k) && k >= 1)) throw invalidArgument('k', k, 'an integer ≥ 1');
    if (this.backendFor(q.rows) === 'js') return similarityTopK(packFeatures(q, 'query'), this.packed, k);
    assertFiniteFeatures(q, 'query');
    const kk = Math.min(k, this.size);
    const found = await (this.onnx as OnnxSimilarity).topK(q.data, q.rows, kk);
    if (kk === k) return { rows: q.rows, k, ...found };
    const indices = new Int32Array(q.rows * k).fill(-1);
    const scores = new Float32Array(q.rows * k).fill(-Infinity);
    for (let i = 0; i < q.rows; i++) {
      indices.set(found.indices.subarray(i * kk, (i + 1) * kk), i * k);
      scores.set(found.scores.subarray(i * kk, (i + 1) * kk), i * k);
    }
    return { rows: q.rows, k, indices, scores };
  }

  /**
   * Sedna's `match_query_to_targets` against the index: the candidate with the highest similarity
   * to any query (or to their mean with `avgMode`); ties to the lowest query, then candidate.
   */
  async match(queries: readonly Float32Array[] | FeatureMatrix, avgMode = false): Promise<QueryMatch> {
    let q = this.queryMatrix(queries);
    if (avgMode) q = meanRow(q);
    return bestOfTopK(await this.search(q, 1));
  }

  /** The full `queries × size` similarity matrix (row-major): 4·M·N bytes, only when asked. */
  async scores(queries: readonly Float32Array[] | FeatureMatrix): Promise<FeatureMatrix> {
    const q = this.queryMatrix(queries);
    if (this.backendFor(q.rows) === 'js') return similarityMatrix(packFeatures(q, 'query'), this.packed);
    assertFiniteFeatures(q, 'query');
    return { rows: q.rows, dim: this.size, data: await (this.onnx as OnnxSimilarity).scores(q.data, q.rows) };
  }

  /** Releases the onnxruntime session (if any). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.onnx?.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
