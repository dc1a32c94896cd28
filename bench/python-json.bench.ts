/**
 * JSON weights for Python peers: toPythonJson (floats written as Python writes them, `1.0`) vs
 * JSON.stringify (which writes `1` and makes a Python peer's array int64), on the same data.
 *
 *   npx tsx bench/python-json.bench.ts [millions of values]     (default 1)
 *
 * Data sets: float32 weights from a normal distribution (~9 significant digits each, the FL
 * case), float64 weights, and whole-number floats (one-hot inputs, the joint-inference case).
 * JSON.stringify gets what it needs to write the same lists: `Array.from(typed)` (included in its
 * time) or a plain nested list made beforehand (`weightsToNestedLists`, not timed). Prints the
 * median of 7 runs and the ratio toPythonJson / JSON.stringify. Not a pass/fail test.
 */
import { JsonTensor, toPythonJson } from '../src/common/python-json.js';

const N = Math.round(Number(process.argv[2] ?? 1) * 1e6);
const RUNS = 7;

function gaussian(seed: number): () => number {
  let s = seed;
  const uniform = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 1) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()) * 0.05;
}

function median(fn: () => string): { ms: number; chars: number } {
  const times: number[] = [];
  let chars = 0;
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    chars = fn().length;
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { ms: times[RUNS >> 1] as number, chars };
}

const rnd = gaussian(13);
const sets: [string, Float32Array | Float64Array][] = [
  ['float32 weights', Float32Array.from({ length: N }, rnd)],
  ['float64 weights', Float64Array.from({ length: N }, rnd)],
  ['whole-number floats', Float32Array.from({ length: N }, (_, i) => (i % 7 === 0 ? 1 : 0))],
];

console.log(`${N.toLocaleString()} values per set, median of ${RUNS} runs`);
console.log(
  'set                   | JSON.stringify(Array.from) | JSON.stringify(plain list) | toPythonJson(tensor) | ratio',
);
for (const [name, data] of sets) {
  const shape = [N / 1000, 1000];
  const plain = Array.from(data);
  const stringify = median(() => JSON.stringify(Array.from(data)));
  const stringifyPlain = median(() => JSON.stringify(plain));
  const python = median(() => toPythonJson(new JsonTensor(data, shape)));
  console.log(
    `${name.padEnd(21)} | ${stringify.ms.toFixed(1).padStart(10)} ms ${String(stringify.chars).padStart(10)} ch | ` +
      `${stringifyPlain.ms.toFixed(1).padStart(10)} ms               | ${python.ms.toFixed(1).padStart(8)} ms ${String(python.chars).padStart(9)} ch | ` +
      `${(python.ms / stringify.ms).toFixed(2)}x`,
  );
}
