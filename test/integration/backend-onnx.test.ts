// The ONNX backend on the committed digits fixtures, through the real onnxruntime-node.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OnnxEstimator, accuracy } from '../../src/backend/onnx.js';
import { encodeModel, decodeModel } from '../../src/backend/onnx-proto.js';
import type { WeightRecord } from '../../src/backend/weights.js';
import {
  CLOUD_ONNX,
  EDGE_ONNX,
  fixtureManifest,
  listFiles,
  loadDigits,
  manifestEntry,
  readTfjsWeightsFile,
  sameWeights,
  scaleDigitsBatch,
  sha256,
} from '../helpers/backend-fixtures.js';
import { rejectionOf } from '../helpers/errors.js';

const test = loadDigits('test');
let tmp: string;
const open: OnnxEstimator[] = [];

async function estimator(modelUrl?: string): Promise<OnnxEstimator> {
  const e = await OnnxEstimator.create(modelUrl === undefined ? {} : { modelUrl });
  open.push(e);
  return e;
}

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sedna-onnx-'));
});

afterAll(async () => {
  await Promise.all(open.map((e) => e.close()));
  await fsp.rm(tmp, { recursive: true, force: true });
});

describe('the digits fixtures', () => {
  // Floors below the fixtures' measured accuracies (manifest.json: edge 90.3 %, cloud 98.9 %).
  it.each([
    ['digits-edge.onnx', EDGE_ONNX, 0.85],
    ['digits-cloud.onnx', CLOUD_ONNX, 0.97],
  ])('%s classifies the held-out split above its floor, as the fixture script measured', async (file, url, floor) => {
    const e = await estimator(url);
    expect(e.inputs).toEqual([{ name: 'input', type: 'float32', shape: ['N', 64] }]);
    expect(e.outputs).toEqual([{ name: 'probabilities', type: 'float32', shape: ['N', 10] }]);
    const probabilities = await e.predict(test.x);
    expect(probabilities).toHaveLength(test.x.length);
    expect(probabilities[0]).toHaveLength(10);
    const sum = (probabilities[0] as number[]).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 5);
    const acc = accuracy(test.y, probabilities);
    expect(acc).toBeGreaterThanOrEqual(floor);
    expect(acc).toBeCloseTo(manifestEntry(file).testAccuracy, 10);
  });

  it('the pair suits joint inference: a CrossEntropy filter on the edge uploads <= 30 % and gains 5+ points', async () => {
    const [edge, cloud] = await Promise.all([estimator(EDGE_ONNX), estimator(CLOUD_ONNX)]);
    const [edgeP, cloudP] = await Promise.all([edge.predict(test.x), cloud.predict(test.x)]);
    const edgeAcc = accuracy(test.y, edgeP);
    expect(accuracy(test.y, cloudP) - edgeAcc).toBeGreaterThan(0.05);
    // 1 - normalised entropy of each edge answer; hard below the threshold (0.75, see the fixtures README).
    const confidence = edgeP.map(
      (p) => 1 + p.reduce((s, v) => s + (v > 0 ? v * Math.log(v) : 0), 0) / Math.log(p.length),
    );
    const hard = confidence.map((c) => c < 0.75);
    const joint = accuracy(
      test.y,
      edgeP.map((p, i) => (hard[i] === true ? cloudP[i]! : p)),
    );
    expect(hard.filter(Boolean).length / hard.length).toBeLessThanOrEqual(0.3);
    expect(joint - edgeAcc).toBeGreaterThan(0.05);
    const fromManifest = fixtureManifest().jointInference.thresholds.find((t) => t.threshold === 0.75);
    expect(joint).toBeCloseTo(fromManifest!.jointAccuracy, 10);
  });
});

