/** A layer's worth of float32 weights for the FL benches: a kernel of `params - 1000` seeded values and a 1000-bias. */
import type { WeightRecord } from '../../src/backend/weights.js';

export function layerWeights(params: number, seed: number): WeightRecord[] {
  const kernel = new Float32Array(params - 1000);
  let s = seed;
  for (let i = 0; i < kernel.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    kernel[i] = s / 2 ** 31 - 1;
  }
  return [
    { name: 'dense/kernel', dtype: 'float32', shape: [kernel.length], data: kernel },
    { name: 'dense/bias', dtype: 'float32', shape: [1000], data: new Float32Array(1000).fill(0.5) },
  ];
}
