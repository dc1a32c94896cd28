/**
 * ReID matching (src/algorithms/reid/matching.ts) against hand-computed cases and a naive
 * reference on random matrices.
 */
import fc from 'fast-check';
import {
  cosineSimilarityScore,
  matchQueryToTargets,
  normalize,
  stackFeatures,
} from '../../src/algorithms/reid/matching.js';
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
