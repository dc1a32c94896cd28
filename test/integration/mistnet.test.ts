/**
 * MistNet split learning on real TF.js models (wasm backend): the edge's forward pass up to the
 * cut, the privacy step (Laplace scale from ε, measured; quantization round trips), the feature
 * records through the real weights codec, the cloud training the layers after the cut, the
 * MistNet aggregation end to end with a bad edge in the round, and the coded errors. Also
 * FedProx's proximal step in TfjsEstimator.train.
 */
import { TfjsEstimator, type Tf } from '../../src/backend/tfjs.js';
import { decodeWeightsFrame, encodeWeightsFrame, type WeightRecord } from '../../src/backend/weights.js';
import { MistNet, UpdateQueue, type ClientUpdate } from '../../src/algorithms/aggregation/index.js';
import {
  MistNetCloud,
  MistNetEdge,
  decodeFeatureBatch,
  dequantize,
  encodeFeatureBatch,
  laplaceScale,
  quantizationStep,
  quantize,
  sampleLaplace,
  splitModel,
  type FeatureBatch,
} from '../../src/algorithms/split-learning/index.js';
import { seededRandom, secureRandom } from '../../src/algorithms/random.js';
import { ClassFactory, ClassType } from '../../src/common/class-factory.js';
import type { SednaError } from '../../src/common/errors.js';
import { loadDigits } from '../helpers/backend-fixtures.js';
import { errorOf } from '../helpers/errors.js';

const train = loadDigits('train');
const test = loadDigits('test');
const open: TfjsEstimator[] = [];

/** 64 → 32 (ReLU) → 16 (ReLU) → 10 (softmax), seeded. */
function chain(tf: Tf): ReturnType<Tf['sequential']> {
  const dense = (units: number, activation: 'relu' | 'softmax', name: string, seed: number, inputShape?: number[]) =>
    tf.layers.dense({
      units,
      activation,
      name,
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
      ...(inputShape === undefined ? {} : { inputShape }),
    });
  return tf.sequential({
    layers: [dense(32, 'relu', 'edge1', 1, [64]), dense(16, 'relu', 'cloud1', 2), dense(10, 'softmax', 'cloud2', 3)],
  });
}

async function estimator(model: (tf: Tf) => ReturnType<Tf['sequential']> | ReturnType<Tf['model']> = chain) {
  const e = await TfjsEstimator.create({ model });
  open.push(e);
  return e;
}

afterAll(async () => {
  await Promise.all(open.map((e) => e.close()));
});