describe('predict', () => {
  let cloud: OnnxEstimator;
  beforeAll(async () => {
    cloud = await estimator(CLOUD_ONNX);
  });

  it('accepts rows, a Float32Array with dims, and named inputs, with the same results', async () => {
    const rows = test.x.slice(0, 5);
    const byRows = await cloud.predict(rows);
    const byTensor = await cloud.predict({ data: scaleDigitsBatch(test.pixels.slice(0, 5)), dims: [5, 64] });
    const byName = await cloud.predict({ input: rows });
    const byNamedTensor = await cloud.predict({
      input: { data: scaleDigitsBatch(test.pixels.slice(0, 5)), dims: [5, 64] },
    });
    expect(byTensor).toEqual(byRows);
    expect(byName).toEqual(byRows);
    expect(byNamedTensor).toEqual(byRows);
  });

  it('runs large batches in chunks when asked, with the same results', async () => {
    const whole = await cloud.predict(test.x);
    expect(await cloud.predict(test.x, { batchSize: 50 })).toEqual(whole);
    expect(await cloud.predict([])).toEqual([]);
  });

  it('run() returns every output by name as typed arrays with dims', async () => {
    const out = await cloud.run(test.x.slice(0, 3));
    expect(Object.keys(out)).toEqual(['probabilities']);
    const p = out.probabilities;
    expect(p?.type).toBe('float32');
    expect(p?.dims).toEqual([3, 10]);
    expect(p?.data).toHaveLength(30);
  });

  it('rejects a wrong input shape with SEDNA_ERR_SHAPE_MISMATCH showing the expected shape', async () => {
    const short = await rejectionOf(cloud.predict([test.x[0]!.slice(0, 63)]));
    expect(short.code).toBe('SEDNA_ERR_SHAPE_MISMATCH');
    expect(short.message).toContain('expects float32 [N, 64]');
    expect(short.message).toContain('row 0 has 63 values');

    const dims = await rejectionOf(cloud.predict({ data: new Float32Array(2 * 32), dims: [2, 32] }));
    expect(dims.code).toBe('SEDNA_ERR_SHAPE_MISMATCH');
    expect(dims.details).toMatchObject({ expected: { type: 'float32', shape: ['N', 64] }, actual: { shape: [2, 32] } });

    const rank = await rejectionOf(cloud.predict({ data: new Float32Array(64), dims: [64] }));
    expect(rank.message).toContain('rank 1, expected 2');

    const count = await rejectionOf(cloud.predict({ data: new Float32Array(10), dims: [1, 64] }));
    expect(count.message).toContain('10 values for 64 elements');

    const dtype = await rejectionOf(cloud.predict({ data: new Float64Array(64), dims: [1, 64] }));
    expect(dtype.code).toBe('SEDNA_ERR_SHAPE_MISMATCH');
    expect(dtype.message).toContain('got float64');

    const flat = await rejectionOf(cloud.predict(test.x[0] as unknown as number[][]));
    expect(flat.code).toBe('SEDNA_ERR_SHAPE_MISMATCH');
  });

  it('rejects unknown or missing named inputs with SEDNA_ERR_INVALID_ARGUMENT', async () => {
    expect((await rejectionOf(cloud.predict({ pixels: test.x.slice(0, 1) }))).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect((await rejectionOf(cloud.predict({}))).message).toContain('missing input');
  });

  it('handles Int64 and Float32 named inputs on a multi-input model', async () => {
    // out = float(ids) * scale, built with our own writer: inputs ids int64 [N, 3], scale float32 [N, 1].
    const bytes = encodeModel({
      name: 'scale_ids',
      nodes: [
        { opType: 'Cast', inputs: ['ids'], outputs: ['ids_f'], attributes: { to: 1 } },
        { opType: 'Mul', inputs: ['ids_f', 'scale'], outputs: ['out'] },
      ],
      inputs: [
        { name: 'ids', dtype: 'int64', shape: ['N', 3] },
        { name: 'scale', dtype: 'float32', shape: ['N', 1] },
      ],
      outputs: [{ name: 'out', dtype: 'float32', shape: ['N', 3] }],
      initializers: [],
    });
    const e = await estimator();
    await e.loadBytes(bytes, 'scale_ids.onnx');
    const feeds = {
      ids: { data: new BigInt64Array([1n, 2n, 3n, -4n, 5n, 6n]), dims: [2, 3] },
      scale: { data: new Float32Array([0.5, 2]), dims: [2, 1] },
    };
    expect(await e.predict(feeds)).toEqual([
      [0.5, 1, 1.5],
      [-8, 10, 12],
    ]);
    // Rows convert to each input's own element type.
    expect(await e.predict({ ids: [[1, 2, 3]], scale: [[3]] })).toEqual([[3, 6, 9]]);
    expect(await e.getWeights()).toEqual([]);
    // A bare batch is ambiguous with two inputs.
    expect((await rejectionOf(e.predict([[1, 2, 3]]))).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    // Int64 rows must hold integers; Float32 data for an int64 input is a type mismatch.
    expect((await rejectionOf(e.predict({ ids: [[1.5, 2, 3]], scale: [[1]] }))).code).toBe('SEDNA_ERR_SHAPE_MISMATCH');
    const wrongType = await rejectionOf(e.predict({ ids: { data: new Float32Array(3), dims: [1, 3] }, scale: [[1]] }));
    expect(wrongType.message).toContain('input "ids" expects int64 [N, 3], got float32');

    // Int64 outputs: numbers from predict(), the BigInt64Array itself from run().
    await e.loadBytes(
      encodeModel({
        name: 'identity',
        nodes: [{ opType: 'Identity', inputs: ['ids'], outputs: ['same'] }],
        inputs: [{ name: 'ids', dtype: 'int64', shape: ['N', 2] }],
        outputs: [{ name: 'same', dtype: 'int64', shape: ['N', 2] }],
        initializers: [],
      }),
    );
    expect(
      await e.predict([
        [7, -8],
        [9, 10],
      ]),
    ).toEqual([
      [7, -8],
      [9, 10],
    ]);
    expect((await e.run([[7, -8]])).same?.data).toEqual(new BigInt64Array([7n, -8n]));
  });
});

describe('evaluate', () => {
  it('reports accuracy by default and any user metric functions by name', async () => {
    const e = await estimator(EDGE_ONNX);
    expect(await e.evaluate(test)).toEqual({ accuracy: accuracy(test.y, await e.predict(test.x)) });
    const metrics = await e.evaluate(test, {
      metrics: {
        accuracy,
        errors: (y, p) => y.filter((label, i) => p[i]!.indexOf(Math.max(...p[i]!)) !== label).length,
        recall: (y, p) =>
          Array.from({ length: 10 }, (_, c) => {
            const ofClass = y.map((label, i) => [label, i] as const).filter(([label]) => label === c);
            return ofClass.filter(([, i]) => p[i]!.indexOf(Math.max(...p[i]!)) === c).length / ofClass.length;
          }),
      },
      batchSize: 64,
    });
    expect(metrics.errors).toBe(Math.round((1 - (metrics.accuracy as number)) * test.y.length));
    expect(metrics.recall).toHaveLength(10);
    expect(Object.isFrozen(metrics)).toBe(true);
  });

  it('fails with SEDNA_ERR_METRIC when a metric throws or returns a non-number', async () => {
    const e = await estimator(EDGE_ONNX);
    const thrown = await rejectionOf(
      e.evaluate(test, {
        metrics: {
          boom: () => {
            throw new Error('bad metric');
          },
        },
      }),
    );
    expect(thrown.code).toBe('SEDNA_ERR_METRIC');
    expect(thrown.message).toContain('metric "boom" threw: bad metric');
    const nan = await rejectionOf(e.evaluate(test, { metrics: { nan: () => NaN } }));
    expect(nan.message).toContain('metric "nan" returned');
  });

  it('needs one label per sample', async () => {
    const e = await estimator(EDGE_ONNX);
    expect((await rejectionOf(e.evaluate({ x: test.x }))).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect((await rejectionOf(e.evaluate({ x: test.x, y: test.y.slice(1) }))).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    // Generic job code may hand over batches as samples; they are rejected, not misread.
    const batches = await rejectionOf(e.evaluate({ x: [test.x.slice(0, 2)], y: [0] }));
    expect(batches.code).toBe('SEDNA_ERR_SHAPE_MISMATCH');
    expect(batches.message).toContain('one row of numbers per sample');
  });
});

describe('weights', () => {
  it('getWeights returns the initializers the fixture script wrote (bit-exact)', async () => {
    const cloud = await estimator(CLOUD_ONNX);
    const weights = await cloud.getWeights();
    // The cloud ONNX model was exported from the TF.js fixture: same tensors, byte for byte.
    expect(sameWeights(weights, readTfjsWeightsFile())).toBe(true);
    expect(weights.map((w) => w.name)).toEqual(['hidden/kernel', 'hidden/bias', 'output/kernel', 'output/bias']);
    for (const file of ['digits-edge.onnx', 'digits-cloud.onnx']) {
      const e = await estimator(file === 'digits-edge.onnx' ? EDGE_ONNX : CLOUD_ONNX);
      const got = (await e.getWeights()).map((w) => ({
        name: w.name,
        dtype: w.dtype,
        shape: w.shape,
        sha256: sha256(w.data),
      }));
      expect(got).toEqual(manifestEntry(file).initializers);
    }
  });

  it('getWeights hands out copies the caller may change', async () => {
    const e = await estimator(EDGE_ONNX);
    const first = await e.getWeights();
    (first[0]!.data as Float32Array).fill(0);
    expect(sha256((await e.getWeights())[0]!.data)).toBe(manifestEntry('digits-edge.onnx').initializers![0]!.sha256);
  });

  it('setWeights rewrites the initializers and rebuilds the session; setting them back restores the model exactly', async () => {
    const e = await estimator(EDGE_ONNX);
    const original = await e.getWeights();
    const before = await e.predict(test.x);
    // Make class 3 win everywhere through a huge bias.
    const bias = Float32Array.from(original[1]!.data as Float32Array);
    bias[3] = 1000;
    await e.setWeights([original[0]!, { ...original[1]!, data: bias }]);
    expect(new Set((await e.predict(test.x)).map((p) => p.indexOf(Math.max(...p))))).toEqual(new Set([3]));
    expect((await e.getWeights())[1]!.data[3]).toBe(1000);

    await e.setWeights(original);
    expect(await e.predict(test.x)).toEqual(before);
    expect(sameWeights(await e.getWeights(), original)).toBe(true);
    // The rewritten model still passes through save/load.
    const saved = await e.save(path.join(tmp, 'rewritten.onnx'));
    expect(decodeModel(fs.readFileSync(saved)).opTypes).toEqual(['MatMul', 'Add', 'Softmax']);
  });

  it('setWeights with another layout fails with SEDNA_ERR_WEIGHTS_MISMATCH and keeps the model', async () => {
    const e = await estimator(EDGE_ONNX);
    const w = await e.getWeights();
    const before = await e.predict(test.x.slice(0, 4));
    const cases: WeightRecord[][] = [
      [w[0]!],
      [w[0]!, { name: 'edge/bias', dtype: 'float32', shape: [11], data: new Float32Array(11) }],
      [w[0]!, { name: 'edge/bias', dtype: 'float64', shape: [10], data: new Float64Array(10) }],
      [w[0]!, { name: 'edge/bias', dtype: 'float32', shape: [10], data: new Float32Array(9) }],
    ];
    for (const weights of cases) {
      const err = await rejectionOf(e.setWeights(weights));
      expect(err.code).toBe('SEDNA_ERR_WEIGHTS_MISMATCH');
    }
    expect(await e.predict(test.x.slice(0, 4))).toEqual(before);
  });
});

describe('save, load and modelInfo', () => {
  it('saves the model bytes atomically and loads them back', async () => {
    const e = await estimator(CLOUD_ONNX);
    const dir = path.join(tmp, 'save');
    const target = path.join(dir, 'nested', 'cloud.onnx');
    expect(await e.save(target)).toBe(target);
    expect(fs.readFileSync(target).equals(fs.readFileSync(CLOUD_ONNX))).toBe(true);
    expect(listFiles(dir)).toEqual(['nested/cloud.onnx']); // no temp files left behind
    const again = await estimator(`file://${target}`);
    expect(await again.predict(test.x.slice(0, 10))).toEqual(await e.predict(test.x.slice(0, 10)));
  });

  it('a folder means <folder>/model.onnx for save and load', async () => {
    const e = await estimator(EDGE_ONNX);
    const dir = path.join(tmp, 'as-folder');
    fs.mkdirSync(dir);
    expect(await e.save(dir)).toBe(path.join(dir, 'model.onnx'));
    const again = await estimator(dir);
    expect(again.modelSource).toBe(path.join(dir, 'model.onnx'));
  });

  it('load replaces the model; predictions in flight finish on the old session', async () => {
    const e = await estimator(EDGE_ONNX);
    const edgeOut = await e.predict(test.x.slice(0, 20));
    const inFlight = Array.from({ length: 20 }, (_, i) => e.predict(test.x.slice(i, i + 1)));
    await e.load(CLOUD_ONNX);
    const results = await Promise.all(inFlight);
    expect(results.map((r) => r[0])).toEqual(edgeOut);
    expect(e.modelSource).toBe(CLOUD_ONNX);
    expect(accuracy(test.y, await e.predict(test.x))).toBeGreaterThan(0.97);
  });

  it('modelInfo reports the onnx format with DATA_PATH_PREFIX removed', async () => {
    const e = await estimator(EDGE_ONNX);
    expect(
      e.modelInfo('/home/data/models/edge.onnx', { dataPathPrefix: '/home/data', metrics: { accuracy: [0.9] } }),
    ).toEqual([{ format: 'onnx', url: '/models/edge.onnx', metrics: { accuracy: [0.9] } }]);
    expect(e.modelInfo('s3://bucket/edge.onnx', { dataPathPrefix: '/home/data' })).toEqual([
      { format: 'onnx', url: 's3://bucket/edge.onnx', metrics: null },
    ]);
  });
});

describe('bad models and misuse', () => {
  it('a missing file is SEDNA_ERR_MODEL_NOT_FOUND naming the path', async () => {
    const missing = path.join(tmp, 'nope', 'model.onnx');
    const err = await rejectionOf(OnnxEstimator.create({ modelUrl: missing }));
    expect(err.code).toBe('SEDNA_ERR_MODEL_NOT_FOUND');
    expect(err.message).toContain(missing);
  });

  it('a truncated or foreign file is SEDNA_ERR_MODEL_INVALID naming the path', async () => {
    const truncated = path.join(tmp, 'truncated.onnx');
    const bytes = fs.readFileSync(CLOUD_ONNX);
    fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const err = await rejectionOf(OnnxEstimator.create({ modelUrl: truncated }));
    expect(err.code).toBe('SEDNA_ERR_MODEL_INVALID');
    expect(err.message).toContain(truncated);

    const text = path.join(tmp, 'text.onnx');
    fs.writeFileSync(text, 'this is not a model');
    expect((await rejectionOf(OnnxEstimator.create({ modelUrl: text }))).code).toBe('SEDNA_ERR_MODEL_INVALID');
  });

  it('a failed load keeps the previous model serving', async () => {
    const e = await estimator(EDGE_ONNX);
    const before = await e.predict(test.x.slice(0, 3));
    expect((await rejectionOf(e.load(path.join(tmp, 'missing.onnx')))).code).toBe('SEDNA_ERR_MODEL_NOT_FOUND');
    expect(await e.predict(test.x.slice(0, 3))).toEqual(before);
  });

  it('without a model: SEDNA_ERR_MODEL_NOT_LOADED; train: SEDNA_ERR_NOT_SUPPORTED', async () => {
    const e = await estimator();
    expect((await rejectionOf(e.predict(test.x))).code).toBe('SEDNA_ERR_MODEL_NOT_LOADED');
    expect((await rejectionOf(e.getWeights())).code).toBe('SEDNA_ERR_MODEL_NOT_LOADED');
    const train = await rejectionOf(e.train());
    expect(train.code).toBe('SEDNA_ERR_NOT_SUPPORTED');
    expect(train.message).toContain('inference-only');
  });

  it('after close() every use is SEDNA_ERR_CLOSED; close is idempotent', async () => {
    const e = await OnnxEstimator.create({ modelUrl: EDGE_ONNX });
    await e.close();
    await e.close();
    for (const call of [
      () => e.predict(test.x),
      () => e.run(test.x),
      () => e.evaluate(test),
      () => e.load(EDGE_ONNX),
      () => e.save(path.join(tmp, 'closed.onnx')),
      () => e.getWeights(),
      () => e.setWeights([]),
    ]) {
      expect((await rejectionOf(call())).code).toBe('SEDNA_ERR_CLOSED');
    }
    expect(() => e.inputs).toThrow(expect.objectContaining({ code: 'SEDNA_ERR_CLOSED' }) as Error);
  });

  it('a modelUrl that is empty or not a string is SEDNA_ERR_INVALID_ARGUMENT', async () => {
    for (const modelUrl of ['', 42])
      expect((await rejectionOf(OnnxEstimator.create({ modelUrl: modelUrl as string }))).code).toBe(
        'SEDNA_ERR_INVALID_ARGUMENT',
      );
  });

  it('a remote URL without FileOps is SEDNA_ERR_INVALID_ARGUMENT', async () => {
    const err = await rejectionOf(OnnxEstimator.create({ modelUrl: 's3://bucket/model.onnx' }));
    expect(err.code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect(err.message).toContain('s3://bucket/model.onnx');
  });
});
