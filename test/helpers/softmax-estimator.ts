/**
 * A real, small model for federated-learning tests: multinomial logistic regression trained with
 * mini-batch SGD on cross-entropy, in plain TypeScript. Deterministic (seeded shuffling), fast
 * (the digits data trains an epoch in a few milliseconds) and a full Estimator.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type {
  Dataset,
  Estimator,
  EvaluateOptions,
  Metrics,
  ModelInfoOptions,
  ModelResultEntry,
  TrainOptions,
} from '../../src/backend/estimator.js';
import { checkSameLayout, type WeightRecord } from '../../src/backend/weights.js';
import { ROOT } from './paths.js';

export type Row = readonly number[];

export interface SoftmaxOptions {
  features: number;
  classes: number;
  learningRate?: number;
  batchSize?: number;
  seed?: number;
  /** Busy-waits this long per train() call (a synchronous, CPU-bound "training"). */
  blockMs?: number;
}

/** A seeded LCG (Numerical Recipes): the same shuffles on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export class SoftmaxEstimator implements Estimator<Row, number, number[]> {
  readonly backend = 'softmax-ts';
  readonly features: number;
  readonly classes: number;
  private w: Float32Array;
  private b: Float32Array;
  private readonly lr: number;
  private readonly batchSize: number;
  private readonly random: () => number;
  private readonly blockMs: number;
  /** Every weight list this model handed out (tests compare them with the aggregates). */
  readonly sent: WeightRecord[][] = [];
  /** Every weight list set on this model. */
  readonly received: WeightRecord[][] = [];
  closed = false;

  constructor(options: SoftmaxOptions) {
    this.features = options.features;
    this.classes = options.classes;
    this.w = new Float32Array(options.features * options.classes);
    this.b = new Float32Array(options.classes);
    this.lr = options.learningRate ?? 0.5;
    this.batchSize = options.batchSize ?? 32;
    this.random = rng(options.seed ?? 1);
    this.blockMs = options.blockMs ?? 0;
    // Small seeded initial weights.
    const init = rng((options.seed ?? 1) * 7919);
    for (let i = 0; i < this.w.length; i++) this.w[i] = (init() - 0.5) * 0.01;
  }

  private scores(x: Row, out: Float64Array): void {
    const { features, classes, w, b } = this;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      let s = b[c]!;
      for (let f = 0; f < features; f++) s += x[f]! * w[f * classes + c]!;
      out[c] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      out[c] = Math.exp(out[c]! - max);
      sum += out[c]!;
    }
    for (let c = 0; c < classes; c++) out[c] = out[c]! / sum;
  }

  train(trainData: Dataset<Row, number>, _valid?: Dataset<Row, number>, options: TrainOptions = {}): Promise<Metrics> {
    const until = Date.now() + this.blockMs;
    while (Date.now() < until) {
      /* synchronous CPU work, on purpose: the event loop is blocked */
    }
    const { features, classes } = this;
    const x = trainData.x;
    const y = trainData.y ?? [];
    const epochs = options.epochs ?? 1;
    const lr = options.learningRate ?? this.lr;
    const batch = options.batchSize ?? this.batchSize;
    const p = new Float64Array(classes);
    const gw = new Float64Array(features * classes);
    const gb = new Float64Array(classes);
    let loss = 0;
    let hits = 0;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const order = [...x.keys()];
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(this.random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      loss = 0;
      hits = 0;
      for (let start = 0; start < order.length; start += batch) {
        gw.fill(0);
        gb.fill(0);
        const end = Math.min(order.length, start + batch);
        for (let k = start; k < end; k++) {
          const i = order[k]!;
          const xi = x[i]!;
          const yi = y[i]!;
          this.scores(xi, p);
          loss -= Math.log(Math.max(p[yi]!, 1e-12));
          let best = 0;
          for (let c = 1; c < classes; c++) if (p[c]! > p[best]!) best = c;
          if (best === yi) hits++;
          for (let c = 0; c < classes; c++) {
            const g = p[c]! - (c === yi ? 1 : 0);
            gb[c] = gb[c]! + g;
            for (let f = 0; f < features; f++) gw[f * classes + c] = gw[f * classes + c]! + g * xi[f]!;
          }
        }
        const scale = lr / (end - start);
        for (let i = 0; i < gw.length; i++) this.w[i] = this.w[i]! - scale * gw[i]!;
        for (let c = 0; c < classes; c++) this.b[c] = this.b[c]! - scale * gb[c]!;
      }
      loss /= order.length;
      options.onEpoch?.({ epoch, epochs, metrics: { loss, accuracy: hits / order.length } });
    }
    return Promise.resolve({ loss, accuracy: hits / Math.max(1, x.length) });
  }

  predict(x: Row | readonly Row[]): Promise<number[]> {
    const rows = (Array.isArray(x[0]) ? x : [x]) as readonly Row[];
    const p = new Float64Array(this.classes);
    return Promise.resolve(
      rows.map((row) => {
        this.scores(row, p);
        let best = 0;
        for (let c = 1; c < this.classes; c++) if (p[c]! > p[best]!) best = c;
        return best;
      }),
    );
  }

  async evaluate(data: Dataset<Row, number>, _options?: EvaluateOptions): Promise<Metrics> {
    const predicted = await this.predict(data.x);
    const y = data.y ?? [];
    let hits = 0;
    predicted.forEach((c, i) => {
      if (c === y[i]) hits++;
    });
    return { accuracy: hits / Math.max(1, predicted.length) };
  }

  getWeights(): Promise<WeightRecord[]> {
    const weights: WeightRecord[] = [
      { name: 'dense/kernel', dtype: 'float32', shape: [this.features, this.classes], data: this.w.slice() },
      { name: 'dense/bias', dtype: 'float32', shape: [this.classes], data: this.b.slice() },
    ];
    this.sent.push(weights);
    return Promise.resolve(weights);
  }

  setWeights(weights: readonly WeightRecord[]): Promise<void> {
    checkSameLayout(
      [
        { name: 'dense/kernel', dtype: 'float32', shape: [this.features, this.classes], data: this.w },
        { name: 'dense/bias', dtype: 'float32', shape: [this.classes], data: this.b },
      ],
      weights,
      'SoftmaxEstimator.setWeights',
    );
    this.w = (weights[0]!.data as Float32Array).slice();
    this.b = (weights[1]!.data as Float32Array).slice();
    this.received.push(weights.map((w) => ({ ...w, data: (w.data as Float32Array).slice() })));
    return Promise.resolve();
  }

  async save(url: string): Promise<string> {
    await fsp.mkdir(url, { recursive: true });
    const file = path.join(url, 'model.json');
    const tmp = `${file}.tmp-${process.pid}`;
    await fsp.writeFile(tmp, JSON.stringify({ w: Array.from(this.w), b: Array.from(this.b) }));
    await fsp.rename(tmp, file);
    return url;
  }

  async load(url: string): Promise<void> {
    const { w, b } = JSON.parse(await fsp.readFile(path.join(url, 'model.json'), 'utf8')) as {
      w: number[];
      b: number[];
    };
    this.w = Float32Array.from(w);
    this.b = Float32Array.from(b);
  }

  modelInfo(url: string, options: ModelInfoOptions = {}): ModelResultEntry[] {
    const prefix = options.dataPathPrefix;
    const strip = (u: string): string =>
      prefix !== undefined && prefix !== '' && u.startsWith(prefix) ? u.slice(prefix.length) || '/' : u;
    return [{ format: 'json', url: strip(path.join(url, 'model.json')), metrics: options.metrics ?? null }];
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

export interface Digits {
  train: { x: number[][]; y: number[] };
  test: { x: number[][]; y: number[] };
}

function readDigits(file: string): { x: number[][]; y: number[] } {
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n').slice(1);
  const x: number[][] = [];
  const y: number[] = [];
  for (const line of lines) {
    const cells = line.split(',').map(Number);
    y.push(cells.pop()!);
    x.push(cells.map((v) => v / 16));
  }
  return { x, y };
}

/** The bundled digits split (test/fixtures/data), pixels scaled to [0, 1]. */
export function loadDigits(): Digits {
  const dir = path.join(ROOT, 'test', 'fixtures', 'data');
  return { train: readDigits(path.join(dir, 'digits-train.csv')), test: readDigits(path.join(dir, 'digits-test.csv')) };
}

/** Disjoint, label-skewed shards: shard k gets the samples whose label falls in its range, plus a few others. */
export function skewedShards(
  data: { x: number[][]; y: number[] },
  shards: number,
  mix = 0.1,
  seed = 3,
): { x: number[][]; y: number[] }[] {
  const random = rng(seed);
  const out = Array.from({ length: shards }, () => ({ x: [] as number[][], y: [] as number[] }));
  data.x.forEach((row, i) => {
    const label = data.y[i]!;
    const home = Math.min(shards - 1, Math.floor((label * shards) / 10));
    const k = random() < mix ? Math.floor(random() * shards) : home;
    out[k]!.x.push(row);
    out[k]!.y.push(label);
  });
  return out;
}