describe('the privacy step', () => {
  it('draws Laplace noise whose scale is (max − min) / ε: mean |x|, variance and CDF agree', () => {
    const random = seededRandom(11);
    for (const epsilon of [0.5, 1, 10]) {
      const b = laplaceScale(epsilon, { min: 0, max: 2 });
      expect(b).toBe(2 / epsilon);
      const n = 200_000;
      const draws = Float64Array.from({ length: n }, () => sampleLaplace(b, random));
      const mean = draws.reduce((s, v) => s + v, 0) / n;
      const meanAbs = draws.reduce((s, v) => s + Math.abs(v), 0) / n;
      const variance = draws.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
      // Laplace(0, b): E|x| = b, Var = 2b²; standard errors ~0.22 % and ~0.9 % at this n.
      expect(Math.abs(mean)).toBeLessThan((5 * Math.sqrt(2) * b) / Math.sqrt(n));
      expect(meanAbs / b).toBeGreaterThan(0.99);
      expect(meanAbs / b).toBeLessThan(1.01);
      expect(variance / (2 * b * b)).toBeGreaterThan(0.96);
      expect(variance / (2 * b * b)).toBeLessThan(1.04);
      // Kolmogorov-Smirnov distance to the Laplace CDF (critical value at 0.1 %: 1.95 / √n).
      const sorted = draws.sort();
      let ks = 0;
      sorted.forEach((x, i) => {
        const cdf = x < 0 ? 0.5 * Math.exp(x / b) : 1 - 0.5 * Math.exp(-x / b);
        ks = Math.max(ks, Math.abs(cdf - (i + 1) / n), Math.abs(cdf - i / n));
      });
      expect(ks).toBeLessThan(1.95 / Math.sqrt(n));
    }
    expect(laplaceScale(Infinity, { min: 0, max: 1 })).toBe(0);
    expect(errorOf(() => laplaceScale(0, { min: 0, max: 1 })).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
  });

  it('quantizes to within half a step and round-trips its own levels exactly, for every width', () => {
    const random = seededRandom(5);
    for (let bits = 1; bits <= 8; bits++) {
      const range = { min: -1.5 + random(), max: 1 + random() * 3 };
      const values = Float32Array.from(
        { length: 5000 },
        () => range.min - 0.5 + random() * (range.max - range.min + 1),
      );
      const codes = quantize(values, range, bits);
      const step = quantizationStep(range, bits);
      expect(Math.max(...codes)).toBeLessThanOrEqual(2 ** bits - 1);
      const back = dequantize(codes, range, bits);
      values.forEach((v, i) => {
        const clamped = Math.min(range.max, Math.max(range.min, v));
        expect(Math.abs(back[i]! - clamped)).toBeLessThanOrEqual(step / 2 + 1e-6);
      });
      expect(Array.from(quantize(back, range, bits))).toEqual(Array.from(codes));
    }
    expect(errorOf(() => quantize(new Float32Array(1), { min: 0, max: 1 }, 9)).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
  });

  it('makes the edge’s released values Laplace around the clipped features, at the scale ε sets', async () => {
    // A first layer with zero kernel and bias 0.25: every feature is exactly 0.25 before noise.
    const e = await estimator((tf) =>
      tf.sequential({
        layers: [
          tf.layers.dense({
            units: 50,
            inputShape: [4],
            kernelInitializer: 'zeros',
            biasInitializer: tf.initializers.constant({ value: 0.25 }),
          }),
          tf.layers.dense({ units: 2 }),
        ],
      }),
    );
    const x = Array.from({ length: 2000 }, () => [1, 2, 3, 4]);
    for (const epsilon of [2, 20]) {
      const edge = new MistNetEdge({
        estimator: e,
        cutLayer: 1,
        epsilon,
        range: { min: -1, max: 1 },
        bits: 0,
        random: secureRandom(),
      });
      expect(edge.noiseScale).toBe(2 / epsilon);
      const batch = await edge.extract(x, new Array<number>(2000).fill(0));
      const noise = Array.from(batch.features as Float32Array, (v) => v - 0.25);
      const meanAbs = noise.reduce((s, v) => s + Math.abs(v), 0) / noise.length;
      expect(meanAbs / edge.noiseScale).toBeGreaterThan(0.98);
      expect(meanAbs / edge.noiseScale).toBeLessThan(1.02);
    }
  });
});

describe('the split', () => {
  it('cuts after cut_layer layers (or a named layer) and refuses cuts outside the model', async () => {
    const e = await estimator();
    expect(splitModel(e, 1)).toEqual({
      depth: 3,
      cut: 1,
      featureShape: [32],
      edge: ['edge1'],
      cloud: ['cloud1', 'cloud2'],
    });
    expect(splitModel(e, 'cloud1')).toMatchObject({ cut: 2, featureShape: [16] });
    for (const cut of [0, 3, 4, -1, 1.5, 'nope']) {
      const error = errorOf(() => splitModel(e, cut));
      expect(error.code).toBe('SEDNA_ERR_INVALID_ALGORITHM_PARAM');
      expect(error.details).toMatchObject({ algorithm: 'MistNet', param: 'cut_layer' });
    }
    expect(errorOf(() => new MistNetEdge({ estimator: e, cutLayer: 1, epsilon: 0 })).code).toBe(
      'SEDNA_ERR_INVALID_ALGORITHM_PARAM',
    );
    expect(errorOf(() => new MistNetEdge({ estimator: e, cutLayer: 1, epsilon: -1 })).code).toBe(
      'SEDNA_ERR_INVALID_ALGORITHM_PARAM',
    );
  });

  it('refuses models it cannot split: branches, and estimators that are not TF.js', async () => {
    const branching = await estimator((tf) => {
      const input = tf.input({ shape: [4] });
      const a = tf.layers.dense({ units: 3 }).apply(input) as ReturnType<Tf['input']>;
      const b = tf.layers.dense({ units: 3 }).apply(input) as ReturnType<Tf['input']>;
      const sum = tf.layers.add().apply([a, b]) as ReturnType<Tf['input']>;
      return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(sum) as ReturnType<Tf['input']> });
    });
    expect(errorOf(() => splitModel(branching, 1)).code).toBe('SEDNA_ERR_NOT_SUPPORTED');
    const onnxLike = { backend: 'onnx' } as unknown as TfjsEstimator;
    expect(errorOf(() => new MistNetEdge({ estimator: onnxLike, cutLayer: 1, epsilon: 1 })).code).toBe(
      'SEDNA_ERR_NOT_SUPPORTED',
    );
  });

  it('refuses to release NaN features from a broken edge model (clipping would hide them)', async () => {
    const broken = await estimator((tf) =>
      tf.sequential({
        layers: [
          tf.layers.dense({ units: 3, inputShape: [2], biasInitializer: tf.initializers.constant({ value: NaN }) }),
          tf.layers.dense({ units: 2 }),
        ],
      }),
    );
    const edge = new MistNetEdge({ estimator: broken, cutLayer: 1, epsilon: 1 });
    await expect(edge.extract([[1, 2]], [0])).rejects.toMatchObject({ code: 'SEDNA_ERR_INFERENCE' });
  });

  it('runs exactly the first layers: the features are ReLU(x·W + b) of the first dense layer', async () => {
    const e = await estimator();
    const [kernel, bias] = (await e.getWeights()) as [WeightRecord, WeightRecord];
    const edge = new MistNetEdge({ estimator: e, cutLayer: 1, epsilon: Infinity });
    const x = train.x.slice(0, 5);
    const { values } = await edge.forward(x);
    x.forEach((row, s) => {
      for (let j = 0; j < 32; j++) {
        let v = (bias.data as Float32Array)[j]!;
        for (let i = 0; i < 64; i++) v += row[i]! * (kernel.data as Float32Array)[i * 32 + j]!;
        expect(values[s * 32 + j]).toBeCloseTo(Math.max(0, v), 4);
      }
    });
  });
});

