/**
 * Shared pieces of the incremental-learning tests: TF.js models whose answers tell them apart, a
 * tiny file-backed estimator for the hot-update mechanics, and the hot-update file as the LC writes it.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Dataset, Estimator, Metrics, ModelResultEntry } from '../../src/backend/estimator.js';
import { TfjsEstimator } from '../../src/backend/tfjs.js';
import { SednaError } from '../../src/common/errors.js';
import type { WeightRecord } from '../../src/backend/weights.js';
import { MLP_TFJS } from './backend-fixtures.js';

/**
 * TF.js model folders, one per class in `classes`: the digits MLP with that class's output bias
 * raised by 100, so the model answers that class for every input.
 */
export async function constantModels(dir: string, classes: readonly number[]): Promise<string[]> {
  const base = await TfjsEstimator.create({ modelUrl: MLP_TFJS });
  try {
    const weights = await base.getWeights();
    const out: string[] = [];
    for (const c of classes) {
      const changed = weights.map((w): WeightRecord => {
        if (w.name !== 'output/bias') return w;
        const data = Float32Array.from(w.data as Float32Array);
        data[c] = (data[c] as number) + 100;
        return { ...w, data };
      });
      await base.setWeights(changed);
      out.push(await base.save(path.join(dir, `class-${c}`)));
    }
    return out;
  } finally {
    await base.close();
  }
}

/**
 * Go's `time.Now().String()` for `date` (UTC), as the LC writes `model_update_time`, with a
 * monotonic-clock suffix like the real one.
 */
export function goTime(date: Date, monotonic = 1.5): string {
  const iso = date.toISOString(); // 2024-06-01T12:00:00.123Z
  // Go trims trailing zeros of the fraction; real readings have nanoseconds, so end on a non-zero digit.
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${iso.slice(20, 23)}417293 +0000 UTC m=+${monotonic.toFixed(9)}`;
}

/** Writes the hot-update file the way the LC does: in place, `json.MarshalIndent(config, "", " ")`. */
export async function writeHotUpdateConfig(file: string, modelPath: string, updateTime: string): Promise<void> {
  const config = { model_config: { model_path: modelPath, model_update_time: updateTime } };
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, JSON.stringify(config, null, 1));
}

/**
 * A model file `{"answer": n}`; the estimator answers n. Used where the mechanics matter, not the math.
 */
export function writeAnswerModel(file: string, answer: number): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ answer }));
  return file;
}

/**
 * An estimator that answers the number in its model file. `gate` (when set) holds predictions
 * until it resolves, so a test can keep a request in flight across a hot swap.
 */
export class AnswerEstimator implements Estimator<unknown, unknown, number> {
  readonly backend = 'answer';
  answer: number | undefined;
  closed = false;
  loads = 0;
  gate: Promise<void> | undefined;
  /** Resolves when close() is called. */
  readonly whenClosed: Promise<void>;
  private markClosed!: () => void;

  constructor() {
    this.whenClosed = new Promise((resolve) => (this.markClosed = resolve));
  }

  async load(url: string): Promise<void> {
    const text = await fsp.readFile(url, 'utf8').catch((err: unknown) => {
      throw new SednaError('SEDNA_ERR_MODEL_NOT_FOUND', `no model at ${url}`, { cause: err });
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new SednaError('SEDNA_ERR_MODEL_INVALID', `corrupt model ${url}`, { cause: err });
    }
    const answer = (parsed as { answer?: unknown }).answer;
    if (typeof answer !== 'number') throw new SednaError('SEDNA_ERR_MODEL_INVALID', `corrupt model ${url}`);
    this.answer = answer;
    this.loads++;
  }

  async predict(): Promise<number> {
    const answer = this.answer;
    if (this.gate !== undefined) await this.gate;
    if (this.closed) throw new SednaError('SEDNA_ERR_CLOSED', 'closed while predicting');
    if (answer === undefined) throw new SednaError('SEDNA_ERR_MODEL_NOT_LOADED', 'no model');
    return answer;
  }

  train(): Promise<Metrics> {
    return Promise.resolve({});
  }

  evaluate(data: Dataset): Promise<Metrics> {
    return Promise.resolve({ accuracy: (this.answer ?? 0) / Math.max(1, data.x.length) });
  }

  async save(url: string): Promise<string> {
    await fsp.writeFile(url, JSON.stringify({ answer: this.answer }));
    return url;
  }

  getWeights(): Promise<WeightRecord[]> {
    return Promise.resolve([]);
  }

  setWeights(): Promise<void> {
    return Promise.resolve();
  }

  modelInfo(url: string, options: { dataPathPrefix?: string; metrics?: Metrics | null } = {}): ModelResultEntry[] {
    return [{ format: 'json', url, metrics: options.metrics ?? null }];
  }

  close(): Promise<void> {
    this.closed = true;
    this.markClosed();
    return Promise.resolve();
  }
}

/** A Sedna txt dataset: one JSON sample file per line, `<relative path> <label>`; returns the index file. */
export async function writeTxtDataset(
  dir: string,
  name: string,
  x: readonly number[][],
  y: readonly number[],
): Promise<string> {
  await fsp.mkdir(path.join(dir, name), { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < x.length; i++) {
    await fsp.writeFile(path.join(dir, name, `${i}.json`), JSON.stringify([x[i]]));
    lines.push(`${name}/${i}.json ${y[i]}`);
  }
  const index = path.join(dir, `${name}.txt`);
  await fsp.writeFile(index, `${lines.join('\n')}\n`);
  return index;
}
