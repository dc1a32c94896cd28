/**
 * Joint inference benchmarks (issue 5), each with a same-run baseline:
 *
 * 1. Each HEM filter on 100 boxes / 100 classes: ns per call (target ≤ 1 µs), next to a plain
 *    loop that only reads the same scores once (the least any filter must do).
 * 2. JointInference.inference with the cloud never called (edge model + CrossEntropy + counters +
 *    an LC reporter) vs bare onnxruntime `session.run` on the same model and the same row
 *    (converted to a Float32Array, as any caller with a JS row must): target ≤ 1.05×.
 * 3. The cloud stopped: every hard example still answers within the cloud deadline (default 2 s);
 *    max latency reported.
 *
 *   npx tsx bench/joint-inference.bench.ts
 */
import net from 'node:net';
import * as ort from 'onnxruntime-node';
import {
  CloudOnlyFilter,
  CrossEntropyFilter,
  EdgeOnlyFilter,
  IBTFilter,
  RandomFilter,
  ThresholdFilter,
  type HardExampleFilter,
} from '../src/algorithms/hard-example-mining/index.js';
import { OnnxEstimator } from '../src/backend/onnx.js';
import { configureLogger } from '../src/common/logger.js';
import { loadConfig } from '../src/common/config.js';
import { JointInference } from '../src/core/joint-inference/joint-inference.js';
import { LCClient } from '../src/service/client/lc-client.js';
import { LCReporter } from '../src/service/client/lc-reporter.js';
import { ModelClient } from '../src/service/client/model-client.js';
import { LCEmulator } from '../src/testing/lc-emulator.js';
import { EDGE_ONNX, loadDigits } from '../test/helpers/backend-fixtures.js';

configureLogger({ level: 'error', name: 'bench' });
const median = (v: readonly number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

// ---------------------------------------------------------------------------------------------
// 1. HEM filters.
{
  const random =
    (seed: number): (() => number) =>
    () =>
      (seed = (seed * 1664525 + 1013904223) % 2 ** 32) / 2 ** 32;
  const r = random(7);
  const boxes = Array.from({ length: 100 }, () => [
    r() * 100,
    r() * 100,
    r() * 100 + 100,
    r() * 100 + 100,
    r(),
    Math.floor(r() * 3),
  ]);
  const raw = Array.from({ length: 100 }, () => r() + 0.01);
  const sum = raw.reduce((a, b) => a + b, 0);
  const probabilities = raw.map((v) => v / sum);
  const confident = Array.from({ length: 100 }, (_, i) => (i === 3 ? 0.9 : 0.1 / 99));
  const ITER = 200_000;
  let sink = 0;
  const time = (fn: () => unknown): number => {
    for (let i = 0; i < 20_000; i++) fn();
    const rounds: number[] = [];
    for (let k = 0; k < 7; k++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < ITER; i++) if (fn() === true) sink++;
      rounds.push(Number(process.hrtime.bigint() - t0) / ITER);
    }
    return median(rounds);
  };
  const readScores = time(() => {
    let s = 0;
    for (const b of boxes) s += b[4]!;
    return s < 0;
  });
  const readProbs = time(() => {
    let s = 0;
    for (const p of probabilities) s += p;
    return s < 0;
  });
  const cases: [string, HardExampleFilter, unknown, number][] = [
    ['Threshold (100 boxes)', new ThresholdFilter({ threshold: '0.5' }), boxes, readScores],
    ['IBT (100 boxes)', new IBTFilter({ threshold_img: '0.9', threshold_box: '0.9' }), boxes, readScores],
    [
      'CrossEntropy (100 classes)',
      new CrossEntropyFilter({ threshold_cross_entropy: '0.5' }),
      probabilities,
      readProbs,
    ],
    // A confident prediction is not hard, so there is no early answer: all 100 logarithms.
    ['CrossEntropy (100, confident)', new CrossEntropyFilter({ threshold_cross_entropy: '0.5' }), confident, readProbs],
    ['Random', new RandomFilter({ random_ratio: '0.3' }), boxes, readScores],
    ['CloudOnly', new CloudOnlyFilter(), boxes, readScores],
    ['EdgeOnly', new EdgeOnlyFilter(), boxes, readScores],
  ];
  console.log('1. hard example mining, per call (median of 7 rounds × 200k calls)');
  console.log(
    `   baseline: read 100 scores once = ${readScores.toFixed(1)} ns, 100 probabilities once = ${readProbs.toFixed(1)} ns`,
  );
  for (const [name, filter, input, base] of cases) {
    const ns = time(() => filter.isHard(input));
    console.log(
      `   ${name.padEnd(28)} ${ns.toFixed(1).padStart(7)} ns/call  (${(ns / 1000).toFixed(3)} µs; target ≤ 1 µs)  ratio to baseline ${(ns / base).toFixed(2)}`,
    );
  }
  if (sink < 0) console.log(sink);
}