describe('features on the wire', () => {
  it('travel through the weights codec, from a frame at an odd offset inside a larger buffer', async () => {
    const e = await estimator();
    const edge = new MistNetEdge({ estimator: e, cutLayer: 1, epsilon: 5, random: seededRandom(3) });
    const batch = await edge.extract(train.x.slice(0, 40), train.y.slice(0, 40));
    const frame = encodeWeightsFrame(encodeFeatureBatch(batch));
    const socket = Buffer.alloc(frame.length + 7);
    socket.set(frame, 3);
    const decoded = decodeFeatureBatch(decodeWeightsFrame(socket.subarray(3, 3 + frame.length)).weights, 'test', [32]);
    expect(decoded.count).toBe(40);
    expect(Array.from(decoded.features)).toEqual(Array.from(batch.features));
    expect(Array.from(decoded.labels)).toEqual(train.y.slice(0, 40));
    expect(decoded.quantization).toEqual({ min: 0, max: 1, bits: 8 });
  });

  it('refuses malformed records with coded errors', () => {
    const good: FeatureBatch = {
      count: 2,
      featureShape: [3],
      features: Uint8Array.of(0, 1, 2, 3, 4, 255),
      quantization: { min: 0, max: 1, bits: 8 },
      labels: Int32Array.of(1, 2),
      labelWidth: 0,
    };
    const records = encodeFeatureBatch(good);
    const replace = (name: string, record: Partial<WeightRecord>): WeightRecord[] =>
      records.map((r) => (r.name === name ? { ...r, ...record } : r));
    const cases: [WeightRecord[], string, readonly number[] | undefined][] = [
      [records.slice(0, 2), 'SEDNA_ERR_WEIGHTS_MISMATCH', undefined],
      [records, 'SEDNA_ERR_WEIGHTS_MISMATCH', [4]],
      [
        replace('mistnet/labels', { shape: [3], data: Int32Array.of(1, 2, 3) }),
        'SEDNA_ERR_WEIGHTS_MISMATCH',
        undefined,
      ],
      [replace('mistnet/labels', { data: Int32Array.of(1, -2) }), 'SEDNA_ERR_INVALID_UPDATE', undefined],
      [replace('mistnet/quantization', { data: Float64Array.of(1, 0, 8) }), 'SEDNA_ERR_INVALID_UPDATE', undefined],
      [replace('mistnet/quantization', { data: Float64Array.of(0, 1, 4) }), 'SEDNA_ERR_INVALID_UPDATE', undefined],
      [replace('mistnet/quantization', { data: Float64Array.of(0, 1, 0) }), 'SEDNA_ERR_WEIGHTS_MISMATCH', undefined],
      [
        replace('mistnet/features', { dtype: 'float32', data: Float32Array.of(0, NaN, 0, 0, 0, 0) }).map((r) =>
          r.name === 'mistnet/quantization' ? { ...r, data: Float64Array.of(0, 1, 0) } : r,
        ),
        'SEDNA_ERR_INVALID_UPDATE',
        undefined,
      ],
      [replace('mistnet/features', { shape: [6] }), 'SEDNA_ERR_WEIGHTS_MISMATCH', undefined],
    ];
    for (const [bad, code, shape] of cases)
      expect(errorOf(() => decodeFeatureBatch(bad, 'test', shape)).code).toBe(code);
    expect(decodeFeatureBatch(records, 'test', [3]).count).toBe(2);
  });
});

