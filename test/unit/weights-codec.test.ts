/**
 * The weights codec (src/backend/weights.ts): binary frames and Sedna's JSON nested lists,
 * including the lists in the captured Python frames (test/fixtures/sedna/captures/fl-ws-frames.json).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  allocateWeightsFrame,
  isFramedInPlace,
  castWeightsLike,
  decodeWeightsFrame,
  encodeWeightsFrame,
  encodeWeightsFrameChunks,
  findNonFinite,
  inferNestedShape,
  isWeightsFrame,
  layoutOf,
  weightsFromNestedLists,
  weightsToNestedLists,
  type WeightRecord,
} from '../../src/backend/weights.js';
import { SHARED } from '../helpers/shared.js';

const capture = JSON.parse(fs.readFileSync(path.join(SHARED, 'captures/fl-ws-frames.json'), 'utf8')) as {
  frames: { client: string; dir: string; frame: string; parsed: { type: string; data?: { weights?: unknown } } }[];
};

const coded = (code: string): Error => expect.objectContaining({ code }) as Error;

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const ODD: WeightRecord[] = [
  { name: 'scalar', dtype: 'float32', shape: [], data: new Float32Array([1.5]) },
  { name: 'empty', dtype: 'float32', shape: [0], data: new Float32Array(0) },
  { name: 'empty2d', dtype: 'float64', shape: [2, 0], data: new Float64Array(0) },
  { name: 'ones', dtype: 'int32', shape: [1, 1, 1], data: new Int32Array([-7]) },
  { name: 'bytes', dtype: 'uint8', shape: [3], data: new Uint8Array([0, 128, 255]) },
  { name: 'big', dtype: 'int64', shape: [2], data: new BigInt64Array([-(2n ** 40n), 5n]) },
  { name: 'odd', dtype: 'float32', shape: [3, 5], data: Float32Array.from({ length: 15 }, (_, i) => i / 7) },
  { name: 'dbl', dtype: 'float64', shape: [2, 3], data: Float64Array.from([Math.PI, -0, 1e-300, 2, 3, 4]) },
  { name: 'ünïcödé/kernel', dtype: 'float32', shape: [1], data: new Float32Array([-0.25]) },
];

describe('binary weights frames', () => {
  it('round-trips every dtype and odd shape (scalars, empty tensors) with a meta object', () => {
    const frame = encodeWeightsFrame(ODD, { type: 'update_weight', data: { num_samples: 3 } });
    expect(isWeightsFrame(frame)).toBe(true);
    const { meta, weights } = decodeWeightsFrame(frame);
    expect(meta).toEqual({ type: 'update_weight', data: { num_samples: 3 } });
    expect(weights.map((w) => [w.name, w.dtype, w.shape])).toEqual(ODD.map((w) => [w.name, w.dtype, w.shape]));
    weights.forEach((w, i) => {
      expect(w.data.constructor).toBe(ODD[i]!.data.constructor);
      expect(Array.from(w.data as ArrayLike<number | bigint>)).toEqual(
        Array.from(ODD[i]!.data as ArrayLike<number | bigint>),
      );
    });
  });

  it('round-trips a frame with no tensors', () => {
    const { meta, weights } = decodeWeightsFrame(encodeWeightsFrame([], { a: 1 }));
    expect(meta).toEqual({ a: 1 });
    expect(weights).toEqual([]);
  });

  it('hands out views on an aligned buffer and copies from a misaligned one', () => {
    const frame = encodeWeightsFrame(ODD);
    const aligned = decodeWeightsFrame(frame).weights.find((w) => w.name === 'odd')!;
    expect(aligned.data.buffer).toBe(frame.buffer);
    // The same bytes one byte into a buffer: float views are impossible, so the decoder copies.
    const shifted = new Uint8Array(frame.length + 1);
    shifted.set(frame, 1);
    const misaligned = decodeWeightsFrame(shifted.subarray(1)).weights.find((w) => w.name === 'odd')!;
    expect(misaligned.data.buffer).not.toBe(shifted.buffer);
    expect(Array.from(misaligned.data as Float32Array)).toEqual(Array.from(ODD[6]!.data as Float32Array));
  });

  it('makes chunks whose concatenation is the frame, referencing large tensors without copying', () => {
    const large: WeightRecord = {
      name: 'l',
      dtype: 'float32',
      shape: [300_000],
      data: Float32Array.from({ length: 300_000 }, (_, i) => i),
    };
    const records = [...ODD, large, ODD[1]!];
    const chunks = encodeWeightsFrameChunks(records, { m: true }, { maxChunkBytes: 256 * 1024 });
    expect(Buffer.from(concat(chunks)).equals(Buffer.from(encodeWeightsFrame(records, { m: true })))).toBe(true);
    expect(chunks.some((c) => c.buffer === large.data.buffer)).toBe(true);
    expect(chunks.every((c) => c.length <= 256 * 1024 + 64 * 1024)).toBe(true);
  });

  it.each([
    ['too short', new Uint8Array(4)],
    [
      'bad magic',
      (() => {
        const f = encodeWeightsFrame(ODD);
        f[0] = 0x41;
        return f;
      })(),
    ],
    [
      'unknown version',
      (() => {
        const f = encodeWeightsFrame(ODD);
        f[4] = 9;
        return f;
      })(),
    ],
    [
      'header past the end',
      (() => {
        const f = encodeWeightsFrame(ODD);
        new DataView(f.buffer).setUint32(8, 1e6, true);
        return f;
      })(),
    ],
    ['truncated data', encodeWeightsFrame(ODD).subarray(0, encodeWeightsFrame(ODD).length - 4)],
  ])('rejects a malformed frame: %s', (_name, frame) => {
    expect(() => decodeWeightsFrame(frame)).toThrow(coded('SEDNA_ERR_PROTOCOL'));
  });

  it('rejects headers that lie about tensors (dtype, size, offset)', () => {
    const forge = (tensors: unknown[]): Uint8Array => {
      const header = new TextEncoder().encode(JSON.stringify({ meta: {}, tensors }));
      const frame = new Uint8Array(64 + header.length);
      frame.set([0x53, 0x44, 0x4e, 0x57, 1], 0);
      new DataView(frame.buffer).setUint32(8, header.length, true);
      frame.set(header, 12);
      return frame;
    };
    const start =
      Math.ceil(
        (12 +
          JSON.stringify({
            meta: {},
            tensors: [{ name: 'a', dtype: 'float32', shape: [2], offset: 1000, byteLength: 8 }],
          }).length) /
          8,
      ) * 8;
    for (const bad of [
      [{ name: 'a', dtype: 'complex64', shape: [2], offset: start, byteLength: 16 }],
      [{ name: 'a', dtype: 'float32', shape: [2], offset: start, byteLength: 12 }],
      [{ name: 'a', dtype: 'float32', shape: [2], offset: 4, byteLength: 8 }],
      [{ name: 'a', dtype: 'float32', shape: [2], offset: 1000, byteLength: 8 }],
      [{ name: 'a', dtype: 'float32', shape: [-2], offset: start, byteLength: 8 }],
      ['nope'],
    ]) {
      expect(() => decodeWeightsFrame(forge(bad))).toThrow(coded('SEDNA_ERR_PROTOCOL'));
    }
  });

  it('frames records laid out by allocateWeightsFrame in place, without copying their data', () => {
    const records = allocateWeightsFrame(ODD.map((r) => ({ name: r.name, dtype: r.dtype, shape: r.shape })));
    records.forEach((r, i) => (r.data as unknown as { set(source: unknown): void }).set(ODD[i]!.data));
    expect(isFramedInPlace(records)).toBe(true);
    const frame = encodeWeightsFrame(records, { type: 'recv_weight', round_number: 2 });
    expect(frame.buffer).toBe(records[0]!.data.buffer); // the same memory: no copy
    const { meta, weights } = decodeWeightsFrame(frame);
    expect(meta).toEqual({ type: 'recv_weight', round_number: 2 });
    weights.forEach((w, i) =>
      expect(Array.from(w.data as ArrayLike<number | bigint>)).toEqual(
        Array.from(ODD[i]!.data as ArrayLike<number | bigint>),
      ),
    );
    // A header too big for the room left in front falls back to a copy, still correct.
    const copied = encodeWeightsFrame(records, { note: 'x'.repeat(64 * 1024) });
    expect(copied.buffer).not.toBe(records[0]!.data.buffer);
    expect(decodeWeightsFrame(copied).weights).toHaveLength(ODD.length);
    expect(isFramedInPlace(records.slice(1))).toBe(false);
  });

  it('refuses records whose data does not match their dtype or shape', () => {
    const bad = { name: 'x', dtype: 'float32', shape: [3], data: new Float32Array(2) } as WeightRecord;
    expect(() => encodeWeightsFrame([bad])).toThrow(coded('SEDNA_ERR_WEIGHTS_MISMATCH'));
  });
});

describe("Sedna's JSON nested lists", () => {
  const updates = capture.frames.filter((f) => f.dir === 'client->server' && f.parsed.type === 'update_weight');
  const aggregates = capture.frames.filter((f) => f.dir === 'server->client' && f.parsed.type === 'recv_weight');

  it("reads the captured Python frames' weights and writes the same lists back", () => {
    expect(updates.length).toBeGreaterThan(0);
    for (const f of [...updates, ...aggregates]) {
      const lists = f.parsed.data!.weights;
      const records = weightsFromNestedLists(lists);
      expect(records.map((r) => r.shape)).toEqual([[2, 3], [3]]);
      expect(records.every((r) => r.dtype === 'float64')).toBe(true);
      // float64 keeps every JSON number exactly: the lists come back identical.
      expect(weightsToNestedLists(records)).toEqual(lists);
      expect(JSON.stringify(weightsToNestedLists(records))).toBe(JSON.stringify(lists));
    }
  });

  it('converts to a given layout (names, dtypes) and nests by shape', () => {
    const layout = layoutOf(ODD);
    const lists = weightsToNestedLists(ODD);
    expect(lists[0]).toBe(1.5);
    expect(lists[1]).toEqual([]);
    expect(lists[2]).toEqual([[], []]);
    expect(lists[3]).toEqual([[[-7]]]);
    expect(lists[5]).toEqual([-(2 ** 40), 5]);
    const back = weightsFromNestedLists(lists, layout);
    expect(back.map((r) => [r.name, r.dtype, r.shape])).toEqual(ODD.map((r) => [r.name, r.dtype, r.shape]));
    expect(Array.from(back[6]!.data as Float32Array)).toEqual(Array.from(ODD[6]!.data as Float32Array));
    expect(
      inferNestedShape([
        [1, 2, 3],
        [4, 5, 6],
      ]),
    ).toEqual([2, 3]);
    expect(inferNestedShape(4)).toEqual([]);
  });

  it.each([
    ['ragged rows', [[[1, 2], [3]]], 'SEDNA_ERR_WEIGHTS_MISMATCH'],
    ['a string', [['a', 1]], 'SEDNA_ERR_WEIGHTS_MISMATCH'],
    ['not a list of tensors', { w: [1] }, 'SEDNA_ERR_WEIGHTS_MISMATCH'],
    ['null (JSON.stringify of NaN)', [[1, null]], 'SEDNA_ERR_INVALID_UPDATE'],
    ['too deep', [[[1], 2]], 'SEDNA_ERR_WEIGHTS_MISMATCH'],
  ])('rejects %s', (_name, lists, code) => {
    expect(() => weightsFromNestedLists(lists)).toThrow(coded(code));
  });

  it('rejects lists of another shape than the layout', () => {
    expect(() => weightsFromNestedLists([[1, 2]], [{ name: 'w', dtype: 'float32', shape: [3] }])).toThrow(
      coded('SEDNA_ERR_WEIGHTS_MISMATCH'),
    );
  });

  it('casts weights to a layout and finds non-finite values', () => {
    const f64: WeightRecord[] = [
      { name: 'tensor_0', dtype: 'float64', shape: [2], data: new Float64Array([0.1, 2.6]) },
    ];
    const [asF32] = castWeightsLike(f64, [{ name: 'k', dtype: 'float32', shape: [2] }]);
    expect(asF32).toMatchObject({ name: 'k', dtype: 'float32' });
    expect(Array.from(asF32!.data as Float32Array)).toEqual([Math.fround(0.1), Math.fround(2.6)]);
    const [asInt] = castWeightsLike(f64, [{ name: 'k', dtype: 'int32', shape: [2] }]);
    expect(Array.from(asInt!.data as Int32Array)).toEqual([0, 3]);
    expect(() => castWeightsLike(f64, [{ name: 'k', dtype: 'float32', shape: [1, 2] }])).toThrow(
      coded('SEDNA_ERR_WEIGHTS_MISMATCH'),
    );
    expect(findNonFinite(ODD)).toBeUndefined();
    expect(
      findNonFinite([ODD[0]!, { name: 'n', dtype: 'float32', shape: [3], data: new Float32Array([0, 1, -Infinity]) }]),
    ).toEqual({ tensor: 1, index: 2 });
  });
});
