/**
 * The strategies beyond FedAvg on the configure/aggregate contract: FedProx, FedAdam, FedYogi,
 * coordinate-wise trimmed mean and Krum. Each against cases computed by hand, each registered by
 * name with the CRD's string parameters, out-of-range parameters as coded errors, NaN/Infinity
 * updates refused, and the robust ones against a poisoned client.
 */
import {
  BUILTIN_AGGREGATIONS,
  FedAdam,
  FedAvg,
  FedAvgV2,
  FedProx,
  FedYogi,
  Krum,
  TrimmedMean,
  UpdateQueue,
  type AggregationAlgorithm,
  type ClientUpdate,
} from '../../src/algorithms/aggregation/index.js';
import { ClassFactory, ClassType } from '../../src/common/class-factory.js';
import type { WeightRecord } from '../../src/backend/weights.js';
import type { SednaError } from '../../src/common/errors.js';
import { errorOf, rejectionOf } from '../helpers/errors.js';
import { seededRandom } from '../../src/algorithms/random.js';

/** A client update of float32 tensors (values chosen exactly representable). */
function update(client: string, numSamples: number, ...tensors: number[][]): ClientUpdate {
  return {
    client,
    numSamples,
    encoding: 'binary',
    weights: tensors.map((values, t) => ({
      name: `t${t}`,
      dtype: 'float32',
      shape: [values.length],
      data: Float32Array.from(values),
    })),
  };
}

async function run(algorithm: AggregationAlgorithm, updates: readonly ClientUpdate[], round = 1) {
  const rejected: { client: string; error: SednaError }[] = [];
  const result = await algorithm.aggregate(
    round,
    UpdateQueue.of(updates, (u, error) => rejected.push({ client: u.client, error })),
  );
  return { result, rejected, values: result.weights.map((w) => Array.from(w.data as Float32Array)) };
}

