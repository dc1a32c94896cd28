/**
 * FedAvg and the aggregation contract (src/algorithms/aggregation/): the sample-weighted mean
 * against an independent float64 computation, both sum kernels, rejection of bad updates with
 * the running sum left as it was, the registry entries, and Python Sedna's own results from the
 * captured frames.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  BUILTIN_AGGREGATIONS,
  FedAvg,
  FedAvgV2,
  MistNet,
  RoundLayout,
  UpdateQueue,
  availableKernels,
  type AggregationAlgorithm,
  type ClientUpdate,
} from '../../src/algorithms/aggregation/index.js';
import { ClassFactory, ClassType } from '../../src/common/class-factory.js';
import { isFramedInPlace, weightsFromNestedLists, type WeightRecord } from '../../src/backend/weights.js';
import type { SednaError } from '../../src/common/errors.js';
import { SHARED } from '../helpers/shared.js';

const coded = (code: string): Error => expect.objectContaining({ code }) as Error;
/** The bytes of a typed array (a view: its buffer may hold more). */
const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function update(client: string, numSamples: number, seed: number, sizes = [257, 3, 1]): ClientUpdate {
  const random = seeded(seed);
  const weights: WeightRecord[] = sizes.map((n, i) => ({
    name: `t${i}`,
    dtype: 'float32',
    shape: i === 0 ? [n] : [n, 1],
    data: Float32Array.from({ length: n }, () => (random() - 0.5) * 100),
  }));
  return { client, numSamples, weights, encoding: 'binary' };
}

/** The weighted mean in float64, element by element, written independently of the kernels. */
function reference(updates: readonly ClientUpdate[]): number[][] {
  const total = updates.reduce((n, u) => n + u.numSamples, 0);
  return updates[0]!.weights.map((_, t) => {
    const n = updates[0]!.weights[t]!.data.length;
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (const u of updates) sum += Number(u.weights[t]!.data[i]) * u.numSamples;
      out.push(sum / total);
    }
    return out;
  });
}

async function run(algorithm: AggregationAlgorithm, updates: readonly ClientUpdate[]) {
  const rejected: { client: string; error: SednaError }[] = [];
  const result = await algorithm.aggregate(
    1,
    UpdateQueue.of(updates, (u, error) => rejected.push({ client: u.client, error })),
  );
  return { result, rejected };
}