// ---------------------------------------------------------------------------------------------
// 2. JointInference overhead with the cloud not called.
{
  const row = loadDigits('test').x[0]!;
  const session = await ort.InferenceSession.create(EDGE_ONNX, { logSeverityLevel: 3 });
  const lc = await LCEmulator.start();
  const client = new LCClient({ lcServer: lc.url });
  const reporter = LCReporter.start({
    client,
    message: {
      name: 'bench',
      namespace: '',
      ownerName: 'sedna',
      ownerKind: 'jointinferenceservice',
      kind: 'inference',
      results: [],
    },
    periodMs: 1_000,
  });
  const ji = await JointInference.create({
    estimator: await OnnxEstimator.create({ modelUrl: EDGE_ONNX }),
    config: loadConfig({}),
    modelUrl: false,
    hardExampleMining: new CrossEntropyFilter({ threshold_cross_entropy: 0 }), // computes, never hard
    cloud: new ModelClient({ host: '127.0.0.1', port: 9 }),
    reporter,
  });
  const bare = async (): Promise<unknown> => {
    const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(row), [1, 64]) });
    return out.probabilities!.data;
  };
  const joint = (): Promise<unknown> => ji.inference([row]);
  const CALLS = 300;
  const round = async (fn: () => Promise<unknown>): Promise<number> => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) await fn();
    return Number(process.hrtime.bigint() - t0) / 1000 / CALLS;
  };
  for (let i = 0; i < 3000; i++) {
    await bare();
    await joint();
  }
  const ratios: number[] = [];
  const bareUs: number[] = [];
  const jointUs: number[] = [];
  for (let r = 0; r < 60; r++) {
    // Alternate which runs first, so neither always follows the other.
    let s: number;
    let j: number;
    if (r % 2 === 0) {
      s = await round(bare);
      j = await round(joint);
    } else {
      j = await round(joint);
      s = await round(bare);
    }
    bareUs.push(s);
    jointUs.push(j);
    ratios.push(j / s);
  }
  console.log(
    '\n2. JointInference.inference (edge + CrossEntropy + counters + reporter, cloud not called) vs bare session.run',
  );
  console.log(`   session.run (Float32Array.from(row) + run + read): ${median(bareUs).toFixed(2)} µs/call`);
  console.log(`   JointInference.inference([row]):                  ${median(jointUs).toFixed(2)} µs/call`);
  console.log(
    `   ratio = ${median(ratios).toFixed(3)} (median of paired rounds; target ≤ 1.05); ${ji.stats.inferences} inferences counted, ${ji.stats.hardExamples} hard`,
  );
  await ji.close();
  client.close();
  await lc.close();
  await session.release();
}

// ---------------------------------------------------------------------------------------------
// 3. The cloud stopped.
{
  const dead = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
  // A cloud that accepts connections and never answers: the worst case for a deadline.
  const silent = net.createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentPort = (silent.address() as net.AddressInfo).port;
  const rows = loadDigits('test').x.slice(0, 30);
  for (const [label, port, timeoutMs] of [
    ['cloud down (connection refused), default deadline 2000 ms', dead, 2_000],
    ['cloud accepting but never answering, deadline 500 ms', silentPort, 500],
  ] as const) {
    const ji = await JointInference.create({
      estimator: await OnnxEstimator.create({ modelUrl: EDGE_ONNX }),
      config: loadConfig({ BIG_MODEL_IP: '127.0.0.1', BIG_MODEL_PORT: String(port) }),
      modelUrl: false,
      hardExampleMining: new CloudOnlyFilter(), // every sample tries the cloud
      reporter: false,
      cloudTimeoutMs: timeoutMs,
    });
    const latencies: number[] = [];
    for (const row of rows) {
      const t0 = performance.now();
      const out = await ji.inference([row]);
      latencies.push(performance.now() - t0);
      if (out.cloudResult !== undefined || out.cloudError === undefined) throw new Error('expected a cloud failure');
    }
    console.log(`\n3. ${label}: ${rows.length} hard examples, all answered by the edge`);
    console.log(
      `   latency p50 ${median(latencies).toFixed(2)} ms, max ${Math.max(...latencies).toFixed(2)} ms (deadline ${timeoutMs} ms; max/deadline = ${(Math.max(...latencies) / timeoutMs).toFixed(3)}); cloud failures counted: ${ji.stats.cloudFailures}`,
    );
    await ji.close();
  }
  silent.close();
}
