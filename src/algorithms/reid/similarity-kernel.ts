/**
 * The JavaScript similarity kernel behind ReID matching: `S = A · Bᵀ` over feature rows, with only
 * the best `k` columns of each row kept (or, when asked, the whole matrix).
 *
 * Why it is shaped like this: V8 does not vectorise, so speed comes from register reuse and cache
 * reuse. Each matrix is packed once into panels of 4 rows interleaved by component, so a 4×4 tile
 * of `S` reads 8 consecutive values per step and keeps 16 sums in registers (8 loads per 16
 * multiply-adds instead of 2 per 1). Panels are float64: twice the memory of the features, but
 * no float32→float64 conversion per load (~20 % faster in V8). Candidate panels are swept in
 * blocks of ~256 KB (L2) while a query panel (4·d values) stays in L1. Packing is the "prepare
 * once" step: a target set packed once is matched against any number of frames.
 */
import { invalidArgument } from '../../common/errors.js';
import { checkSameDim, type FeatureMatrix } from './features.js';

/** Rows per packed panel (the tile height and width). */
export const PANEL_ROWS = 4;

/** A feature matrix packed for the kernel (see {@link packFeatures}). */
export interface PackedFeatures {
  readonly rows: number;
  readonly dim: number;
  /**
   * Panels of 4 rows, component-interleaved: row `i`, component `k` is at
   * `⌊i/4⌋·4·dim + k·4 + i mod 4`; the last panel's missing rows are zeros.
   */
  readonly panels: Float64Array;
}

/** The best `k` columns of each row of a similarity matrix, best first. */
export interface TopK {
  /** Query rows. */
  readonly rows: number;
  readonly k: number;
  /** `indices[i·k + r]`: the `r`-th best candidate of query `i`; -1 where there are fewer than `k` candidates. */
  readonly indices: Int32Array;
  /** The matching similarities (`-Infinity` where the index is -1). */
  readonly scores: Float32Array;
}

/** Packs a feature matrix for the kernel, after {@link assertFiniteFeatures}. */
export function packFeatures(m: FeatureMatrix, what = 'features'): PackedFeatures {
  assertFiniteFeatures(m, what);
  const { rows, dim, data } = m;
  const panels = new Float64Array(Math.ceil(rows / PANEL_ROWS) * PANEL_ROWS * dim);
  for (let i = 0; i < rows; i++) {
    const src = i * dim;
    let dst = (i - (i % PANEL_ROWS)) * dim + (i % PANEL_ROWS);
    for (let k = 0; k < dim; k++, dst += PANEL_ROWS) panels[dst] = data[src + k] as number;
  }
  return { rows, dim, panels };
}

/**
 * Refuses a matrix that is empty, shorter than `rows × dim`, or holds NaN or Infinity
 * (`SEDNA_ERR_INVALID_ARGUMENT`): a NaN similarity never wins nor loses, and hides a broken
 * feature extractor.
 */
export function assertFiniteFeatures(m: FeatureMatrix, what = 'features'): void {
  const { rows, dim, data } = m;
  if (!(Number.isInteger(rows) && Number.isInteger(dim) && rows > 0 && dim > 0 && data.length >= rows * dim))
    throw invalidArgument(what, { rows, dim, length: data.length }, 'a non-empty rows×dim feature matrix');
  const n = rows * dim;
  for (let i = 0; i < n; i++) {
    // x - x is 0 for finite x and NaN for NaN and ±Infinity: one comparison per value.
    const v = data[i] as number;
    if (v - v !== 0)
      throw invalidArgument(
        `${what}[${Math.floor(i / dim)}][${i % dim}]`,
        v,
        'a finite number (the feature extractor produced NaN or Infinity)',
      );
  }
}

/** One 4×4 tile of `A · Bᵀ`: panel at `ao` of `a` against panel at `bo` of `b`, into `t` (row-major). */
// prettier-ignore
function tile(a: Float64Array, ao: number, b: Float64Array, bo: number, dim: number, t: Float64Array): void {
  let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
  let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
  const end = ao + PANEL_ROWS * dim;
  for (; ao < end; ao += PANEL_ROWS, bo += PANEL_ROWS) {
    const a0 = a[ao] as number, a1 = a[ao + 1] as number, a2 = a[ao + 2] as number, a3 = a[ao + 3] as number;
    const b0 = b[bo] as number, b1 = b[bo + 1] as number, b2 = b[bo + 2] as number, b3 = b[bo + 3] as number;
    s00 += a0 * b0; s01 += a0 * b1; s02 += a0 * b2; s03 += a0 * b3;
    s10 += a1 * b0; s11 += a1 * b1; s12 += a1 * b2; s13 += a1 * b3;
    s20 += a2 * b0; s21 += a2 * b1; s22 += a2 * b2; s23 += a2 * b3;
    s30 += a3 * b0; s31 += a3 * b1; s32 += a3 * b2; s33 += a3 * b3;
  }
  t[0] = s00; t[1] = s01; t[2] = s02; t[3] = s03; t[4] = s10; t[5] = s11; t[6] = s12; t[7] = s13;
  t[8] = s20; t[9] = s21; t[10] = s22; t[11] = s23; t[12] = s30; t[13] = s31; t[14] = s32; t[15] = s33;
}

