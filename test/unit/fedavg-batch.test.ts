/**
 * FedAvg's multi-update pass: updates already waiting in the stream are folded in together (up to
 * MAX_BATCH per pass over the sum) and the round's last ones straight into the output. Whatever
 * the path, the result must be the bits of one update at a time, and a bad update must leave the
 * others' sum as if it never came.
 */
import {
  FedAvg,
  UpdateQueue,
  availableKernels,
  type AggregateResult,
  type ClientUpdate,
} from '../../src/algorithms/aggregation/index.js';
import { MAX_BATCH, createSumKernel } from '../../src/algorithms/aggregation/sum-kernel.js';
import type { WeightRecord } from '../../src/backend/weights.js';
import type { SednaError } from '../../src/common/errors.js';

function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function update(client: string, numSamples: number, seed: number, sizes: readonly number[]): ClientUpdate {
  const random = seeded(seed);
  const weights: WeightRecord[] = sizes.map((n, i) => ({
    name: `t${i}`,
    dtype: 'float32',
    shape: [n],
    data: Float32Array.from({ length: n }, () => (random() - 0.5) * 100),
  }));
  return { client, numSamples, weights, encoding: 'binary' };
}

const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** One update at a time, each push awaited: the server's way, no batching possible. */
async function streamed(fedavg: FedAvg, updates: readonly ClientUpdate[]) {
  const rejected: string[] = [];
  const queue = new UpdateQueue((u) => rejected.push(u.client));
  const result = fedavg.aggregate(1, queue);
  for (const u of updates) await queue.push(u);
  queue.end();
  return { result: await result, rejected };
}

/** Everything queued up front: the batched path (and the fused last pass). */
async function queued(fedavg: FedAvg, updates: readonly ClientUpdate[]) {
  const rejected: { client: string; error: SednaError }[] = [];
  const result = await fedavg.aggregate(
    1,
    UpdateQueue.of(updates, (u, error) => rejected.push({ client: u.client, error })),
  );
  return { result, rejected };
}

function expectSameBits(a: AggregateResult, b: AggregateResult): void {
  expect(a.clients).toEqual(b.clients);
  expect(a.totalSamples).toBe(b.totalSamples);
  expect(a.weights.length).toBe(b.weights.length);
  a.weights.forEach((w, t) => {
    expect(w.dtype).toBe(b.weights[t]!.dtype);
    expect(bytesOf(w.data).equals(bytesOf(b.weights[t]!.data))).toBe(true);
  });
}

