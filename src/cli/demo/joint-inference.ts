/**
 * The joint-inference scenario on one machine, no cluster: the LC emulator, the cloud
 * BigModelService (a 64-128-10 MLP, ONNX) and the edge JointInference (a small softmax regression,
 * ONNX) with a CrossEntropy hard-example filter, over the held-out split of the bundled digits
 * data. Everything talks over real HTTP on 127.0.0.1, exactly as in a cluster.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OnnxEstimator } from '../../backend/onnx.js';
import { loadConfig } from '../../common/config.js';
import { BigModelService } from '../../core/joint-inference/big-model-service.js';
import { JointInference } from '../../core/joint-inference/joint-inference.js';
import { CSVDataParse } from '../../datasources/csv.js';
import { ModelClient } from '../../service/client/model-client.js';
import { LCEmulator } from '../../testing/lc-emulator.js';

/** The package root (this file is at src/cli/demo/ or dist/cli/demo/). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DEMO_ASSETS = {
  edgeModel: path.join(PACKAGE_ROOT, 'test', 'fixtures', 'models', 'digits-edge.onnx'),
  cloudModel: path.join(PACKAGE_ROOT, 'test', 'fixtures', 'models', 'digits-cloud.onnx'),
  testData: path.join(PACKAGE_ROOT, 'test', 'fixtures', 'data', 'digits-test.csv'),
};

export interface JointInferenceDemoOptions {
  /** CrossEntropy threshold (default 0.75: about a quarter of the samples go up). */
  threshold?: number;
  /** Use only the first N test samples. */
  samples?: number;
  /** LC report period in seconds (default 0.2, so a short run sees several reports). */
  lcPeriodSeconds?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface Percentiles {
  p50: number;
  p99: number;
}

export interface JointInferenceDemoResult {
  samples: number;
  threshold: number;
  edgeAccuracy: number;
  cloudAccuracy: number;
  jointAccuracy: number;
  uploadRatio: number;
  hardExamples: number;
  cloudFailures: number;
  /** Time of the edge model per sample. */
  edgeLatencyMs: Percentiles;
  /** Time of a whole `inference()` call (edge, mining and, for hard examples, the cloud). */
  endToEndLatencyMs: Percentiles;
  /** Reports the LC emulator accepted. */
  lcReports: number;
  /** The counters in the last report the LC received. */
  lcCounters: { inferenceNumber: number; hardExampleNumber: number };
}

const argmax = (row: readonly number[]): number => {
  let best = 0;
  for (let i = 1; i < row.length; i++) if ((row[i] as number) > (row[best] as number)) best = i;
  return best;
};

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
  return { p50: at(0.5), p99: at(0.99) };
}

/** The digits test split, scaled as the models expect (pixels / 16). */
async function loadTestSplit(limit?: number): Promise<{ x: number[][]; y: number[] }> {
  const data = await new CSVDataParse('test').parse(DEMO_ASSETS.testData, { label: 'label' });
  const count = Math.min(limit ?? data.x.length, data.x.length);
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < count; i++) {
    x.push(Array.from(data.x[i] as ArrayLike<number>, (p) => p / 16));
    y.push(Number((data.y as readonly (string | number)[])[i]));
  }
  return { x, y };
}