/** Candidate panels per cache block: ~256 KB of `b`, so a block stays in L2 across all query panels. */
function blockPanels(dim: number): number {
  return Math.max(1, Math.floor((256 * 1024) / (PANEL_ROWS * dim * 8)));
}

/**
 * Calls `visit(i0, j0, t)` for every 4×4 tile of `A · Bᵀ` (`t` row-major; rows past `a.rows` or
 * columns past `b.rows` are padding). Columns of one row arrive in increasing order.
 */
function sweep(a: PackedFeatures, b: PackedFeatures, visit: (i0: number, j0: number, t: Float64Array) => void): void {
  checkSameDim(a, b);
  const { dim } = a;
  const t = new Float64Array(PANEL_ROWS * PANEL_ROWS);
  const aPanels = Math.ceil(a.rows / PANEL_ROWS);
  const bPanels = Math.ceil(b.rows / PANEL_ROWS);
  const stride = PANEL_ROWS * dim;
  const block = blockPanels(dim);
  for (let jb = 0; jb < bPanels; jb += block) {
    const je = Math.min(bPanels, jb + block);
    for (let ip = 0; ip < aPanels; ip++) {
      for (let jp = jb; jp < je; jp++) {
        tile(a.panels, ip * stride, b.panels, jp * stride, dim, t);
        visit(ip * PANEL_ROWS, jp * PANEL_ROWS, t);
      }
    }
  }
}

/** The full similarity matrix `A · Bᵀ` (`a.rows × b.rows`, row-major): 4·M·N bytes, only when asked. */
export function similarityMatrix(a: PackedFeatures, b: PackedFeatures): FeatureMatrix {
  const out = new Float32Array(a.rows * b.rows);
  const n = b.rows;
  sweep(a, b, (i0, j0, t) => {
    const rows = Math.min(PANEL_ROWS, a.rows - i0);
    const cols = Math.min(PANEL_ROWS, n - j0);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) out[(i0 + r) * n + j0 + c] = t[r * PANEL_ROWS + c] as number;
  });
  return { rows: a.rows, dim: n, data: out };
}

/**
 * The best `k` candidates (rows of `b`) for each query (row of `a`), best first; ties keep the
 * lower candidate index first (as numpy's argmax and ONNX TopK). Memory: `M·k`, not `M·N`.
 */
export function similarityTopK(a: PackedFeatures, b: PackedFeatures, k: number): TopK {
  if (!(Number.isInteger(k) && k >= 1)) throw invalidArgument('k', k, 'an integer ≥ 1');
  const best = new Float64Array(a.rows * k).fill(-Infinity);
  const indices = new Int32Array(a.rows * k).fill(-1);
  sweep(a, b, (i0, j0, t) => {
    const rows = Math.min(PANEL_ROWS, a.rows - i0);
    const cols = Math.min(PANEL_ROWS, b.rows - j0);
    for (let r = 0; r < rows; r++) {
      const base = (i0 + r) * k;
      const last = base + k - 1;
      for (let c = 0; c < cols; c++) {
        const v = t[r * PANEL_ROWS + c] as number;
        if (!(v > (best[last] as number))) continue;
        // Insert into the sorted row: after equal scores, so a lower index stays first.
        let p = last;
        while (p > base && v > (best[p - 1] as number)) {
          best[p] = best[p - 1] as number;
          indices[p] = indices[p - 1] as number;
          p--;
        }
        best[p] = v;
        indices[p] = j0 + c;
      }
    }
  });
  return { rows: a.rows, k, indices, scores: Float32Array.from(best) };
}

/** Sedna's `match_query_to_targets` answer. */
export interface QueryMatch {
  /** Index of the candidate that best matches the query (-1 when there is none). */
  readonly index: number;
  /** Its similarity (the largest value of the similarity matrix). */
  readonly score: number;
}

/**
 * Sedna's overall best: the candidate with the highest similarity to any query, ties to the
 * lowest query row (then, from {@link TopK}'s order, the lowest candidate).
 */
export function bestOfTopK(top: TopK): QueryMatch {
  let index = -1;
  let score = -Infinity;
  for (let i = 0; i < top.rows; i++) {
    const s = top.scores[i * top.k] as number;
    if (s > score) {
      score = s;
      index = top.indices[i * top.k] as number;
    }
  }
  return { index, score };
}