describe('FedAvg', () => {
  const kernels = availableKernels();

  it('offers the WebAssembly SIMD kernel on this runtime', () => {
    expect(kernels).toContain('wasm-simd');
    expect(new FedAvg().kernelName).toBe('wasm-simd');
  });

  it.each(kernels)('equals the independent float64 weighted mean (kernel %s)', async (kernel) => {
    const updates = [update('a', 10, 1), update('b', 30, 2), update('c', 7, 3), update('d', 1, 4)];
    const { result, rejected } = await run(new FedAvg({ kernel }), updates);
    expect(rejected).toEqual([]);
    expect(result.totalSamples).toBe(48);
    expect(result.clients).toEqual(['a', 'b', 'c', 'd']);
    const want = reference(updates);
    result.weights.forEach((w, t) => {
      expect(w.dtype).toBe('float32');
      expect(w.shape).toEqual(updates[0]!.weights[t]!.shape);
      // float64 sum then one rounding to float32: exactly the float32 nearest the true mean.
      expect(Array.from(w.data as Float32Array)).toEqual(want[t]!.map(Math.fround));
    });
  });

  it('gives bit-identical results with both kernels, across many clients and a non-block-multiple size', async () => {
    const updates = Array.from({ length: 16 }, (_, k) => update(`c${k}`, 3 + k * 11, 100 + k, [70_001, 5]));
    const outputs: (readonly WeightRecord[])[] = [];
    for (const kernel of kernels) outputs.push((await run(new FedAvg({ kernel }), updates)).result.weights);
    for (const other of outputs.slice(1)) {
      other.forEach((w, t) => expect(bytesOf(w.data).equals(bytesOf(outputs[0]![t]!.data))).toBe(true));
    }
  });

  it.each(kernels)('drops an update with NaN or infinity and leaves the sum as it was (kernel %s)', async (kernel) => {
    const good = [update('a', 10, 1, [100_000, 3]), update('b', 30, 2, [100_000, 3])];
    const nan = update('nan', 5, 9, [100_000, 3]);
    (nan.weights[0]!.data as Float32Array)[99_998] = NaN; // late: most of the update was already added
    const inf = update('inf', 5, 8, [100_000, 3]);
    (inf.weights[1]!.data as Float32Array)[2] = -Infinity; // in the second tensor: the first is undone
    const first = update('first', 5, 7, [100_000, 3]);
    (first.weights[0]!.data as Float32Array)[3] = Infinity; // rejected while it would set the sum
    const { result, rejected } = await run(new FedAvg({ kernel }), [first, good[0]!, nan, inf, good[1]!]);
    expect(rejected.map((r) => [r.client, r.error.code])).toEqual([
      ['first', 'SEDNA_ERR_INVALID_UPDATE'],
      ['nan', 'SEDNA_ERR_INVALID_UPDATE'],
      ['inf', 'SEDNA_ERR_INVALID_UPDATE'],
    ]);
    expect(rejected[1]!.error.message).toContain('index 99998');
    expect(result.clients).toEqual(['a', 'b']);
    const want = reference(good);
    result.weights.forEach((w, t) => {
      // The undo restores the sum to within one float64 rounding: the float32 result is unchanged.
      const expected = Float32Array.from(want[t]!);
      expect(bytesOf(w.data).equals(bytesOf(expected))).toBe(true);
    });
  });

  it('drops updates whose layout differs from the round and bad sample counts', async () => {
    const wrongShape = update('shape', 5, 3, [256, 3, 1]);
    const wrongCount = { ...update('count', 5, 3), weights: update('count', 5, 3).weights.slice(0, 2) };
    const wrongDtype: ClientUpdate = {
      ...update('dtype', 5, 3),
      // float32 and float64 mix (each client gets its own width); an integer tensor does not.
      weights: update('dtype', 5, 3).weights.map((w) => ({
        ...w,
        dtype: 'int32',
        data: Int32Array.from(w.data as Float32Array),
      })),
    };
    const negative = update('negative', -1, 4);
    const fraction = update('fraction', 2.5, 4);
    const { result, rejected } = await run(new FedAvg(), [
      update('a', 10, 1),
      wrongShape,
      wrongCount,
      wrongDtype,
      negative,
      fraction,
      update('b', 10, 2),
    ]);
    expect(rejected.map((r) => [r.client, r.error.code])).toEqual([
      ['shape', 'SEDNA_ERR_WEIGHTS_MISMATCH'],
      ['count', 'SEDNA_ERR_WEIGHTS_MISMATCH'],
      ['dtype', 'SEDNA_ERR_WEIGHTS_MISMATCH'],
      ['negative', 'SEDNA_ERR_INVALID_UPDATE'],
      ['fraction', 'SEDNA_ERR_INVALID_UPDATE'],
    ]);
    expect(result.clients).toEqual(['a', 'b']);
  });

  it('mixes JSON (float64, no dtype) and binary updates; the binary dtype wins', async () => {
    const bin = update('bin', 10, 1);
    const json: ClientUpdate = {
      client: 'json',
      numSamples: 30,
      encoding: 'json',
      weights: update('json', 30, 2).weights.map((w) => ({
        ...w,
        dtype: 'float64',
        data: Float64Array.from(w.data as Float32Array),
      })),
    };
    const { result } = await run(new FedAvg(), [json, bin]);
    expect(result.weights.map((w) => w.dtype)).toEqual(['float32', 'float32', 'float32']);
    const onlyJson = await run(new FedAvg(), [json]);
    expect(onlyJson.result.weights.map((w) => w.dtype)).toEqual(['float64', 'float64', 'float64']);
  });

  it('averages integer tensors and rounds them', async () => {
    const int = (client: string, n: number, values: number[]): ClientUpdate => ({
      client,
      numSamples: n,
      encoding: 'binary',
      weights: [{ name: 'step', dtype: 'int32', shape: [values.length], data: Int32Array.from(values) }],
    });
    const { result } = await run(new FedAvg(), [int('a', 1, [10, 0]), int('b', 3, [20, 1])]);
    expect(result.weights[0]).toMatchObject({ dtype: 'int32' });
    expect(Array.from(result.weights[0]!.data as Int32Array)).toEqual([18, 1]); // 17.5 → 18, 0.75 → 1
  });

  it('fails a round with no updates or only zero-sample updates', async () => {
    await expect(run(new FedAvg(), [])).rejects.toMatchObject({ code: 'SEDNA_ERR_ROUND_FAILED' });
    await expect(run(new FedAvg(), [update('a', 0, 1)])).rejects.toMatchObject({ code: 'SEDNA_ERR_ROUND_FAILED' });
  });

  it('lays its output out as a weights frame, and reuses a recycled one', async () => {
    const fedavg = new FedAvg();
    const first = (await run(fedavg, [update('a', 4, 1), update('b', 6, 2)])).result.weights;
    expect(isFramedInPlace(first)).toBe(true);
    const firstValues = first.map((w) => Array.from(w.data as Float32Array));
    fedavg.recycle(first);
    const second = (await run(fedavg, [update('c', 1, 3)])).result.weights;
    expect(second[0]!.data.buffer).toBe(first[0]!.data.buffer); // the same memory, overwritten
    expect(Array.from(second[0]!.data as Float32Array)).toEqual(
      Array.from(update('c', 1, 3).weights[0]!.data as Float32Array),
    );
    expect(firstValues[0]).not.toEqual(Array.from(second[0]!.data as Float32Array));
  });

  it('configure() says nothing, and totalSize is Sedna’s total_size', async () => {
    const fedavg = new FedAvg();
    expect(fedavg.configure(1, undefined)).toBeUndefined();
    await run(fedavg, [update('a', 4, 1), update('b', 6, 2)]);
    expect(fedavg.totalSize).toBe(10);
  });

  it('reproduces Python Sedna’s aggregates from the captured frames', async () => {
    const capture = JSON.parse(fs.readFileSync(path.join(SHARED, 'captures/fl-ws-frames.json'), 'utf8')) as {
      frames: {
        dir: string;
        parsed: {
          type: string;
          client?: string;
          data: { num_samples?: number; weights: unknown; round_number?: number };
        };
      }[];
    };
    const sent = capture.frames.filter((f) => f.dir === 'client->server' && f.parsed.type === 'update_weight');
    const received = capture.frames.filter((f) => f.dir === 'server->client' && f.parsed.type === 'recv_weight');
    for (let round = 1; round <= 3; round++) {
      const updates = sent.slice((round - 1) * 2, round * 2).map((f): ClientUpdate => ({
        client: f.parsed.client!,
        numSamples: f.parsed.data.num_samples!,
        encoding: 'json',
        weights: weightsFromNestedLists(f.parsed.data.weights),
      }));
      const python = weightsFromNestedLists(
        received.find((f) => f.parsed.data.round_number === round)!.parsed.data.weights,
      );
      const { result } = await run(new FedAvg(), updates);
      result.weights.forEach((w, t) => {
        expect(w.dtype).toBe('float64');
        Array.from(w.data as Float64Array).forEach((v, i) => expect(v).toBeCloseTo(Number(python[t]!.data[i]), 14));
      });
    }
  });
});

