// The TF.js backend on the committed digits fixture, with the backend TF.js picks here (wasm:
// tfjs-node cannot install on these machines).
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TfjsEstimator, accuracy, loadTfjs, type Tf } from '../../src/backend/tfjs.js';
import type { EpochProgress } from '../../src/backend/estimator.js';
import {
  MLP_TFJS,
  bytesOf,
  listFiles,
  loadDigits,
  manifestEntry,
  readTfjsWeightsFile,
  sameWeights,
  scaleDigitsBatch,
} from '../helpers/backend-fixtures.js';
import { rejectionOf } from '../helpers/errors.js';
import { digitsModel } from '../../src/cli/simulate/fl.js';

const train = loadDigits('train');
const test = loadDigits('test');
let tmp: string;
const open: TfjsEstimator[] = [];

async function estimator(options: Parameters<typeof TfjsEstimator.create>[0]): Promise<TfjsEstimator> {
  const e = await TfjsEstimator.create(options);
  open.push(e);
  return e;
}

/** The fixture's architecture (the digits MLP), freshly initialised (seeded so runs repeat). */
const mlp = (tf: Tf, hidden = 128): ReturnType<Tf['sequential']> => digitsModel(tf, { hidden, seed: 1 });

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sedna-tfjs-'));
});

afterAll(async () => {
  await Promise.all(open.map((e) => e.close()));
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe('backend selection', () => {
  it('falls through tfjs-node (not installed here) to wasm, once per process, without process handlers', async () => {
    const listeners = ['uncaughtException', 'unhandledRejection'].map(
      (e) => process.listeners(e as 'uncaughtException').length,
    );
    const runtime = await loadTfjs();
    expect(runtime.backend).toBe('wasm');
    expect(runtime.skipped.map((s) => s.backend)).toEqual(['tensorflow']);
    expect(runtime.skipped[0]?.reason).toMatch(/tfjs-node/);
    expect(runtime.tf.getBackend()).toBe('wasm');
    expect(await loadTfjs(['cpu'])).toBe(runtime); // the first selection stands
    // Emscripten's rethrowing process handlers are removed again.
    expect(
      ['uncaughtException', 'unhandledRejection'].map((e) => process.listeners(e as 'uncaughtException').length),
    ).toEqual(listeners);
  });
});

describe('the digits fixture', () => {
  it('loads the saved MLP and classifies the held-out split above its floor (97 %)', async () => {
    const e = await estimator({ modelUrl: MLP_TFJS });
    expect(e.tfBackend).toBe('wasm');
    const probabilities = await e.predict(test.x);
    expect(probabilities).toHaveLength(test.x.length);
    const acc = accuracy(test.y, probabilities);
    expect(acc).toBeGreaterThanOrEqual(0.97);
    expect(acc).toBeCloseTo(manifestEntry('digits-mlp-tfjs').testAccuracy, 10);
    // Its weights are the files' bytes.
    expect(sameWeights(await e.getWeights(), readTfjsWeightsFile())).toBe(true);
  });

  it('predicts from rows or a Float32Array with dims alike, in chunks when asked', async () => {
    const e = await estimator({ modelUrl: path.join(MLP_TFJS, 'model.json') });
    const rows = await e.predict(test.x.slice(0, 7));
    expect(await e.predict({ data: scaleDigitsBatch(test.pixels.slice(0, 7)), dims: [7, 64] })).toEqual(rows);
    expect(await e.predict(test.x.slice(0, 7), { batchSize: 3 })).toEqual(rows);
    expect(await e.predict([])).toEqual([]);
  });

  it('evaluates with accuracy by default and with user metrics', async () => {
    const e = await estimator({ modelUrl: MLP_TFJS });
    const { accuracy: acc } = await e.evaluate(test);
    const metrics = await e.evaluate(test, {
      metrics: {
        accuracy: (y, p) => accuracy(y as number[], p),
        meanConfidence: (_y, p) => p.reduce((s, row) => s + Math.max(...row), 0) / p.length,
      },
    });
    expect(metrics.accuracy).toBe(acc);
    expect(metrics.meanConfidence).toBeGreaterThan(0.5);
    expect(metrics.meanConfidence).toBeLessThanOrEqual(1);
  });

  it('does not leak tensors across predict and evaluate calls', async () => {
    const e = await estimator({ modelUrl: MLP_TFJS });
    await e.predict(test.x.slice(0, 2)); // warm-up
    const before = e.tf.memory().numTensors;
    for (let i = 0; i < 20; i++) await e.predict(test.x.slice(i, i + 5));
    await e.evaluate(test);
    await e.getWeights();
    expect(e.tf.memory().numTensors).toBe(before);
  });
});

describe('training', () => {
  it('improves accuracy over epochs and reports every epoch once through onEpoch', async () => {
    const e = await estimator({ model: (tf) => mlp(tf, 32) });
    const before = (await e.evaluate(test)).accuracy as number;
    const progress: EpochProgress[] = [];
    const metrics = await e.train(train, test, {
      epochs: 4,
      batchSize: 64,
      learningRate: 0.01,
      onEpoch: (p) => progress.push(p),
    });
    expect(progress.map((p) => [p.epoch, p.epochs])).toEqual([
      [1, 4],
      [2, 4],
      [3, 4],
      [4, 4],
    ]);
    expect(progress.every((p) => typeof p.metrics.loss === 'number' && typeof p.metrics.val_acc === 'number')).toBe(
      true,
    );
    // Loss goes down, and the model learns the task.
    expect(progress[3]!.metrics.loss).toBeLessThan(progress[0]!.metrics.loss!);
    expect(metrics).toEqual(progress[3]!.metrics);
    const after = (await e.evaluate(test)).accuracy as number;
    expect(before).toBeLessThan(0.5);
    expect(after).toBeGreaterThan(0.9);
  });

  it('keeps the tensor count flat across training', async () => {
    const e = await estimator({ model: (tf) => mlp(tf, 16) });
    await e.train(train, undefined, { epochs: 1, batchSize: 256 });
    const before = e.tf.memory().numTensors;
    await e.train(train, test, { epochs: 2, batchSize: 256 });
    expect(e.tf.memory().numTensors).toBe(before);
  });

  it('stops between batches when the signal aborts', async () => {
    const e = await estimator({ model: (tf) => mlp(tf, 16) });
    const controller = new AbortController();
    const epochs: number[] = [];
    const run = e.train(train, undefined, {
      epochs: 50,
      batchSize: 16,
      signal: controller.signal,
      onEpoch: (p) => {
        epochs.push(p.epoch);
        controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(epochs.length).toBeLessThanOrEqual(2);
    await expect(e.train(train, undefined, { signal: controller.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('rejects labels that do not match the samples', async () => {
    const e = await estimator({ model: (tf) => mlp(tf, 8) });
    expect((await rejectionOf(e.train({ x: train.x, y: train.y.slice(1) }))).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect((await rejectionOf(e.train({ x: [], y: [] }))).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
  });
});

describe('weights', () => {
  it('getWeights/setWeights round-trip bit-exactly into a fresh model', async () => {
    const source = await estimator({ modelUrl: MLP_TFJS });
    const weights = await source.getWeights();
    expect(weights.map((w) => [w.name, w.dtype, w.shape])).toEqual([
      ['hidden/kernel', 'float32', [64, 128]],
      ['hidden/bias', 'float32', [128]],
      ['output/kernel', 'float32', [128, 10]],
      ['output/bias', 'float32', [10]],
    ]);
    const target = await estimator({ model: (tf) => mlp(tf) });
    await target.setWeights(weights);
    const back = await target.getWeights();
    back.forEach((w, i) => expect(Buffer.compare(bytesOf(w.data), bytesOf(weights[i]!.data))).toBe(0));
    expect(await target.predict(test.x)).toEqual(await source.predict(test.x));
    // The records stay the caller's: changing them later does not touch the model.
    (weights[3]!.data as Float32Array).fill(99);
    expect(sameWeights(await target.getWeights(), back)).toBe(true);
  });

  it('setWeights with another layout fails with SEDNA_ERR_WEIGHTS_MISMATCH', async () => {
    const e = await estimator({ model: (tf) => mlp(tf, 8) });
    const w = await e.getWeights();
    const wrong = [
      w.slice(0, 3),
      [...w.slice(0, 3), { name: 'output/bias', dtype: 'float32' as const, shape: [11], data: new Float32Array(11) }],
      [...w.slice(0, 3), { name: 'output/bias', dtype: 'float64' as const, shape: [10], data: new Float64Array(10) }],
    ];
    for (const weights of wrong)
      expect((await rejectionOf(e.setWeights(weights))).code).toBe('SEDNA_ERR_WEIGHTS_MISMATCH');
    expect(sameWeights(await e.getWeights(), w)).toBe(true);
  });
});

describe('save, load and modelInfo', () => {
  it('saves model.json + weights.bin atomically and loads them back bit-exactly', async () => {
    const e = await estimator({ model: (tf) => mlp(tf, 16) });
    await e.train(train, undefined, { epochs: 1, batchSize: 128 });
    const dir = path.join(tmp, 'saved');
    expect(await e.save(dir)).toBe(dir);
    expect(listFiles(dir)).toEqual(['model.json', 'weights.bin']);
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('.'))).toEqual([]); // no temp folders left
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as {
      format: string;
      weightsManifest: { paths: string[] }[];
    };
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest[0]?.paths).toEqual(['weights.bin']);

    const loaded = await estimator({ modelUrl: `file://${dir}` });
    expect(sameWeights(await loaded.getWeights(), await e.getWeights())).toBe(true);
    expect(await loaded.predict(test.x.slice(0, 10))).toEqual(await e.predict(test.x.slice(0, 10)));
    // A loaded model trains on (its training config travels in model.json).
    await loaded.train(train, undefined, { epochs: 1, batchSize: 256 });
  });

  it('model.json alone is a whole model (weights embedded), as the LC copies it to deploy', async () => {
    const e = await estimator({ model: (tf) => mlp(tf, 8) });
    const dir = path.join(tmp, 'embedded');
    await e.save(dir);
    const lone = path.join(tmp, 'deployed-copy.json');
    fs.copyFileSync(path.join(dir, 'model.json'), lone); // no weights.bin next to it
    const loaded = await estimator({ modelUrl: lone });
    expect(sameWeights(await loaded.getWeights(), await e.getWeights())).toBe(true);

    const json = JSON.parse(fs.readFileSync(lone, 'utf8')) as { weightDataBase64: string };
    fs.writeFileSync(lone, JSON.stringify({ ...json, weightDataBase64: json.weightDataBase64.slice(0, 100) }));
    const truncated = await rejectionOf(TfjsEstimator.create({ modelUrl: lone }));
    expect(truncated.code).toBe('SEDNA_ERR_MODEL_INVALID');

    const plain = await TfjsEstimator.create({ model: (tf) => mlp(tf, 8), embedWeights: false });
    await plain.save(path.join(tmp, 'plain'));
    expect(
      Object.keys(JSON.parse(fs.readFileSync(path.join(tmp, 'plain', 'model.json'), 'utf8')) as object),
    ).not.toContain('weightDataBase64');
    await plain.close();
  });

  it('saving over an existing model replaces the whole folder', async () => {
    const dir = path.join(tmp, 'replace');
    const first = await estimator({ model: (tf) => mlp(tf, 8) });
    await first.save(dir);
    fs.writeFileSync(path.join(dir, 'stale.txt'), 'old');
    const second = await estimator({ model: (tf) => mlp(tf, 12) });
    await second.save(path.join(dir, 'model.json'));
    expect(listFiles(dir)).toEqual(['model.json', 'weights.bin']);
    const loaded = await estimator({ modelUrl: dir });
    expect((await loaded.getWeights())[0]?.shape).toEqual([64, 12]);
  });

  it('a modelUrl that is empty or not a string is SEDNA_ERR_INVALID_ARGUMENT', async () => {
    for (const modelUrl of ['', 42])
      expect((await rejectionOf(TfjsEstimator.create({ modelUrl: modelUrl as string }))).code).toBe(
        'SEDNA_ERR_INVALID_ARGUMENT',
      );
  });

  it('modelInfo names the model.json file and the folder, DATA_PATH_PREFIX removed', async () => {
    const e = await estimator({ model: (tf) => mlp(tf, 8) });
    expect(e.modelInfo('/home/data/models/digits/', { dataPathPrefix: '/home/data', metrics: { acc: 0.9 } })).toEqual([
      { format: 'json', url: '/models/digits/model.json', metrics: { acc: 0.9 } },
      { format: 'tfjs', url: '/models/digits', metrics: { acc: 0.9 } },
    ]);
    expect(e.modelInfo('/home/data/models/digits/model.json')).toEqual([
      { format: 'json', url: '/home/data/models/digits/model.json', metrics: null },
      { format: 'tfjs', url: '/home/data/models/digits', metrics: null },
    ]);
  });
});

describe('bad models and misuse', () => {
  it('a missing model is SEDNA_ERR_MODEL_NOT_FOUND naming the path', async () => {
    const missing = path.join(tmp, 'missing-model');
    const err = await rejectionOf(TfjsEstimator.create({ modelUrl: missing }));
    expect(err.code).toBe('SEDNA_ERR_MODEL_NOT_FOUND');
    expect(err.message).toContain(path.join(missing, 'model.json'));
  });

  it('a corrupt model.json or truncated weights.bin is SEDNA_ERR_MODEL_INVALID naming the file', async () => {
    const dir = path.join(tmp, 'corrupt');
    fs.cpSync(MLP_TFJS, dir, { recursive: true });
    const json = fs.readFileSync(path.join(dir, 'model.json'));
    fs.writeFileSync(path.join(dir, 'model.json'), json.subarray(0, json.length - 20));
    const badJson = await rejectionOf(TfjsEstimator.create({ modelUrl: dir }));
    expect(badJson.code).toBe('SEDNA_ERR_MODEL_INVALID');
    expect(badJson.message).toContain(path.join(dir, 'model.json'));

    fs.writeFileSync(path.join(dir, 'model.json'), json);
    const weights = fs.readFileSync(path.join(dir, 'weights.bin'));
    fs.writeFileSync(path.join(dir, 'weights.bin'), weights.subarray(0, 1000));
    const badWeights = await rejectionOf(TfjsEstimator.create({ modelUrl: dir }));
    expect(badWeights.code).toBe('SEDNA_ERR_MODEL_INVALID');
    expect(badWeights.message).toContain('1000 bytes');

    fs.writeFileSync(path.join(dir, 'model.json'), '{"hello": "world"}');
    expect((await rejectionOf(TfjsEstimator.create({ modelUrl: dir }))).code).toBe('SEDNA_ERR_MODEL_INVALID');
  });

  it('a wrong input shape is SEDNA_ERR_SHAPE_MISMATCH showing the expected shape', async () => {
    const e = await estimator({ modelUrl: MLP_TFJS });
    const before = e.tf.memory().numTensors;
    const rows = await rejectionOf(e.predict([test.x[0]!.slice(0, 63)]));
    expect(rows.code).toBe('SEDNA_ERR_SHAPE_MISMATCH');
    expect(rows.message).toContain('expects float32 [N, 64]');
    const dims = await rejectionOf(e.predict({ data: new Float32Array(64), dims: [2, 32] }));
    expect(dims.code).toBe('SEDNA_ERR_SHAPE_MISMATCH');
    expect(e.tf.memory().numTensors).toBe(before);
  });

  it('without a model: SEDNA_ERR_MODEL_NOT_LOADED', async () => {
    const e = await estimator({});
    expect((await rejectionOf(e.predict(test.x))).code).toBe('SEDNA_ERR_MODEL_NOT_LOADED');
    expect((await rejectionOf(e.train(train))).code).toBe('SEDNA_ERR_MODEL_NOT_LOADED');
  });

  it('after close() every use is SEDNA_ERR_CLOSED; close is idempotent', async () => {
    const e = await TfjsEstimator.create({ modelUrl: MLP_TFJS });
    const before = e.tf.memory().numTensors;
    await e.close();
    await e.close();
    expect(e.tf.memory().numTensors).toBeLessThan(before); // the model's variables are gone
    for (const call of [
      () => e.predict(test.x),
      () => e.evaluate(test),
      () => e.train(train),
      () => e.load(MLP_TFJS),
      () => e.save(path.join(tmp, 'closed')),
      () => e.getWeights(),
      () => e.setWeights([]),
    ]) {
      expect((await rejectionOf(call())).code).toBe('SEDNA_ERR_CLOSED');
    }
  });
});