/** Created through the registry, as a job does from the CRD's name and string parameters. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller states the class it expects
const create = <T extends AggregationAlgorithm = AggregationAlgorithm>(
  name: string,
  params: Record<string, string | number> = {},
): T => ClassFactory.create<'aggregation', string, T>(ClassType.FL_AGG, name, params);

const record = (values: number[]): WeightRecord => ({
  name: 't0',
  dtype: 'float32',
  shape: [values.length],
  data: Float32Array.from(values),
});

describe('FedProx', () => {
  it('averages as FedAvg does and hands mu to the trainers every round', async () => {
    const prox = create<FedProx>('FedProx', { mu: '0.25' });
    expect(prox).toBeInstanceOf(FedProx);
    expect(prox.configure(1, undefined)).toEqual({ mu: 0.25 });
    expect(prox.configure(7, [record([1])])).toEqual({ mu: 0.25 });
    // (1·1 + 3·5) / 4 = 4 and (1·2 + 3·(−2)) / 4 = −1
    const { values, result } = await run(prox, [update('a', 1, [1, 2]), update('b', 3, [5, -2])]);
    expect(values).toEqual([[4, -1]]);
    expect(result.totalSamples).toBe(4);
    expect(new FedProx().mu).toBe(0.01);
  });
});

describe('FedAdam and FedYogi (server optimizers)', () => {
  // Round 1 from x0 = [1, 2]: clients [1.5, 1] (n = 1) and [2.5, 1] (n = 3) average to
  // [2.25, 1], so Δ = [1.25, −1].
  const x0 = [1, 2];
  const round1 = [update('a', 1, [1.5, 1]), update('b', 3, [2.5, 1])];
  const delta = [1.25, -1];

  it('FedAdam: m = 0.1·Δ, v = 0.99·τ² + 0.01·Δ², x = x0 + η·m/(√v + τ) (η 0.1, τ 1e-3)', async () => {
    const adam = create<FedAdam>('FedAdam');
    adam.configure(1, [record(x0)]);
    const { values } = await run(adam, round1);
    // By hand: v = [0.01562599, 0.01000099]; √v + τ = [0.12600396, 0.10100495];
    // x = [1 + 0.0125 / 0.12600396, 2 − 0.01 / 0.10100495] = [1.0992030, 1.9009950].
    expect(values[0]![0]).toBeCloseTo(1.099203, 6);
    expect(values[0]![1]).toBeCloseTo(1.900995, 6);
    const expected = x0.map((x, i) => {
      const d = delta[i]!;
      const m = 0.1 * d;
      const v = 0.99 * 1e-6 + 0.01 * d * d;
      return Math.fround(x + (0.1 * m) / (Math.sqrt(v) + 1e-3));
    });
    expect(values[0]).toEqual(expected);
    expect(Array.from(adam.globalModel![0]!)).toEqual(
      x0.map((x, i) => x + (0.1 * (0.1 * delta[i]!)) / (Math.sqrt(0.99e-6 + 0.01 * delta[i]! ** 2) + 1e-3)),
    );
  });

  it('FedYogi: v moves by ±(1 − β2)·Δ² toward Δ², over two rounds (η 0.01)', async () => {
    const yogi = create<FedYogi>('FedYogi', { eta: '0.01' });
    yogi.configure(1, [record(x0)]);
    const first = await run(yogi, round1);
    // Round 1: v0 = τ² < Δ², so v1 = τ² + 0.01·Δ² (Adam's would be 0.99·τ² + 0.01·Δ²).
    const m1 = delta.map((d) => 0.1 * d);
    const v1 = delta.map((d) => 1e-6 + 0.01 * d * d);
    const x1 = x0.map((x, i) => x + (0.01 * m1[i]!) / (Math.sqrt(v1[i]!) + 1e-3));
    expect(first.values[0]).toEqual(x1.map(Math.fround));
    // Round 2: every client sends [1, 1]; Δ2 = [1, 1] − x1.
    const second = await run(yogi, [update('a', 2, [1, 1]), update('b', 2, [1, 1])], 2);
    const d2 = x1.map((x) => Math.fround(1) - x);
    const m2 = m1.map((m, i) => 0.9 * m + 0.1 * d2[i]!);
    const v2 = v1.map((v, i) => v - 0.01 * d2[i]! ** 2 * Math.sign(v - d2[i]! ** 2));
    const x2 = x1.map((x, i) => x + (0.01 * m2[i]!) / (Math.sqrt(v2[i]!) + 1e-3));
    expect(second.values[0]).toEqual(x2.map(Math.fround));
    expect(Array.from(yogi.globalModel![0]!)).toEqual(x2);
  });

  it('without an initial model, round 1 is the plain mean and seeds the optimizer', async () => {
    const adam = new FedAdam();
    const { values } = await run(adam, round1);
    expect(values).toEqual([[2.25, 1]]);
    expect(Array.from(adam.globalModel![0]!)).toEqual([2.25, 1]);
    // Round 2 steps from there: clients at [3.25, 1] give Δ = [1, 0].
    const second = await run(adam, [update('a', 1, [3.25, 1])], 2);
    const step = (0.1 * 0.1) / (Math.sqrt(0.99e-6 + 0.01) + 1e-3);
    expect(second.values[0]![0]).toBe(Math.fround(2.25 + step));
    expect(second.values[0]![1]).toBe(1); // Δ = 0: m = 0, no move
  });

  it('refuses a round whose model differs from the one it holds', async () => {
    const adam = new FedAdam();
    adam.configure(1, [record(x0)]);
    const error = await rejectionOf(run(adam, [update('a', 1, [1, 2, 3])]));
    expect(error.code).toBe('SEDNA_ERR_WEIGHTS_MISMATCH');
  });
});

describe('TrimmedMean', () => {
  const clients = [
    update('c1', 1, [1, 10, -5]),
    update('c2', 1, [2, 20, -4]),
    update('c3', 1, [3, 30, -3]),
    update('c4', 9, [4, 40, -2]),
    update('c5', 100, [100, -1000, 50]),
  ];

  it('drops ⌊β·n⌋ values at each end of every coordinate and averages the rest, unweighted', async () => {
    // β 0.2 of 5: one each end. Sorted per coordinate: [1 2 3 4 100], [−1000 10 20 30 40], [−5 −4 −3 −2 50].
    const { values, result } = await run(create('TrimmedMean', { beta: '0.2' }), clients);
    expect(values).toEqual([[3, 20, -3]]);
    expect(result.totalSamples).toBe(112);
    expect(result.clients).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
    // β 0.4: two each end, the median.
    expect((await run(new TrimmedMean({ beta: 0.4 }), clients)).values).toEqual([[3, 20, -3]]);
    // β 0: the plain unweighted mean (sample counts are a client's own claim).
    expect((await run(new TrimmedMean({ beta: 0 }), clients)).values).toEqual([[22, -180, 7.2].map(Math.fround)]);
  });
});

describe('Krum', () => {
  // 1-D updates 0, 1, 2, 3, 100 with f = 1: each scored by its n − f − 2 = 2 nearest (squared).
  // Scores: 0 → 1 + 4 = 5, 1 → 1 + 1 = 2, 2 → 2, 3 → 5, 100 → 97² + 98² = 19013.
  const clients = [
    update('p0', 2, [0]),
    update('p1', 1, [1]),
    update('p2', 1, [2]),
    update('p3', 1, [3]),
    update('p100', 1000, [100]),
  ];

  it('picks the update with the lowest score (ties to the earlier one)', async () => {
    const krum = create<Krum>('Krum', { num_malicious_clients: '1' });
    const { values, result } = await run(krum, clients);
    expect(krum.lastScores.map((s) => [s.client, s.score, s.selected])).toEqual([
      ['p0', 5, false],
      ['p1', 2, true],
      ['p2', 2, false],
      ['p3', 5, false],
      ['p100', 19013, false],
    ]);
    expect(values).toEqual([[1]]);
    expect(result).toMatchObject({ clients: ['p1'], totalSamples: 1 });
  });

  it('Multi-Krum averages the m best by their sample counts', async () => {
    // Best three: p1, p2 (2) and p0 (5, before p3): (0·2 + 1·1 + 2·1) / 4 = 0.75.
    const { values, result } = await run(new Krum({ num_malicious_clients: 1, num_clients_to_keep: '3' }), clients);
    expect(values).toEqual([[0.75]]);
    expect(result.clients).toEqual(['p0', 'p1', 'p2']);
  });

  it('fails a round with fewer than 2f + 3 usable updates', async () => {
    const error = await rejectionOf(run(new Krum({ num_malicious_clients: 1 }), clients.slice(0, 4)));
    expect(error.code).toBe('SEDNA_ERR_ROUND_FAILED');
    expect(error.details).toMatchObject({ updates: 4, needed: 5 });
  });
});

describe('every strategy', () => {
  const strategies: [string, Record<string, string>][] = [
    ['FedAvg', {}],
    ['FedAvgV2', {}],
    ['FedProx', { mu: '0.1' }],
    ['FedAdam', {}],
    ['FedYogi', {}],
    ['TrimmedMean', { beta: '0.2' }],
    ['Krum', { num_malicious_clients: '1' }],
  ];

  it('is registered under its name, with the CRD’s string parameters', () => {
    expect(ClassFactory.names(ClassType.FL_AGG)).toEqual(
      expect.arrayContaining([...strategies.map(([name]) => name), 'MistNet']),
    );
    expect(BUILTIN_AGGREGATIONS.map((a) => a.algorithmName)).toEqual([
      'FedAvg',
      'FedAvgV2',
      'MistNet',
      'FedProx',
      'FedAdam',
      'FedYogi',
      'TrimmedMean',
      'Krum',
    ]);
    for (const [name, params] of strategies) expect(create(name, params).name).toBe(name);
    expect(create('FedAvgV2')).toBeInstanceOf(FedAvg);
    expect(create<FedAvgV2>('FedAvgV2').parameters).toEqual({ type: 'fedavg' });
    const adam = create<FedAdam>('FedAdam', { eta: '0.5', beta_1: '0.8', beta_2: '0.9', tau: '1e-4' });
    expect([adam.eta, adam.beta1, adam.beta2, adam.tau]).toEqual([0.5, 0.8, 0.9, 1e-4]);
  });

  it.each([
    ['FedProx', { mu: '-0.1' }],
    ['FedProx', { mu: 'lots' }],
    ['FedAdam', { eta: '0' }],
    ['FedAdam', { beta_1: '1' }],
    ['FedYogi', { beta_2: '-0.1' }],
    ['FedYogi', { tau: '0' }],
    ['TrimmedMean', { beta: '0.5' }],
    ['TrimmedMean', { beta: 'NaN' }],
    ['Krum', { num_malicious_clients: '-1' }],
    ['Krum', { num_malicious_clients: '1.5' }],
    ['Krum', { num_clients_to_keep: '0' }],
  ])('%s refuses %j with a coded error', (name, params) => {
    const error = errorOf(() => create(name, params));
    expect(error.code).toBe('SEDNA_ERR_INVALID_ALGORITHM_PARAM');
    expect(error.details).toMatchObject({ algorithm: name });
  });

  it.each(strategies)(
    '%s refuses NaN and infinite updates; the round goes on with the others',
    async (name, params) => {
      const good = Array.from({ length: 6 }, (_, k) => update(`g${k}`, 10, [1 + k / 8, -2], [0.5]));
      const nan = update('nan', 10, [NaN, 0], [0.5]);
      const inf = update('inf', 10, [1, 1], [-Infinity]);
      const { result, rejected } = await run(create(name, params), [
        good[0]!,
        nan,
        ...good.slice(1, 4),
        inf,
        ...good.slice(4),
      ]);
      expect(rejected.map((r) => [r.client, r.error.code])).toEqual([
        ['nan', 'SEDNA_ERR_INVALID_UPDATE'],
        ['inf', 'SEDNA_ERR_INVALID_UPDATE'],
      ]);
      expect(result.clients).not.toContain('nan');
      expect(result.weights.every((w) => Array.from(w.data as Float32Array).every(Number.isFinite))).toBe(true);
    },
  );
});

describe('robust aggregation against a poisoned client', () => {
  const P = 1000;
  const random = seededRandom(7);
  const target = Float32Array.from({ length: P }, () => random() * 2 - 1);
  const honest = Array.from({ length: 9 }, (_, k) =>
    update(
      `honest${k}`,
      100,
      Array.from(target, (w) => w + (random() - 0.5) * 0.02),
    ),
  );
  // The attacker sends weights far off and claims a large share of the samples.
  const poisoned = update(
    'attacker',
    5000,
    Array.from(target, (w) => w + 50 * (random() < 0.5 ? -1 : 1)),
  );
  const maxError = (values: number[]): number => Math.max(...values.map((v, i) => Math.abs(v - target[i]!)));

  it('moves FedAvg far off, and neither the trimmed mean nor Krum', async () => {
    const updates = [...honest.slice(0, 4), poisoned, ...honest.slice(4)];
    const fedavg = maxError((await run(new FedAvg(), updates)).values[0]!);
    const trimmed = maxError((await run(new TrimmedMean({ beta: 0.1 }), updates)).values[0]!);
    const krum = new Krum({ num_malicious_clients: 1, num_clients_to_keep: 5 });
    const krumError = maxError((await run(krum, updates)).values[0]!);
    expect(fedavg).toBeGreaterThan(40);
    expect(trimmed).toBeLessThan(0.01);
    expect(krumError).toBeLessThan(0.01);
    expect(krum.lastScores.find((s) => s.client === 'attacker')?.selected).toBe(false);
  });
});