describe('the aggregation registry and Sedna’s v2 algorithms', () => {
  it('registers FedAvg, FedAvgV2 and MistNet under kind "aggregation"', () => {
    expect(ClassFactory.names(ClassType.FL_AGG)).toEqual(expect.arrayContaining(['FedAvg', 'FedAvgV2', 'MistNet']));
    expect(BUILTIN_AGGREGATIONS.map((a) => a.algorithmName)).toEqual(
      expect.arrayContaining(['FedAvg', 'FedAvgV2', 'MistNet']),
    );
    expect(ClassFactory.create(ClassType.FL_AGG, 'FedAvg', { kernel: 'js' })).toBeInstanceOf(FedAvg);
    expect(() => ClassFactory.create(ClassType.FL_AGG, 'FedAvg', { kernel: 'gpu' as 'js' })).toThrow(
      coded('SEDNA_ERR_INVALID_ALGORITHM_PARAM'),
    );
  });

  it('FedAvgV2 keeps Sedna’s {"type": "fedavg"} and averages as FedAvg does', async () => {
    const v2 = ClassFactory.create<'aggregation', 'FedAvgV2', FedAvgV2>(ClassType.FL_AGG, 'FedAvgV2', {});
    expect(v2.parameters).toEqual({ type: 'fedavg' });
    const updates = [update('a', 10, 1), update('b', 30, 2)];
    const { result } = await run(v2, updates);
    result.weights.forEach((w, t) =>
      expect(Array.from(w.data as Float32Array)).toEqual(reference(updates)[t]!.map(Math.fround)),
    );
  });

  it('MistNet casts CRD strings (without Sedna’s epsilon bug)', () => {
    const make = (p: Record<string, string | number>) =>
      ClassFactory.create<'aggregation', 'MistNet', MistNet>(ClassType.FL_AGG, 'MistNet', p as never);
    expect(make({ cut_layer: '4', epsilon: '7' }).parameters).toEqual({ type: 'mistnet', cut_layer: 4, epsilon: 7 });
    expect(make({ cut_layer: 'layer3' }).parameters).toEqual({ type: 'mistnet', cut_layer: 'layer3', epsilon: 100 });
    expect(make({ cut_layer: 2, epsilon: '0.5' }).parameters.epsilon).toBe(0.5);
    expect(make({ cut_layer: 2, epsilon: 'inf' }).parameters.epsilon).toBe(Infinity);
    expect(() => make({ cut_layer: '' })).toThrow(coded('SEDNA_ERR_INVALID_ALGORITHM_PARAM'));
    expect(() => make({ cut_layer: 1, epsilon: 'lots' })).toThrow(coded('SEDNA_ERR_INVALID_ALGORITHM_PARAM'));
    expect(() => make({ cut_layer: 1, epsilon: '0' })).toThrow(coded('SEDNA_ERR_INVALID_ALGORITHM_PARAM'));
    expect(() => make({ cut_layer: 1, epsilon: -3 })).toThrow(coded('SEDNA_ERR_INVALID_ALGORITHM_PARAM'));
  });

  it('RoundLayout fixes shapes from the first update and dtypes from the first binary one', () => {
    const layout = new RoundLayout();
    const json: ClientUpdate = {
      client: 'j',
      numSamples: 1,
      encoding: 'json',
      weights: [{ name: 'w', dtype: 'float64', shape: [2], data: new Float64Array(2) }],
    };
    layout.accept(json);
    expect(layout.binaryDtypes).toBeUndefined();
    layout.accept({
      client: 'b',
      encoding: 'binary',
      weights: [{ name: 'w', dtype: 'float32', shape: [2], data: new Float32Array(2) }],
    });
    expect(layout.binaryDtypes).toEqual(['float32']);
    expect(() =>
      layout.check({
        client: 'x',
        encoding: 'binary',
        weights: [{ name: 'w', dtype: 'int32', shape: [2], data: new Int32Array(2) }],
      }),
    ).toThrow(coded('SEDNA_ERR_WEIGHTS_MISMATCH'));
    expect(() => layout.check({ client: 'x', encoding: 'json', weights: [] })).toThrow(
      coded('SEDNA_ERR_WEIGHTS_MISMATCH'),
    );
  });
});

describe('UpdateQueue', () => {
  it('resolves a push once the consumer is done with the update, so a feeder holds one at a time', async () => {
    const queue = new UpdateQueue();
    const seen: string[] = [];
    const consumer = (async () => {
      for await (const u of queue) {
        seen.push(`take ${u.client}`);
        await Promise.resolve();
        seen.push(`done ${u.client}`);
      }
    })();
    await queue.push(update('a', 1, 1));
    seen.push('pushed a');
    await queue.push(update('b', 1, 2));
    seen.push('pushed b');
    queue.end();
    await consumer;
    expect(seen).toEqual(['take a', 'done a', 'pushed a', 'take b', 'done b', 'pushed b']);
    await expect(queue.push(update('c', 1, 3))).rejects.toMatchObject({ code: 'SEDNA_ERR_CLOSED' });
  });
});
