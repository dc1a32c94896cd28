/**
 * Similarity search on onnxruntime-node: `scores = query · candidatesᵀ` by MLAS's GEMM (AVX2 /
 * AVX-512 kernels, every core), then ONNX `TopK` in the same graph, so only `rows × k` results
 * cross into JavaScript. The two-node graph is written in memory with our own ONNX writer
 * (onnx-proto.ts); the candidate matrix is its initializer, so onnxruntime prepares (and prepacks)
 * it once per candidate set, not per query batch.
 *
 * onnxruntime-node is an optional peer: {@link OnnxSimilarity.create} rejects with
 * `SEDNA_ERR_MISSING_DEPENDENCY` when it cannot load, and callers fall back to the JS kernel.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { closedError } from '../common/errors.js';
import { encodeModel } from './onnx-proto.js';

/** Scores computed per run, at most: queries go in chunks so the score block stays cache-sized. */
const SCORE_FLOATS_PER_RUN = 1 << 20;

export interface OnnxSimilarityOptions {
  /** onnxruntime's intra-op threads (default: onnxruntime's choice, one per core). */
  readonly threads?: number;
  /** Query rows per run (default: as many as keep the score block at 4 MB). */
  readonly rowsPerRun?: number;
}

/** The best `k` candidates per query row, best first (ties: lower index first, as ONNX TopK). */
export interface OnnxTopK {
  readonly indices: Int32Array;
  readonly scores: Float32Array;
}

type Ort = typeof import('onnxruntime-node');

/** The graph: MatMul(query [M, d], candidatesT [d, N]) → scores → TopK(k) on the last axis. */
function similarityGraph(candidatesT: Float32Array, dim: number, size: number): Uint8Array {
  return encodeModel(
    {
      name: 'sedna_similarity_topk',
      nodes: [
        { opType: 'MatMul', inputs: ['query', 'candidates_t'], outputs: ['scores'] },
        {
          opType: 'TopK',
          inputs: ['scores', 'k'],
          outputs: ['top_scores', 'top_indices'],
          attributes: { axis: -1, largest: 1, sorted: 1 },
        },
      ],
      inputs: [
        { name: 'query', dtype: 'float32', shape: ['M', dim] },
        { name: 'k', dtype: 'int64', shape: [1] },
      ],
      outputs: [
        { name: 'scores', dtype: 'float32', shape: ['M', size] },
        { name: 'top_scores', dtype: 'float32', shape: ['M', 'K'] },
        { name: 'top_indices', dtype: 'int64', shape: ['M', 'K'] },
      ],
      initializers: [{ name: 'candidates_t', dtype: 'float32', shape: [dim, size], data: candidatesT }],
    },
    { docString: 'sedna-sdk ReID similarity: query · candidatesᵀ, top-k per query' },
  );
}

function output(results: InferenceSession.ReturnType, name: string): Tensor {
  const tensor = results[name];
  if (tensor === undefined) throw new Error(`onnxruntime returned no ${name}`); // our own graph: a bug
  return tensor;
}

export class OnnxSimilarity {
  private closed = false;

  private constructor(
    private readonly ort: Ort,
    private readonly session: InferenceSession,
    /** Candidates (rows of the prepared matrix). */
    readonly size: number,
    readonly dim: number,
    private readonly rowsPerRun: number,
  ) {}

  /** Builds the session for `size` candidates of `dim` floats (`data` row-major, `size × dim`). */
  static async create(
    data: Float32Array,
    size: number,
    dim: number,
    options: OnnxSimilarityOptions = {},
  ): Promise<OnnxSimilarity> {
    const { loadOnnxRuntime } = await import('./onnx.js');
    const ort = await loadOnnxRuntime();
    const transposed = new Float32Array(dim * size);
    for (let j = 0; j < size; j++) {
      const row = j * dim;
      for (let k = 0; k < dim; k++) transposed[k * size + j] = data[row + k] as number;
    }
    const session = await ort.InferenceSession.create(similarityGraph(transposed, dim, size), {
      logSeverityLevel: 3,
      graphOptimizationLevel: 'all',
      interOpNumThreads: 1,
      ...(options.threads === undefined ? {} : { intraOpNumThreads: options.threads }),
    });
    const rowsPerRun = options.rowsPerRun ?? Math.max(1, Math.floor(SCORE_FLOATS_PER_RUN / size));
    return new OnnxSimilarity(ort, session, size, dim, rowsPerRun);
  }

  private query(data: Float32Array, from: number, rows: number): Tensor {
    return new this.ort.Tensor('float32', data.subarray(from * this.dim, (from + rows) * this.dim), [rows, this.dim]);
  }

  private kTensor(k: number): Tensor {
    return new this.ort.Tensor('int64', BigInt64Array.of(BigInt(k)), [1]);
  }

  /** The best `k` (≤ size) candidates for each of `rows` queries (`data` row-major, `rows × dim`). */
  async topK(data: Float32Array, rows: number, k: number): Promise<OnnxTopK> {
    if (this.closed) throw closedError('the onnxruntime similarity session');
    const indices = new Int32Array(rows * k);
    const scores = new Float32Array(rows * k);
    const kTensor = this.kTensor(k);
    for (let from = 0; from < rows; from += this.rowsPerRun) {
      const n = Math.min(this.rowsPerRun, rows - from);
      const out = await this.session.run({ query: this.query(data, from, n), k: kTensor }, [
        'top_scores',
        'top_indices',
      ]);
      scores.set(output(out, 'top_scores').data as Float32Array, from * k);
      const idx = output(out, 'top_indices').data as BigInt64Array;
      for (let i = 0; i < idx.length; i++) indices[from * k + i] = Number(idx[i]);
    }
    return { indices, scores };
  }

  /** The full `rows × size` score matrix (row-major). */
  async scores(data: Float32Array, rows: number): Promise<Float32Array> {
    if (this.closed) throw closedError('the onnxruntime similarity session');
    const out = new Float32Array(rows * this.size);
    for (let from = 0; from < rows; from += this.rowsPerRun) {
      const n = Math.min(this.rowsPerRun, rows - from);
      // onnxruntime wants every graph input fed, even one the fetched output does not need.
      const result = await this.session.run({ query: this.query(data, from, n), k: this.kTensor(1) }, ['scores']);
      out.set(output(result, 'scores').data as Float32Array, from * this.size);
    }
    return out;
  }

  async release(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.release();
  }
}
