/**
 * `sedna simulate fl`: the federated-learning simulation on the bundled digits data (the UCI
 * handwritten digits, 8×8 pixels, the package's train/test split) with the digits MLP
 * (64 → 32 ReLU → 10 softmax) on TF.js, and its results table.
 */
import path from 'node:path';
import { TfjsEstimator, type Tf } from '../../backend/tfjs.js';
import { CSVDataParse } from '../../datasources/csv.js';
import type { RawAlgorithmParams } from '../../common/class-factory.js';
import {
  simulateFederatedLearning,
  type FlSimulationOptions,
  type LabelledRows,
  type SimulationResult,
} from '../../core/fl-simulation/index.js';
import { PACKAGE_ROOT } from '../demo/joint-inference.js';

export const DIGITS_DATA = {
  train: path.join(PACKAGE_ROOT, 'test', 'fixtures', 'data', 'digits-train.csv'),
  test: path.join(PACKAGE_ROOT, 'test', 'fixtures', 'data', 'digits-test.csv'),
};

/** A digits split as rows of 64 values in [0, 1] (pixel / 16) and labels 0-9. */
export async function loadDigitsRows(file: string): Promise<LabelledRows> {
  const csv = await new CSVDataParse('train').parse(file, { label: 'label' });
  return {
    x: csv.x.map((row) => Array.from(row as ArrayLike<unknown>, (p) => Number(p) / 16)),
    y: (csv.y as readonly unknown[]).map(Number),
  };
}

/**
 * The digits MLP (64 → `hidden` ReLU → 10 softmax), seeded: every run starts from the same
 * weights. `seed` initialises the hidden layer, `seed + 1` the output layer.
 */
export function digitsModel(
  tf: Tf,
  { hidden = 32, seed = 7 }: { hidden?: number; seed?: number } = {},
): ReturnType<Tf['sequential']> {
  return tf.sequential({
    name: 'digits_mlp',
    layers: [
      tf.layers.dense({
        units: hidden,
        inputShape: [64],
        activation: 'relu',
        name: 'hidden',
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
      }),
      tf.layers.dense({
        units: 10,
        activation: 'softmax',
        name: 'output',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
      }),
    ],
  });
}

export type DigitsSimulationOptions = Omit<FlSimulationOptions, 'estimator' | 'train' | 'test'>;

/** The simulation on the digits data and MLP. */
export async function simulateDigits(options: DigitsSimulationOptions): Promise<SimulationResult> {
  const [train, test] = await Promise.all([loadDigitsRows(DIGITS_DATA.train), loadDigitsRows(DIGITS_DATA.test)]);
  return simulateFederatedLearning({
    ...options,
    train,
    test,
    estimator: () => TfjsEstimator.create({ model: (tf) => digitsModel(tf) }),
  });
}

/** `key=value` CLI parameters into a CRD-style parameter record. */
export function parseParams(pairs: readonly string[]): RawAlgorithmParams {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`--param ${pair}: expected key=value`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

/** The per-round table and a summary. */
export function formatSimulationTable(r: SimulationResult): string {
  const header = ['round', 'clients', 'aggregated', 'rejected', 'accuracy', 'bytes moved', 'time'];
  const rows = r.rounds.map((x) => [
    String(x.round),
    String(x.chosen),
    String(x.aggregated),
    String(x.rejected),
    `${(x.accuracy * 100).toFixed(1)} %`,
    megabytes(x.bytesDown + x.bytesUp),
    `${(x.ms / 1000).toFixed(2)} s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const format = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  const summary = [
    `strategy ${r.strategy}, ${r.clients} clients (${r.perRound} per round), partition ${r.partition}, ` +
      `samples per client ${r.clientSamples.min}-${r.clientSamples.max} (median ${r.clientSamples.median})` +
      (r.poisonedClients.length > 0 ? `, poisoned: ${r.poisonedClients.join(', ')}` : ''),
    `accuracy ${(r.initialAccuracy * 100).toFixed(1)} % → ${(r.finalAccuracy * 100).toFixed(1)} %, ` +
      `${megabytes(r.bytesMoved)} moved, ${r.seconds.toFixed(1)} s (${((r.seconds / Math.max(1, r.rounds.length)) * 1000).toFixed(0)} ms per round), ` +
      `peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
  ];
  return [line, format(header), line, ...rows.map(format), line, ...summary].join('\n');
}
