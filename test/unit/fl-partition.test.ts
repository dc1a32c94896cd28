/**
 * Data partitions for the federated-learning simulation: every sample dealt exactly once, the
 * label skew each scheme promises, the same partition for the same seed, coded errors.
 */
import {
  parsePartition,
  partitionLabels,
  sampleDirichlet,
  sampleGamma,
} from '../../src/core/fl-simulation/partition.js';
import { seededRandom } from '../../src/algorithms/random.js';
import { errorOf } from '../helpers/errors.js';

// 10 classes × 120 samples, in class order.
const labels = Array.from({ length: 1200 }, (_, i) => Math.floor(i / 120));

function dealtOnce(parts: number[][]): void {
  const all = parts.flat().sort((a, b) => a - b);
  expect(all).toEqual(labels.map((_, i) => i));
}

/** The average over clients of the share of its most frequent label. */
function topClassShare(parts: number[][]): number {
  const shares = parts.map((p) => {
    const counts = new Map<number, number>();
    for (const i of p) counts.set(labels[i]!, (counts.get(labels[i]!) ?? 0) + 1);
    return Math.max(...counts.values()) / p.length;
  });
  return shares.reduce((s, v) => s + v, 0) / shares.length;
}

describe('partitionLabels', () => {
  it('iid: even shares, every class everywhere', () => {
    const parts = partitionLabels(labels, 7, 'iid', { seed: 3 });
    dealtOnce(parts);
    expect(Math.max(...parts.map((p) => p.length)) - Math.min(...parts.map((p) => p.length))).toBeLessThanOrEqual(1);
    expect(topClassShare(parts)).toBeLessThan(0.2);
  });

  it('dirichlet: small alpha skews the labels, large alpha does not', () => {
    const skewed = partitionLabels(labels, 20, 'dirichlet:0.1', { seed: 1 });
    const even = partitionLabels(labels, 20, 'dirichlet:100', { seed: 1 });
    dealtOnce(skewed);
    dealtOnce(even);
    expect(topClassShare(skewed)).toBeGreaterThan(0.5);
    expect(topClassShare(even)).toBeLessThan(0.25);
    expect(partitionLabels(labels, 20, 'dirichlet:0.1', { seed: 1 })).toEqual(skewed);
    expect(partitionLabels(labels, 20, 'dirichlet:0.1', { seed: 2 })).not.toEqual(skewed);
  });

  it('dirichlet: redraws until every client has minSamples, or fails with a coded error', () => {
    const parts = partitionLabels(labels, 100, 'dirichlet:0.3', { seed: 1, minSamples: 2 });
    expect(Math.min(...parts.map((p) => p.length))).toBeGreaterThanOrEqual(2);
    const error = errorOf(() => partitionLabels(labels, 400, 'dirichlet:0.01', { minSamples: 3, maxAttempts: 5 }));
    expect(error.code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
  });

  it('shards:k gives each client k label-sorted shards: about k classes each', () => {
    const parts = partitionLabels(labels, 10, 'shards:2', { seed: 4 });
    dealtOnce(parts);
    for (const p of parts) expect(new Set(p.map((i) => labels[i])).size).toBeLessThanOrEqual(3);
  });

  it.each(['', 'dirichlet', 'dirichlet:0', 'dirichlet:-1', 'shards:1.5', 'shards:0', 'random'])(
    'refuses the spec %j',
    (spec) => {
      expect(errorOf(() => parsePartition(spec)).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    },
  );

  it('refuses more clients than samples', () => {
    expect(errorOf(() => partitionLabels([1, 2, 3], 4, 'iid')).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
  });
});

describe('the samplers', () => {
  it('Gamma(shape) has mean shape and variance shape, also for shapes below 1', () => {
    const random = seededRandom(8);
    for (const shape of [0.3, 1, 4.5]) {
      const n = 40_000;
      const draws = Array.from({ length: n }, () => sampleGamma(shape, random));
      const mean = draws.reduce((s, v) => s + v, 0) / n;
      const variance = draws.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
      expect(mean / shape).toBeCloseTo(1, 1);
      expect(variance / shape).toBeCloseTo(1, 1);
    }
  });

  it('Dirichlet proportions sum to 1 and average 1/k', () => {
    const random = seededRandom(9);
    const sums = new Array<number>(4).fill(0);
    let worstTotal = 0;
    for (let r = 0; r < 20_000; r++) {
      const p = sampleDirichlet(0.5, 4, random);
      worstTotal = Math.max(worstTotal, Math.abs(p.reduce((s, v) => s + v, 0) - 1));
      p.forEach((v, i) => (sums[i]! += v));
    }
    expect(worstTotal).toBeLessThan(1e-12);
    for (const s of sums) expect(s / 20_000).toBeCloseTo(0.25, 2);
  });
});
