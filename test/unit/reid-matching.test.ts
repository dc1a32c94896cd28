/**
 * ReID matching (src/algorithms/reid/matching.ts) and its JS kernel (similarity-kernel.ts)
 * against hand-computed cases and a naive reference on random matrices.
 */
import fc from 'fast-check';
import {
  cosineSimilarityScore,
  matchQueryToTargets,
  normalize,
  stackFeatures,
} from '../../src/algorithms/reid/matching.js';
import { packFeatures, similarityTopK } from '../../src/algorithms/reid/similarity-kernel.js';
import { errorOf } from '../helpers/errors.js';

const f = (...v: number[]): Float32Array => Float32Array.from(v);

describe('ReID matching', () => {
  it('computes query · candidatesᵀ (hand-computed)', () => {
    const sim = cosineSimilarityScore([f(1, 0), f(0.6, 0.8)], [f(1, 0), f(0, 1), f(0.6, 0.8)]);
    expect(sim.rows).toBe(2);
    expect(sim.dim).toBe(3);
    expect(Array.from(sim.data)).toEqual([
      1,
      0,
      expect.closeTo(0.6, 6),
      expect.closeTo(0.6, 6),
      expect.closeTo(0.8, 6),
      expect.closeTo(1, 6),
    ]);
  });

  it('matches the candidate with the highest similarity to any query (hand-computed)', () => {
    // The second query row matches candidate 2 best (0.96): that is the answer, with its score.
    const query = [f(1, 0), f(0.8, 0.6)];
    const candidates = [f(0, 1), f(0.6, -0.8), f(0.6, 0.8)];
    expect(matchQueryToTargets(query, candidates)).toEqual({ index: 2, score: expect.closeTo(0.96, 6) as number });
    // avgMode compares against the mean query (0.9, 0.3): candidate 2 scores 0.78.
    expect(matchQueryToTargets(query, candidates, true)).toEqual({
      index: 2,
      score: expect.closeTo(0.78, 6) as number,
    });
    // Ties go to the first candidate, as Sedna's nonzero()[0].
    expect(matchQueryToTargets([f(1, 0)], [f(0.5, 1), f(0.5, -1)]).index).toBe(0);
  });

  it('agrees with a naive triple loop on random matrices (any row count, not only multiples of 4)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 11 }),
        fc.integer({ min: 1, max: 9 }),
        fc.nat(),
        (m, n, d, seed) => {
          let s = seed;
          const rand = (): number => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
          const q = Array.from({ length: m }, () => Float32Array.from({ length: d }, rand));
          const c = Array.from({ length: n }, () => Float32Array.from({ length: d }, rand));
          const sim = cosineSimilarityScore(q, c);
          const naive = q.map((qi) => c.map((cj) => qi.reduce((sum, v, k) => sum + v * cj[k]!, 0)));
          naive.forEach((row, i) => row.forEach((dot, j) => expect(sim.data[i * n + j]).toBeCloseTo(dot, 4)));
          const best = Math.max(...naive.flat());
          const match = matchQueryToTargets(q, c);
          expect(match.score).toBeCloseTo(best, 4);
          // The chosen candidate holds the maximum in some query row.
          expect(Math.max(...naive.map((row) => row[match.index]!))).toBeCloseTo(best, 4);
        },
      ),
    );
  });

  it('normalises to unit length and rejects ragged or mismatched features with SHAPE_MISMATCH', () => {
    const n = normalize(f(3, 4));
    expect(Array.from(n)).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
    expect(Array.from(normalize(f(0, 0)))).toEqual([0, 0]);
    expect(errorOf(() => stackFeatures([f(1, 2), f(1)])).code).toBe('SEDNA_ERR_SHAPE_MISMATCH');
    expect(errorOf(() => matchQueryToTargets([f(1, 2)], [f(1, 2, 3)])).code).toBe('SEDNA_ERR_SHAPE_MISMATCH');
    expect(errorOf(() => matchQueryToTargets([], [f(1)])).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
  });
});

/** Seeded uniform values in [-1, 1) (an LCG: reproducible, fast). */
function randomRows(rows: number, dim: number, seed: number): Float32Array[] {
  let s = seed >>> 0;
  const rand = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  return Array.from({ length: rows }, () => Float32Array.from({ length: dim }, rand));
}

describe('the similarity kernel (packed 4×4 tiles, top-k per query)', () => {
  it('keeps the best k per query in order, as a sort of the naive matrix does (any shape, k beyond N)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 13 }),
        fc.integer({ min: 1, max: 11 }),
        fc.integer({ min: 1, max: 6 }),
        fc.nat(),
        (m, n, d, k, seed) => {
          const q = randomRows(m, d, seed);
          const c = randomRows(n, d, seed + 1);
          const top = similarityTopK(packFeatures(stackFeatures(q)), packFeatures(stackFeatures(c)), k);
          expect(top.rows).toBe(m);
          expect(top.k).toBe(k);
          q.forEach((qi, i) => {
            const dots = c.map((cj, j) => ({ j, dot: qi.reduce((sum, v, t) => sum + v * cj[t]!, 0) }));
            // Descending by score, ties by index (a stable sort of the candidates in order).
            const expected = dots.sort((x, y) => y.dot - x.dot).slice(0, k);
            for (let r = 0; r < k; r++) {
              if (r >= n) {
                expect(top.indices[i * k + r]).toBe(-1);
                expect(top.scores[i * k + r]).toBe(-Infinity);
              } else {
                expect(top.scores[i * k + r]).toBeCloseTo(expected[r]!.dot, 4);
                // The same candidate, or one with the same score (a tie within float error).
                const j = top.indices[i * k + r]!;
                expect(dots.find((x) => x.j === j)!.dot).toBeCloseTo(expected[r]!.dot, 4);
              }
            }
          });
        },
      ),
    );
  });

  it('breaks exact ties toward the lower candidate index, across tile and cache-block boundaries', () => {
    // 700 identical candidates (six 256 KB cache blocks at d = 256): every one scores 1.
    const v = normalize(Float32Array.from({ length: 256 }, (_, i) => i + 1));
    const top = similarityTopK(
      packFeatures(stackFeatures([v, v, v])),
      packFeatures(stackFeatures(Array(700).fill(v))),
      5,
    );
    expect(Array.from(top.indices)).toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
  });

  it('refuses NaN and Infinity in features (a broken extractor), naming the value', () => {
    const bad = f(0.5, Number.NaN, 0.1);
    const err = errorOf(() => matchQueryToTargets([f(1, 0, 0)], [f(1, 0, 0), bad]));
    expect(err.code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect(err.message).toContain('candidates[1][1]');
    expect(errorOf(() => packFeatures(stackFeatures([f(Infinity)]))).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
  });

  it('matches a target packed once against many frames as matching from scratch does', () => {
    const target = randomRows(3, 32, 7).map(normalize);
    const prepared = packFeatures(stackFeatures(target));
    for (let frame = 0; frame < 20; frame++) {
      const boxes = randomRows(1 + (frame % 5), 32, 100 + frame).map(normalize);
      expect(matchQueryToTargets(prepared, boxes)).toEqual(matchQueryToTargets(target, boxes));
    }
    expect(errorOf(() => matchQueryToTargets(prepared, [f(1)], true)).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
  });
});
