/**
 * OnnxEstimator.predict of one sample vs a bare onnxruntime `session.run` on the same model, in
 * the same process, interleaved (the two alternate in short rounds, so CPU frequency and GC hit
 * both alike). Reports the median per-call time of each and their ratio (target <= 1.05).
 *
 *   npx tsx bench/onnx-predict.bench.ts        (ROUNDS=60 CALLS=300 to change the sample)
 *
 * The baseline builds its input tensor on every call, as any caller must for new data; the
 * estimator gets the same Float32Array as `{ data, dims }`. Reported separately: the sample as a
 * row (`number[][]`), which the estimator converts to a Float32Array, against a baseline that does
 * the same conversion (`Float32Array.from(row)`).
 */
import * as ort from 'onnxruntime-node';
import { OnnxEstimator } from '../src/backend/onnx.js';
import { CLOUD_ONNX, EDGE_ONNX, loadDigits, scaleDigitsBatch } from '../test/helpers/backend-fixtures.js';

const ROUNDS = Number(process.env.ROUNDS ?? 60);
const CALLS = Number(process.env.CALLS ?? 300);
const WARMUP = 3000;

type Call = () => Promise<unknown>;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Microseconds per call, one value per round. */
async function round(call: Call): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await call();
  return Number(process.hrtime.bigint() - start) / 1000 / CALLS;
}

/**
 * Medians per variant, and each variant's ratio to `session.run` as the median of per-round
 * ratios (paired: both ran back to back, so drift in machine load cancels out).
 */
async function compare(label: string, variants: Readonly<Record<string, Call>>): Promise<Record<string, number[]>> {
  const names = Object.keys(variants);
  for (let i = 0; i < WARMUP; i++) for (const name of names) await variants[name]!();
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate the order too, so neither side always runs right after the other.
    const order = r % 2 === 0 ? names : [...names].reverse();
    for (const name of order) samples[name]!.push(await round(variants[name]!));
  }
  const base = samples['session.run']!;
  console.log(`\n${label}`);
  for (const name of names) {
    const ratio = median(samples[name]!.map((us, r) => us / base[r]!));
    console.log(
      `  ${name.padEnd(36)} ${median(samples[name]!).toFixed(2).padStart(6)} µs/call   ratio ${ratio.toFixed(3)}`,
    );
  }
  return samples;
}

const sample = loadDigits('test').pixels[0]!;
const data = scaleDigitsBatch([sample]);
const row = [Array.from(data)];
const dims = [1, 64];

console.log(
  `onnxruntime-node ${ort.env.versions.common}, Node ${process.version}; ${ROUNDS} rounds x ${CALLS} calls; µs: median of round means; ratio: median of paired per-round ratios`,
);
for (const [label, file] of [
  ['digits-edge.onnx (softmax regression 64-10)', EDGE_ONNX],
  ['digits-cloud.onnx (MLP 64-128-10)', CLOUD_ONNX],
] as const) {
  const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  const estimator = await OnnxEstimator.create({ modelUrl: file });
  // Same answers, or the comparison is meaningless.
  const bare = (await session.run({ input: new ort.Tensor('float32', data, dims) })).probabilities!
    .data as Float32Array;
  const ours = (await estimator.predict({ data, dims }))[0]!;
  if (ours.some((v, i) => v !== bare[i])) throw new Error(`${label}: the estimator and session.run disagree`);
  const m = await compare(label, {
    'session.run': () => session.run({ input: new ort.Tensor('float32', data, dims) }),
    'estimator.predict({ data, dims })': () => estimator.predict({ data, dims }),
    'session.run(Float32Array.from(row))': () =>
      session.run({ input: new ort.Tensor('float32', Float32Array.from(row[0]!), dims) }),
    'estimator.predict([row])': () => estimator.predict(row),
  });
  const convert = m['session.run(Float32Array.from(row))']!;
  const rowsRatio = median(m['estimator.predict([row])']!.map((us, r) => us / convert[r]!));
  console.log(`  rows vs session.run converting the same row: ratio ${rowsRatio.toFixed(3)}`);
  await estimator.close();
  await session.release();
}