describe('MistNet end to end', () => {
  it('the cloud trains the layers after the cut on private features; the edge layer stays as it was', async () => {
    const cloudSide = await estimator();
    const edgeSide = await estimator();
    await edgeSide.setWeights(await cloudSide.getWeights()); // the edges hold the global model
    const before = await cloudSide.getWeights();
    const mistnet = ClassFactory.create<'aggregation', 'MistNet', MistNet>(ClassType.FL_AGG, 'MistNet', {
      cut_layer: '1',
      epsilon: '50',
      feature_max: '4',
    });
    expect(mistnet.range).toEqual({ min: 0, max: 4 });
    // Each edge's features have their own sample count: the server must not hold them to one layout.
    expect(mistnet.variableLayout).toBe(true);
    await expect(mistnet.aggregate(1, UpdateQueue.of([]))).rejects.toMatchObject({
      code: 'SEDNA_ERR_MODEL_NOT_LOADED',
    });
    mistnet.useCloud(new MistNetCloud({ estimator: cloudSide, cutLayer: 1, epochs: 30, learningRate: 0.01 }));

    // Two edges, each with half the training data; a third sends a malformed update.
    const edge = mistnet.edge(edgeSide, { random: seededRandom(1) });
    const half = Math.floor(train.x.length / 2);
    const updates: ClientUpdate[] = [];
    for (const [client, from, to] of [
      ['e1', 0, half],
      ['e2', half, train.x.length],
    ] as const) {
      const batch = await edge.extract(train.x.slice(from, to), train.y.slice(from, to));
      updates.push({ client, numSamples: batch.count, encoding: 'binary', weights: encodeFeatureBatch(batch) });
    }
    const liar = { ...updates[0]!, client: 'liar', numSamples: 3 };
    const rejected: { client: string; error: SednaError }[] = [];
    const result = await mistnet.aggregate(
      1,
      UpdateQueue.of([updates[0]!, liar, updates[1]!], (u, error) => rejected.push({ client: u.client, error })),
    );
    expect(rejected.map((r) => [r.client, r.error.code])).toEqual([['liar', 'SEDNA_ERR_INVALID_UPDATE']]);
    expect(result.clients).toEqual(['e1', 'e2']);
    expect(result.totalSamples).toBe(train.x.length);
    // The whole model comes back: edge layer unchanged, cloud layers trained.
    expect(result.weights.map((w) => w.name)).toEqual(before.map((w) => w.name));
    expect(Array.from(result.weights[0]!.data as Float32Array)).toEqual(Array.from(before[0]!.data as Float32Array));
    expect(Array.from(result.weights[2]!.data as Float32Array)).not.toEqual(
      Array.from(before[2]!.data as Float32Array),
    );
    await edgeSide.setWeights(result.weights);
    const { accuracy } = await edgeSide.evaluate({ x: test.x, y: test.y });
    expect(accuracy).toBeGreaterThan(0.8);
  }, 120_000);
});

describe('FedProx on the trainer (TfjsEstimator.train proximal)', () => {
  it('pulls the weights toward the reference in proportion to μ; μ = 0 changes nothing', async () => {
    const data = { x: train.x.slice(0, 256), y: train.y.slice(0, 256) };
    const distanceAfter = async (mu: number | undefined): Promise<number> => {
      const e = await estimator();
      const reference = await e.getWeights();
      await e.train(data, undefined, {
        epochs: 3,
        batchSize: 32,
        learningRate: 0.01,
        shuffle: false,
        ...(mu === undefined ? {} : { proximal: { mu, reference } }),
      });
      const after = await e.getWeights();
      return after.reduce(
        (sum, w, t) =>
          sum +
          Array.from(w.data as Float32Array).reduce(
            (s, v, i) => s + (v - (reference[t]!.data as Float32Array)[i]!) ** 2,
            0,
          ),
        0,
      );
    };
    const plain = await distanceAfter(undefined);
    expect(await distanceAfter(0)).toBe(plain);
    const weak = await distanceAfter(1);
    const strong = await distanceAfter(50);
    expect(weak).toBeLessThan(plain);
    expect(strong).toBeLessThan(weak / 4);
    const e = await estimator();
    await expect(
      e.train(data, undefined, { proximal: { mu: -1, reference: await e.getWeights() } }),
    ).rejects.toMatchObject({
      code: 'SEDNA_ERR_INVALID_ARGUMENT',
    });
    await expect(e.train(data, undefined, { proximal: { mu: 1, reference: [] } })).rejects.toMatchObject({
      code: 'SEDNA_ERR_WEIGHTS_MISMATCH',
    });
  }, 60_000);
});
