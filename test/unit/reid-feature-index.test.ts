/**
 * FeatureIndex (src/algorithms/reid/feature-index.ts): a candidate set prepared once, searched on
 * the JS kernel or on onnxruntime's GEMM (onnxruntime-node is installed for the tests). Both
 * backends must rank alike: the same top-1 wherever the best is not a near-tie.
 */
import { FeatureIndex } from '../../src/algorithms/reid/feature-index.js';
import { cosineSimilarityScore, normalize } from '../../src/algorithms/reid/matching.js';
import { rejectionOf } from '../helpers/errors.js';

function randomUnitRows(rows: number, dim: number, seed: number): Float32Array[] {
  let s = seed >>> 0;
  const rand = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  return Array.from({ length: rows }, () => normalize(Float32Array.from({ length: dim }, rand)));
}

/** Each query is a noisy copy of candidate `planted[i]`: the answer is known and has a clear margin. */
function plantedQueries(
  candidates: Float32Array[],
  count: number,
  seed: number,
): { queries: Float32Array[]; planted: number[] } {
  const noise = randomUnitRows(count, candidates[0]!.length, seed);
  const planted = Array.from({ length: count }, (_, i) => (i * 7919) % candidates.length);
  const queries = planted.map((j, i) => normalize(candidates[j]!.map((v, k) => v + 0.3 * noise[i]![k]!)));
  return { queries, planted };
}

describe('FeatureIndex', () => {
  const candidates = randomUnitRows(1500, 64, 1);
  let js: FeatureIndex;
  let ort: FeatureIndex;

  beforeAll(async () => {
    js = await FeatureIndex.create(candidates, { backend: 'js' });
    // Small runs so that a search spans several onnxruntime runs (offsets into the query buffer).
    ort = await FeatureIndex.create(candidates, { backend: 'onnxruntime', rowsPerRun: 7 });
  });
  afterAll(async () => {
    await js.close();
    await ort.close();
  });

  it('finds the planted candidate on both backends, with the same top-1 and scores', async () => {
    const { queries, planted } = plantedQueries(candidates, 50, 2);
    expect(js.backendFor(queries.length)).toBe('js');
    expect(ort.backendFor(queries.length)).toBe('onnxruntime');
    const a = await js.search(queries, 3);
    const b = await ort.search(queries, 3);
    expect(Array.from(a.indices.filter((_, i) => i % 3 === 0))).toEqual(planted);
    expect(Array.from(b.indices.filter((_, i) => i % 3 === 0))).toEqual(planted);
    a.scores.forEach((s, i) => expect(b.scores[i]).toBeCloseTo(s, 5));
  });

  it('agrees on random data: the same top-k, up to near-ties (|Δscore| < 1e-5)', async () => {
    const queries = randomUnitRows(200, 64, 3);
    const k = 5;
    const a = await js.search(queries, k);
    const b = await ort.search(queries, k);
    const full = cosineSimilarityScore(queries, candidates);
    let differing = 0;
    for (let i = 0; i < a.indices.length; i++) {
      if (a.indices[i] === b.indices[i]) continue;
      differing++;
      const row = Math.floor(i / k);
      const sa = full.data[row * candidates.length + a.indices[i]!]!;
      const sb = full.data[row * candidates.length + b.indices[i]!]!;
      expect(Math.abs(sa - sb)).toBeLessThan(1e-5);
    }
    // Near-ties are rare: nearly every slot is the same candidate.
    expect(differing).toBeLessThan(a.indices.length / 100);
  });

  it('answers match() as matchQueryToTargets does (avgMode too), on both backends', async () => {
    const { queries } = plantedQueries(candidates, 4, 4);
    for (const avg of [false, true]) {
      const a = await js.match(queries, avg);
      const b = await ort.match(queries, avg);
      expect(b.index).toBe(a.index);
      expect(b.score).toBeCloseTo(a.score, 5);
    }
  });

  it('returns the full score matrix only through scores(), equal on both backends', async () => {
    const queries = randomUnitRows(9, 64, 5);
    const a = await js.scores(queries);
    const b = await ort.scores(queries);
    expect([a.rows, a.dim, b.rows, b.dim]).toEqual([9, 1500, 9, 1500]);
    const expected = cosineSimilarityScore(queries, candidates).data;
    for (let i = 0; i < expected.length; i += 97) {
      expect(a.data[i]).toBeCloseTo(expected[i]!, 5);
      expect(b.data[i]).toBeCloseTo(expected[i]!, 5);
    }
  });

  it('pads with index -1 when k exceeds the candidates, on both backends', async () => {
    const small = randomUnitRows(3, 64, 6);
    const indexes = [
      await FeatureIndex.create(small, { backend: 'js' }),
      await FeatureIndex.create(small, { backend: 'onnxruntime' }),
    ];
    for (const index of indexes) {
      const top = await index.search([small[1]!], 5);
      expect(top.indices[0]).toBe(1);
      expect(Array.from(top.indices.subarray(3))).toEqual([-1, -1]);
      expect(Array.from(top.scores.subarray(3))).toEqual([-Infinity, -Infinity]);
      await index.close();
    }
  });

  it('chooses onnxruntime automatically only for large work, and the JS kernel for small searches', async () => {
    const big = await FeatureIndex.create(randomUnitRows(4096, 64, 7)); // auto
    try {
      expect(big.backendFor(1)).toBe('js'); // 262k multiply-adds: a run would cost more
      expect(big.backendFor(64)).toBe('onnxruntime');
      const tiny = await FeatureIndex.create(randomUnitRows(10, 64, 8));
      expect(tiny.backendFor(1000)).toBe('js'); // no session for 640 floats
      await tiny.close();
    } finally {
      await big.close();
    }
  });

  it('rejects bad input with coded errors: other dims, NaN, bad k, a closed index', async () => {
    expect((await rejectionOf(js.search([new Float32Array(3)]))).code).toBe('SEDNA_ERR_SHAPE_MISMATCH');
    const nan = new Float32Array(64).fill(Number.NaN);
    expect((await rejectionOf(ort.search([nan]))).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect((await rejectionOf(js.search([nan]))).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect((await rejectionOf(js.search([candidates[0]!], 0))).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect((await rejectionOf(FeatureIndex.create([]))).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    const closing = await FeatureIndex.create(candidates.slice(0, 8), { backend: 'onnxruntime' });
    await closing.close();
    expect((await rejectionOf(closing.search([candidates[0]!]))).code).toBe('SEDNA_ERR_CLOSED');
  });
});