export async function runJointInferenceDemo(
  options: JointInferenceDemoOptions = {},
): Promise<JointInferenceDemoResult> {
  const threshold = options.threshold ?? 0.75;
  const { x, y } = await loadTestSplit(options.samples);
  const lc = await LCEmulator.start();
  const cloud = await BigModelService.create({
    estimator: await OnnxEstimator.create(),
    config: loadConfig({}),
    modelUrl: DEMO_ASSETS.cloudModel,
    host: '127.0.0.1',
    port: 0,
  });
  try {
    await cloud.start();
    // The edge worker gets what the Sedna controller would inject into its pod.
    const config = loadConfig({
      WORKER_NAME: 'edgeworker-demo',
      NAMESPACE: 'default',
      SERVICE_NAME: 'digits',
      MODEL_URL: DEMO_ASSETS.edgeModel,
      BIG_MODEL_IP: '127.0.0.1',
      BIG_MODEL_PORT: String(cloud.port),
      HEM_NAME: 'CrossEntropy',
      HEM_PARAMETERS: JSON.stringify([{ key: 'threshold_cross_entropy', value: String(threshold) }]),
      LC_SERVER: lc.url,
      LC_PERIOD: String(options.lcPeriodSeconds ?? 0.2),
    });
    // Edge-only baseline: the edge model alone on every sample (its accuracy and latency).
    const edgeModel = await OnnxEstimator.create({ modelUrl: DEMO_ASSETS.edgeModel });
    const edgeTimes: number[] = [];
    let edgeCorrect = 0;
    try {
      for (let i = 0; i < x.length; i++) {
        const started = performance.now();
        const rows = await edgeModel.predict([x[i] as number[]]);
        edgeTimes.push(performance.now() - started);
        if (argmax(rows[0] as number[]) === y[i]) edgeCorrect++;
      }
    } finally {
      await edgeModel.close();
    }
    // Joint inference, as the edge worker runs it.
    const ji = await JointInference.create({ estimator: await OnnxEstimator.create(), config });
    const endToEnd: number[] = [];
    let jointCorrect = 0;
    try {
      for (let i = 0; i < x.length; i++) {
        const started = performance.now();
        const out = await ji.inference([x[i] as number[]]);
        endToEnd.push(performance.now() - started);
        if (argmax((out.result as number[][])[0] as number[]) === y[i]) jointCorrect++;
        options.onProgress?.(i + 1, x.length);
      }
    } finally {
      await ji.close(); // delivers the last LC report
    }
    const cloudCorrect = await cloudOnlyCorrect(cloud.port, x, y);
    const stats = ji.stats;
    const last = lc.accepted().at(-1)?.ownerInfo as { inferenceNumber: number; hardExampleNumber: number } | undefined;
    return {
      samples: x.length,
      threshold,
      edgeAccuracy: edgeCorrect / x.length,
      cloudAccuracy: cloudCorrect / x.length,
      jointAccuracy: jointCorrect / x.length,
      uploadRatio: stats.hardExamples / x.length,
      hardExamples: stats.hardExamples,
      cloudFailures: stats.cloudFailures,
      edgeLatencyMs: percentiles(edgeTimes),
      endToEndLatencyMs: percentiles(endToEnd),
      lcReports: lc.accepted().length,
      lcCounters: { inferenceNumber: last?.inferenceNumber ?? 0, hardExampleNumber: last?.hardExampleNumber ?? 0 },
    };
  } finally {
    await cloud.close();
    await lc.close();
  }
}

/** What the cloud model alone would get: every sample through the same REST API, in batches. */
async function cloudOnlyCorrect(port: number, x: readonly number[][], y: readonly number[]): Promise<number> {
  const client = new ModelClient({ host: '127.0.0.1', port, timeoutMs: 30_000 });
  try {
    let correct = 0;
    for (let i = 0; i < x.length; i += 64) {
      const rows = (await client.inference(x.slice(i, i + 64))) as number[][];
      rows.forEach((row, j) => {
        if (argmax(row) === y[i + j]) correct++;
      });
    }
    return correct;
  } finally {
    client.close();
  }
}

/** The result as the table the demo prints. */
export function formatDemoTable(r: JointInferenceDemoResult): string {
  const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;
  const ms = (p: Percentiles): string => `p50 ${p.p50.toFixed(3)} ms, p99 ${p.p99.toFixed(3)} ms`;
  const rows: [string, string][] = [
    ['samples (digits test split)', String(r.samples)],
    ['edge-only accuracy', pct(r.edgeAccuracy)],
    ['cloud-only accuracy', pct(r.cloudAccuracy)],
    ['joint accuracy', pct(r.jointAccuracy)],
    [
      'upload ratio (hard examples)',
      `${pct(r.uploadRatio)} (${r.hardExamples} of ${r.samples}, CrossEntropy < ${r.threshold})`,
    ],
    ['edge latency', ms(r.edgeLatencyMs)],
    ['end-to-end latency', ms(r.endToEndLatencyMs)],
    ['cloud failures', String(r.cloudFailures)],
    [
      'LC reports received',
      `${r.lcReports} (last: ${r.lcCounters.inferenceNumber} inferences, ${r.lcCounters.hardExampleNumber} hard)`,
    ],
  ];
  const keyWidth = Math.max(...rows.map(([k]) => k.length));
  const valueWidth = Math.max(...rows.map(([, v]) => v.length));
  const line = `+${'-'.repeat(keyWidth + 2)}+${'-'.repeat(valueWidth + 2)}+`;
  const body = rows.map(([k, v]) => `| ${k.padEnd(keyWidth)} | ${v.padEnd(valueWidth)} |`);
  return [line, ...body, line].join('\n');
}