describe('FedAvg over queued updates', () => {
  // Sizes that are not multiples of the kernel's block or of 4: every tail path runs.
  const sizes = [20_003, 7, 1];

  it.each([1, 2, 7, 8, 9, 16, 19])('%i queued updates give the bits of one-at-a-time folding', async (count) => {
    const updates = Array.from({ length: count }, (_, k) => update(`c${k}`, 1 + ((k * 37) % 500), 10 + k, sizes));
    const one = await streamed(new FedAvg(), updates);
    const many = await queued(new FedAvg(), updates);
    expectSameBits(many.result, one.result);
    expect(many.rejected).toEqual([]);
  });

  it('refuses bad updates inside a batch (first, middle, in a tail, in a later tensor) in arrival order', async () => {
    const updates = Array.from({ length: 12 }, (_, k) => update(`c${k}`, 5 + k, 40 + k, sizes));
    const poison = (k: number, tensor: number, index: number, value: number): void => {
      (updates[k]!.weights[tensor]!.data as Float32Array)[index] = value;
    };
    poison(0, 0, 0, NaN); // the first update of the round, first value
    poison(3, 0, 19_000, Infinity); // late in the first tensor: earlier blocks come back out
    poison(5, 0, 20_002, -Infinity); // in a block tail
    poison(6, 1, 3, NaN); // in the second tensor: the whole first tensor comes back out
    poison(10, 2, 0, NaN); // in the round's last batch (the fused pass falls back)
    const bad = new Set(['c0', 'c3', 'c5', 'c6', 'c10']);
    const { result, rejected } = await queued(new FedAvg(), updates);
    expect(rejected.map((r) => r.client)).toEqual(['c0', 'c3', 'c5', 'c6', 'c10']);
    expect(rejected.every((r) => r.error.code === 'SEDNA_ERR_INVALID_UPDATE')).toBe(true);
    expect(rejected[1]!.error.message).toContain('index 19000');
    expect(rejected[2]!.error.message).toContain('index 20002');
    expect(rejected[3]!.error.message).toContain('tensor #1');
    const good = updates.filter((u) => !bad.has(u.client));
    const reference = await streamed(new FedAvg(), good);
    // Taking a bad update back out is exact to within one float64 rounding: the float32 result
    // equals the good updates' own.
    expectSameBits(result, reference.result);
  });

  it('refuses a batch member whose layout differs, and a bad sample count, keeping the others', async () => {
    const updates = [update('a', 3, 1, sizes), update('b', 4, 2, [20_003, 8, 1]), update('c', 5, 3, sizes)];
    const negative = { ...update('d', 1, 4, sizes), numSamples: -1 };
    const { result, rejected } = await queued(new FedAvg(), [...updates, negative]);
    expect(rejected.map((r) => [r.client, r.error.code])).toEqual([
      ['b', 'SEDNA_ERR_WEIGHTS_MISMATCH'],
      ['d', 'SEDNA_ERR_INVALID_UPDATE'],
    ]);
    expectSameBits(result, (await streamed(new FedAvg(), [updates[0]!, updates[2]!])).result);
  });

  it('folds JSON (float64) updates between binary ones in arrival order', async () => {
    const asJson = (u: ClientUpdate): ClientUpdate => ({
      ...u,
      encoding: 'json',
      weights: u.weights.map((w) => ({ ...w, dtype: 'float64', data: Float64Array.from(w.data as Float32Array) })),
    });
    const updates = Array.from({ length: 10 }, (_, k) => update(`c${k}`, 2 + k, 60 + k, sizes));
    updates[4] = asJson(updates[4]!);
    updates[9] = asJson(updates[9]!);
    expectSameBits((await queued(new FedAvg(), updates)).result, (await streamed(new FedAvg(), updates)).result);
  });

  it('hands out the updates it takes together and releases them together', async () => {
    const queue = new UpdateQueue();
    const pushes = [0, 1, 2].map((k) => queue.push(update(`c${k}`, 1, k, [4])));
    const released: number[] = [];
    pushes.forEach((p, k) => void p.then(() => released.push(k)));
    queue.end();
    const iterator = queue[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect((first.value as ClientUpdate).client).toBe('c0');
    expect(queue.takeQueued(5).map((u) => u.client)).toEqual(['c1', 'c2']);
    expect(queue.drained).toBe(true);
    await Promise.resolve();
    expect(released).toEqual([]);
    expect((await iterator.next()).done).toBe(true);
    await Promise.all(pushes);
    expect(released).toEqual([0, 1, 2]);
  });

  it('a sum finished by its last batch cannot be used again', () => {
    const sum = new FedAvg().accumulator();
    const { result, errors } = sum.finishBatch([update('a', 1, 1, [8]), update('b', 3, 2, [8])]);
    expect(errors).toEqual([undefined, undefined]);
    expect(result.totalSamples).toBe(4);
    expect(() => sum.add(update('c', 1, 3, [8]))).toThrow(
      expect.objectContaining({ code: 'SEDNA_ERR_CLOSED' }) as Error,
    );
  });
});

describe('the multi-update kernel', () => {
  it.each(availableKernels())('addMany equals one add per source, bit for bit (kernel %s)', (name) => {
    const length = 3 * 8192 + 5;
    const sources = Array.from({ length: MAX_BATCH }, (_, j) => update(`s${j}`, 1, 90 + j, [length]).weights[0]!.data);
    const scales = sources.map((_, j) => 1 + j * 13);
    const one = createSumKernel('js');
    one.reserve(length);
    sources.forEach((src, j) => one.add(0, src, scales[j]!, j === 0));
    const many = createSumKernel(name);
    many.reserve(length);
    expect(many.addMany(0, sources.slice(0, 3) as Float32Array[], scales.slice(0, 3), true)).toEqual([-1, -1, -1]);
    expect(many.addMany(0, sources.slice(3) as Float32Array[], scales.slice(3), false)).toEqual([-1, -1, -1, -1, -1]);
    expect(bytesOf(many.view(0, length)).equals(bytesOf(one.view(0, length)))).toBe(true);
  });
});
